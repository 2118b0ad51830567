// Record sources for online learning, pulled with backpressure.
//
//   Node Readable / async iterable of text chunks --textLines--> lines
//   lines (NDJSON or CSV with a header row)     --recordsFromLines--> Either<Rejection, Example>
//   arrays / (async) iterables of objects       --recordsFromObjects--> Either<Rejection, Example>
//   any iterable or async iterable              --pulled--> Observable, one item per pull
//
// Backpressure. Nothing here reads ahead on its own: a line is split off only when the
// consumer asks for the next record, and the next chunk is read from the stream only
// when its lines are used up. A Readable's async iterator reads only when asked, so the
// stream fills its buffer to its highWaterMark and then stops calling the producer (it
// is paused); records in flight are at most one chunk's lines plus the stream's buffer.
// The one bounded exception: when the feature columns are not named, up to `lookahead`
// lines are read first to find them (the first usable record decides).
//
// Decoding is explicit (io/records.ts): named feature columns (or every numeric column
// of the first usable record but the label) and a label column. A record that is not
// valid JSON or CSV, lacks a field, has a non-numeric or non-finite feature, or a label
// outside the classes is a Left with its line number and reason; it is counted and
// reported downstream and never reaches a parameter. Records are read with own-property
// checks (Object.hasOwn) and labels live in a Map, so `__proto__` or `constructor` keys
// in the data reach nothing.
//
// Labels. JSON numbers are class indices; strings are class names, mapped to indices in
// order of first appearance (or by position in a fixed `classes` list). In CSV, where
// every field is text, a label column whose first label is a run of digits is read as
// class indices. Without a fixed list the first label fixes the kind: a later label of
// the other kind is rejected ('invalid label') rather than aliased to an index. With
// `numClasses`, labels that would need more classes are rejected ('too many classes').

import * as E from 'fp-ts/lib/Either.js'
import { Observable } from 'rxjs'
import { GradstreamError } from '../core/errors.ts'
import { parseCsvLine } from '../io/csv.ts'
import type { ColumnOptions, CsvLayout, Example, RecordFormat, Rejection, RejectReason, Schema } from '../io/records.ts'
import { NumericTargets } from './numeric-targets.ts'
import { LabelMap, checkColumnName, csvLayout, decodeCsvLine, decodeJsonLine, decodeObject, inferFeatures, lineRejection, someNames } from '../io/records.ts'
import type { LineItem } from '../io/lines.ts'
import { LineSplitter, MAX_LINE_LENGTH } from '../io/lines.ts'
import { YIELD_MS } from './source.ts'
import { yieldToEventLoop } from './yield.ts'

// ---- pulling ------------------------------------------------------------------------

/**
 * An iterable or async iterable as a cold Observable that asks for the next item only
 * after the previous one has been handled downstream (synchronously: an operator that
 * defers work, like concatMap, buffers on its own). Every YIELD_MS of work it yields to
 * the event loop, so I/O, timers and unsubscription are served. Unsubscribing stops the
 * pull and closes the source's iterator (a Readable is destroyed).
 */
export const pulled = <T>(source: Iterable<T> | AsyncIterable<T>): Observable<T> =>
  new Observable<T>((subscriber) => {
    let stopped = false
    const run = async (): Promise<void> => {
      // Start after subscribe has returned, so that an unsubscription during the first
      // items (take(n)) reaches the teardown below and stops the loop.
      await Promise.resolve()
      if (stopped || subscriber.closed) return
      const iter: Iterator<T> | AsyncIterator<T> =
        Symbol.asyncIterator in source
          ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
          : (source as Iterable<T>)[Symbol.iterator]()
      const sync = !(Symbol.asyncIterator in source)
      let last = performance.now()
      let done = false
      try {
        while (!stopped && !subscriber.closed) {
          const r = sync ? (iter as Iterator<T>).next() : await iter.next()
          if (r.done) {
            done = true
            break
          }
          if (stopped || subscriber.closed) break
          subscriber.next(r.value)
          const now = performance.now()
          if (now - last >= YIELD_MS) {
            await yieldToEventLoop()
            last = performance.now()
          }
        }
      } finally {
        if (!done) await iter.return?.()
      }
      if (!stopped && !subscriber.closed) subscriber.complete()
    }
    run().catch((err: unknown) => {
      if (!stopped) subscriber.error(err)
    })
    return () => {
      stopped = true
    }
  })

// ---- lines --------------------------------------------------------------------------

export type { LineItem } from '../io/lines.ts'
export { MAX_LINE_LENGTH } from '../io/lines.ts'

/**
 * The lines of a stream of text chunks (a Node Readable, or any async iterable of
 * strings or bytes), split by io/lines.ts: \n or \r\n breaks, a line longer than
 * `maxLineLength` bytes dropped as it arrives (Left(length) stands in for it, so one
 * endless line cannot exhaust memory), a line that is not valid UTF-8 Left('invalid utf-8').
 */
export async function* textLines(
  chunks: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  maxLineLength = MAX_LINE_LENGTH,
): AsyncGenerator<LineItem, void, undefined> {
  const splitter = new LineSplitter(maxLineLength)
  const ready: LineItem[] = []
  const emit = (l: LineItem): void => void ready.push(l)
  for await (const chunk of chunks as AsyncIterable<string | Uint8Array>) {
    splitter.push(chunk, emit)
    if (ready.length > 0) {
      // Copied out first: the consumer may pull lazily while the next chunk is split.
      const lines = ready.splice(0)
      yield* lines
    }
  }
  splitter.end(emit)
  yield* ready
}

// ---- labels -------------------------------------------------------------------------

/**
 * Labels of a stream: a LabelMap whose kind (class indices or class names) is fixed by
 * the first label, with a cap on the number of classes. It delegates to an inner
 * LabelMap made for that kind, so digit strings are indices in index mode and names in
 * name mode.
 */
class StreamLabels extends LabelMap {
  private inner: LabelMap | undefined
  constructor(
    fixed: readonly string[] | undefined,
    /** Whether a first label of digits (CSV text) starts index mode. */
    private readonly digitStrings: boolean,
    private readonly capacity: number | undefined,
  ) {
    super(fixed)
    if (fixed !== undefined) this.inner = new LabelMap(fixed)
  }
  override get classes(): readonly string[] {
    return this.inner?.classes ?? []
  }
  override get count(): number {
    return this.inner?.count ?? 0
  }
  override lookup(raw: unknown): E.Either<RejectReason, number> {
    if (this.fixed !== undefined || raw === undefined || raw === null || raw === '') return (this.inner ?? new LabelMap(undefined)).lookup(raw)
    const digits = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw)
    if (this.inner === undefined) this.inner = new LabelMap(undefined, typeof raw === 'number' || (this.digitStrings && digits))
    const indices = this.inner.integerLabels
    // In name mode a JSON number would be read as an index by LabelMap: refuse it.
    if (!indices && typeof raw === 'number') return E.left('invalid label')
    if (indices && typeof raw !== 'number' && !digits) return E.left('invalid label')
    if (this.capacity !== undefined) {
      if (indices) {
        const n = Number(raw)
        if (Number.isInteger(n) && n >= this.capacity) return E.left('too many classes')
      } else if (typeof raw === 'string' || typeof raw === 'boolean') {
        const name = String(raw)
        const known = this.inner.classes
        if (known.length >= this.capacity && !known.includes(name)) return E.left('too many classes')
      }
    }
    return this.inner.lookup(raw)
  }
}

// ---- records ------------------------------------------------------------------------

export type { RecordFormat } from '../io/records.ts'

/**
 * ColumnOptions, plus: features default to the numeric columns of the first usable
 * record; `format` defaults to sniffing the first line (a header row first for CSV).
 */
export interface RecordOptions extends ColumnOptions {
  /** The label column holds a regressor's numeric target, not a class (numeric-targets.ts). */
  readonly target?: boolean
  /** Without a fixed list: at most this many classes ('too many classes' beyond). */
  readonly numClasses?: number
  /** Lines longer than this are rejected ('line too long') without being kept. */
  readonly maxLineLength?: number
  /** At most this many records are read to find the feature columns (default 1000). */
  readonly lookahead?: number
}

export interface RecordStream {
  readonly format: RecordFormat | 'objects'
  readonly label: string
  readonly features: readonly string[]
  /** The number of classes a model needs: the fixed list's length, or numClasses. */
  readonly classCount?: number
  /** Class names seen so far, by index (grows as names appear unless fixed). */
  classes(): readonly string[]
  /** The decoded records, in order; iterate once. */
  readonly records: AsyncIterable<E.Either<Rejection, Example>>
}

const checkOptions = (o: RecordOptions): void => {
  checkColumnName(o.label)
  o.features?.forEach(checkColumnName)
  if (o.features !== undefined && o.features.length === 0)
    throw new GradstreamError('records: expected at least one feature column, got an empty list')
  if (o.features?.includes(o.label)) throw new GradstreamError(`records: the label "${o.label}" cannot also be a feature`)
  if (o.numClasses !== undefined && !(Number.isInteger(o.numClasses) && o.numClasses >= 1))
    throw new GradstreamError(`records: expected numClasses to be a positive integer, got ${o.numClasses}`)
  if (o.classes !== undefined) {
    if (o.classes.length === 0) throw new GradstreamError('records: expected a non-empty class list')
    if (new Set(o.classes).size !== o.classes.length) throw new GradstreamError('records: expected distinct class names')
  }
}

const classCountOf = (o: RecordOptions): number | undefined => o.classes?.length ?? o.numClasses

/** Wraps an iterator so that items already read come first. */
async function* replay<T>(ahead: readonly T[], rest: AsyncIterator<T>): AsyncGenerator<T, void, undefined> {
  let finished = false
  try {
    for (const a of ahead) yield a
    for (;;) {
      const r = await rest.next()
      if (r.done) {
        finished = true
        return
      }
      yield r.value
    }
  } finally {
    if (!finished) await rest.return?.()
  }
}

const asyncIter = <T>(src: Iterable<T> | AsyncIterable<T>): AsyncIterator<T> => {
  if (Symbol.asyncIterator in src) return (src as AsyncIterable<T>)[Symbol.asyncIterator]()
  const it = (src as Iterable<T>)[Symbol.iterator]()
  return {
    next: async () => it.next(),
    return: async () => it.return?.() ?? { done: true, value: undefined },
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Records from lines of NDJSON or CSV (a header row names the columns). Resolves once
 * the feature columns are known (at once when they are named; otherwise after the first
 * usable record, reading at most `lookahead` lines); fails with a GradstreamError for a
 * missing header or label column. Line numbers count every line, blank ones included.
 */
export const recordsFromLines = async (
  lines: Iterable<string | LineItem> | AsyncIterable<string | LineItem>,
  options: RecordOptions,
): Promise<RecordStream> => {
  checkOptions(options)
  const max = options.maxLineLength ?? MAX_LINE_LENGTH
  const lookahead = options.lookahead ?? 1000
  const it = asyncIter<string | LineItem>(lines)
  const ahead: LineItem[] = []
  const asItem = (v: string | LineItem): LineItem =>
    typeof v === 'string' ? (v.length > max ? E.left(v.length) : E.right(v)) : v
  /** The next line read ahead (kept for replay), or undefined at the end. */
  const peek = async (): Promise<LineItem | undefined> => {
    const r = await it.next()
    if (r.done) return undefined
    const item = asItem(r.value)
    ahead.push(item)
    return item
  }
  const fail = async (msg: string): Promise<never> => {
    await it.return?.()
    throw new GradstreamError(msg)
  }
  const label = options.label
  // The first non-empty line: the CSV header, or the first NDJSON record.
  let first: LineItem | undefined
  do first = await peek()
  while (first !== undefined && E.isRight(first) && first.right.trim() === '')
  const format: RecordFormat =
    options.format ?? (first !== undefined && E.isRight(first) && /^\s*[{[]/.test(first.right) ? 'ndjson' : 'csv')
  let features = options.features !== undefined ? [...options.features] : undefined
  let layout: CsvLayout | undefined
  const headerLine = ahead.length // 1-based line number of the header (CSV)
  if (format === 'csv') {
    if (first === undefined) return fail('records: expected a CSV header row, got no lines')
    if (E.isLeft(first))
      return fail(
        first.left === 'invalid utf-8' ? 'records: the CSV header row is not valid UTF-8 text' : `records: the CSV header row is longer than ${max} bytes`,
      )
    const header = parseCsvLine(first.right)
    if (E.isLeft(header)) return fail(`records: could not read the CSV header row: ${header.left}`)
    const cols = header.right.map((h) => h.trim())
    if (!cols.includes(label)) return fail(`records: expected a label column named "${label}", got columns ${someNames(cols)}`)
    while (features === undefined && ahead.length - headerLine < lookahead) {
      const l = await peek()
      if (l === undefined) break
      if (E.isLeft(l) || l.right.trim() === '') continue
      const f = parseCsvLine(l.right)
      if (E.isRight(f) && f.right.length === cols.length && f.right[cols.indexOf(label)].trim() !== '')
        features = inferFeatures(cols, f.right, label)
    }
    if (features === undefined)
      return fail(`records: expected a usable data row within ${lookahead} lines after the header to find the feature columns`)
    try {
      layout = csvLayout(cols, { features, label })
    } catch (e) {
      return fail((e as Error).message)
    }
  } else {
    // The first record with the label field names the features (its numeric fields).
    let l = first
    while (features === undefined && l !== undefined) {
      if (E.isRight(l) && l.right.trim() !== '') {
        try {
          const obj: unknown = JSON.parse(l.right)
          if (isRecord(obj) && Object.hasOwn(obj, label)) features = inferFeatures(Object.keys(obj), obj, label)
        } catch {
          // Reported as 'invalid json' when the records are read.
        }
      }
      if (features !== undefined || ahead.length >= lookahead) break
      l = await peek()
    }
    if (features === undefined)
      return fail(
        first === undefined && options.features === undefined
          ? `records: expected NDJSON records with a label field "${label}", got no lines`
          : `records: expected a JSON record with a label field "${label}" within ${lookahead} lines to find the feature columns`,
      )
  }
  if (features.length === 0) return fail(`records: expected at least one numeric feature besides "${label}", found none`)
  const labels = options.target === true ? new NumericTargets() : new StreamLabels(options.classes, format === 'csv' && options.classes === undefined, options.numClasses)
  const schema: Schema = { features, label }
  const csv = layout
  async function* decode(): AsyncGenerator<E.Either<Rejection, Example>, void, undefined> {
    let n = 0
    for await (const raw of replay<string | LineItem>(ahead, it)) {
      n++
      const item = asItem(raw)
      if (csv !== undefined && n <= headerLine) continue // blank lines before, and the header
      if (E.isLeft(item)) {
        yield lineRejection(n, item.left, max)
        continue
      }
      const text = item.right
      if (text.trim() === '') continue
      yield csv !== undefined ? decodeCsvLine(text, csv, labels, n) : decodeJsonLine(text, schema, labels, n)
    }
  }
  return {
    format,
    label,
    features,
    classCount: classCountOf(options),
    classes: () => [...labels.classes],
    records: decode(),
  }
}

/** Records from a Node Readable (or any async iterable of text or byte chunks). */
export const recordsFromReadable = (
  readable: AsyncIterable<string | Uint8Array>,
  options: RecordOptions,
): Promise<RecordStream> => recordsFromLines(textLines(readable, options.maxLineLength), options)

/**
 * Records from JSON-like objects: an array, or any (async) iterable. A record's "line"
 * is its 1-based position. Features are named or taken from the first object with the
 * label (reading at most `lookahead` objects ahead).
 */
export const recordsFromObjects = async (
  objects: Iterable<unknown> | AsyncIterable<unknown>,
  options: RecordOptions,
): Promise<RecordStream> => {
  checkOptions(options)
  const lookahead = options.lookahead ?? 1000
  const it = asyncIter<unknown>(objects)
  const ahead: unknown[] = []
  let features = options.features !== undefined ? [...options.features] : undefined
  while (features === undefined && ahead.length < lookahead) {
    const r = await it.next()
    if (r.done) break
    ahead.push(r.value)
    if (isRecord(r.value) && Object.hasOwn(r.value, options.label))
      features = inferFeatures(Object.keys(r.value), r.value, options.label)
  }
  if (features === undefined || features.length === 0) {
    await it.return?.()
    throw new GradstreamError(
      features === undefined
        ? `records: expected an object with a label field "${options.label}" within ${lookahead} records`
        : `records: expected at least one numeric feature besides "${options.label}", found none`,
    )
  }
  const labels = new StreamLabels(options.classes, false, options.numClasses)
  const schema: Schema = { features, label: options.label }
  async function* decode(): AsyncGenerator<E.Either<Rejection, Example>, void, undefined> {
    let n = 0
    for await (const obj of replay(ahead, it)) yield decodeObject(obj, schema, labels, ++n)
  }
  return {
    format: 'objects',
    label: options.label,
    features,
    classCount: classCountOf(options),
    classes: () => [...labels.classes],
    records: decode(),
  }
}
