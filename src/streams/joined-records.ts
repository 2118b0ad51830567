// Two event logs joined by record id: the records (features and an id) and, in a second
// log, their labels ({id, label} rows) arriving later, merged into one stream in time
// order for `online(..., { joinLabels: true })` (online.ts): each record is predicted when
// it arrives and learned when the label naming its id arrives.
//
//   records lines --rows--> {time, id, features} --+
//                                                  +--merge by the time column--> OnlineItem
//   label lines   --rows--> {time, id, label}    --+   (ties: the record first)
//
// The rule a user with two event logs expects: both logs say when each event happened
// (the `time` column: a number, e.g. epoch milliseconds, or a date string Date.parse
// reads), and the learner sees the events in that order, as if it had been listening to
// both as they happened. Each log is read in its own order (a row earlier than the one
// before it is taken when reached, not reordered); at equal times the record comes
// before a label, so a label stamped with its record's own time finds it. A row without a
// usable time (or id) is a `rejected` item when it is reached. Only the two heads are
// held: memory is bounded whatever the length of the logs. Line numbers are the records
// file's; a label row's rejection names its file and line in the detail.

import * as E from 'fp-ts/lib/Either.js'
import { GradstreamError } from '../core/errors.ts'
import { parseCsvLine } from '../io/csv.ts'
import type { LineItem } from '../io/lines.ts'
import type { RecordFormat, Rejection, RejectReason } from '../io/records.ts'
import { checkColumnName, decodeObject, inferFeatures, LabelMap, lineRejection, MAX_DEPTH, nestedDeeper, numeric, show } from '../io/records.ts'
import { MAX_LINE_LENGTH } from '../io/lines.ts'
import type { OnlineExample, OnlineItem, OnlineLabel } from './online.ts'
import { textLines } from './record-source.ts'
import { decodePacked } from './log-source.ts'

export interface JoinedRecordOptions {
  /** The id column of both logs. */
  readonly id: string
  /** The time column of both logs. */
  readonly time: string
  /** The label (or a regressor's target) column of the labels log. */
  readonly label: string
  /** Feature columns of the records; default: the numeric columns of the first record but id, time and label. */
  readonly features?: readonly string[]
  /** A fixed class list (labels are its names or indices); default: names in order of first appearance. */
  readonly classes?: readonly string[]
  /** The label column is a regressor's numeric target. */
  readonly target?: boolean
  /** Formats of the two logs; default: sniffed from the first line ({ or [: NDJSON, else CSV with a header). */
  readonly format?: RecordFormat
  readonly labelsFormat?: RecordFormat
  /** The labels log's name, for rejection details (default "labels"). */
  readonly labelsName?: string
  /** At most this many records are read to find the feature columns (default 1000). */
  readonly lookahead?: number
  readonly maxLineLength?: number
}

export interface JoinedRecords {
  readonly features: readonly string[]
  /** Class names seen so far, by index. */
  classes(): readonly string[]
  /** Records (examples with an id, or rejections) and labels, merged in time order; iterate once. */
  readonly items: AsyncIterable<OnlineItem>
}

type Row = E.Either<Rejection, Record<string, unknown>>
interface Numbered {
  readonly line: number
  readonly row: Row
}

/** The rows of NDJSON or CSV lines as objects (CSV values stay strings), blank lines skipped. */
async function* rowsOf(lines: AsyncIterable<LineItem>, format: RecordFormat | undefined, max: number): AsyncGenerator<Numbered, void, undefined> {
  let n = 0
  let header: string[] | undefined
  let kind = format
  for await (const item of lines) {
    n++
    if (E.isLeft(item)) {
      const r = lineRejection(n, item.left, max)
      if (E.isLeft(r)) yield { line: n, row: E.left(r.left) }
      continue
    }
    const text = item.right
    if (text.trim() === '') continue
    kind ??= /^\s*[{[]/.test(text) ? 'ndjson' : 'csv'
    if (kind === 'ndjson') {
      let v: unknown
      try {
        v = JSON.parse(text)
      } catch (e) {
        yield { line: n, row: E.left({ line: n, reason: 'invalid json', detail: (e as Error).message }) }
        continue
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) yield { line: n, row: E.left({ line: n, reason: 'not an object', detail: 'expected a JSON object' }) }
      else if (nestedDeeper(v, MAX_DEPTH)) yield { line: n, row: E.left({ line: n, reason: 'too deeply nested', detail: `a value is nested more than ${MAX_DEPTH} levels deep` }) }
      else yield { line: n, row: E.right(v as Record<string, unknown>) }
      continue
    }
    const f = parseCsvLine(text)
    if (E.isLeft(f)) {
      if (header === undefined) throw new GradstreamError(`could not read the CSV header row: ${f.left}`)
      yield { line: n, row: E.left({ line: n, reason: 'invalid csv', detail: f.left }) }
      continue
    }
    if (header === undefined) {
      header = f.right.map((h) => h.trim())
      header.forEach(checkColumnName)
      continue
    }
    if (f.right.length !== header.length) {
      yield { line: n, row: E.left({ line: n, reason: 'wrong field count', detail: `expected ${header.length} fields, got ${f.right.length}` }) }
      continue
    }
    const o = Object.create(null) as Record<string, unknown>
    header.forEach((h, i) => (o[h] = f.right[i]))
    yield { line: n, row: E.right(o) }
  }
}

/** A time value as a number: a number (or numeric string), or a date string Date.parse reads. */
const timeOf = (raw: unknown): E.Either<[RejectReason, string], number> => {
  if (raw === undefined || raw === null || raw === '') return E.left(['missing field', 'no time'])
  const n = numeric(raw)
  if (E.isRight(n)) return E.right(n.right)
  const d = typeof raw === 'string' ? Date.parse(raw) : NaN
  return Number.isFinite(d) ? E.right(d) : E.left(['invalid time', `time ${show(raw)} is not a number or a date`])
}

/** An id as the string both logs compare (a JSON number 17 and a CSV "17" are the same id). */
const idOf = (raw: unknown): string | undefined => (typeof raw === 'string' && raw !== '' ? raw : typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : undefined)

/**
 * The id column read where decodeObject reads a label: any present value passes and its
 * class is unused (a joined record's label comes from the labels log; online.ts ignores it).
 */
class IdSlot extends LabelMap {
  constructor() {
    super(undefined)
  }
  override lookup(raw: unknown): E.Either<RejectReason, number> {
    return idOf(raw) === undefined ? E.left('missing field') : E.right(0)
  }
}

const slot = new IdSlot()

/**
 * A record of a joined log: its features (decoded as any record's) and its id (a string);
 * its label, if it has one, is not read. Shared with log runs joined with a label stream.
 */
export const joinRecordOf = (row: Record<string, unknown>, features: readonly string[], id: string, line: number): E.Either<Rejection, OnlineExample> => {
  const ex = decodeObject(row, { features, label: id }, slot, line)
  if (E.isLeft(ex)) return ex.left.detail.startsWith(`label "${id}"`) ? E.left({ line, reason: 'missing field', detail: `no id field "${id}"` }) : ex
  return E.right({ features: ex.right.features, id: idOf(Object.hasOwn(row, id) ? row[id] : undefined) as string, line })
}

/**
 * A packed record of a joined log (the `f32` field at `at` of its flat field/value pairs,
 * log-source.ts): its features decoded as any packed entry's, and its id field (a string);
 * a label field, if any, is not read. The same example as the record written as JSON.
 */
export const joinPackedRecordOf = (fields: readonly string[], at: number, features: readonly string[], id: string, line: number): E.Either<Rejection, OnlineExample> => {
  let raw: string | undefined
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === id) raw = fields[i + 1]
  const forId = idOf(raw)
  if (forId === undefined) return E.left({ line, reason: 'missing field', detail: `no id field "${id}"` })
  const ex = decodePacked(fields, at, { features, label: id }, slot, line)
  return E.isLeft(ex) ? ex : E.right({ features: ex.right.features, id: forId, line })
}

/** A label row: the id it names and its class (through `classes`) or a regressor's target. */
export const joinLabelOf = (
  row: Record<string, unknown>,
  columns: { readonly id: string; readonly label: string; readonly target: boolean },
  classes: LabelMap,
  line: number,
): E.Either<Rejection, OnlineLabel> => {
  const get = (k: string): unknown => (Object.hasOwn(row, k) ? row[k] : undefined)
  const forId = idOf(get(columns.id))
  if (forId === undefined) return E.left({ line, reason: 'missing field', detail: `no id field "${columns.id}"` })
  const raw = get(columns.label)
  if (columns.target) {
    const v = numeric(raw)
    if (E.isLeft(v)) return E.left({ line, reason: raw === undefined ? 'missing label' : 'invalid label', detail: `target "${columns.label}" is ${show(raw)}` })
    return E.right({ labelFor: forId, target: v.right, line })
  }
  const c = classes.lookup(raw)
  if (E.isLeft(c)) return E.left({ line, reason: c.left, detail: `label "${columns.label}" is ${show(raw)}` })
  return E.right({ labelFor: forId, label: c.right, line })
}

/** Records and labels of two logs (chunks of text: files, sockets), joined as the top of this file says. */
export const joinedRecords = async (
  records: AsyncIterable<string | Uint8Array>,
  labels: AsyncIterable<string | Uint8Array>,
  options: JoinedRecordOptions,
): Promise<JoinedRecords> => {
  const { id, time, label } = options
  for (const c of [id, time, label, ...(options.features ?? [])]) checkColumnName(c)
  if (new Set([id, time, label]).size !== 3) throw new GradstreamError(`records: expected the id, time and label columns to differ, got "${id}", "${time}", "${label}"`)
  if (options.features?.some((f) => f === id || f === time || f === label))
    throw new GradstreamError('records: the id, time and label columns cannot be features')
  const max = options.maxLineLength ?? MAX_LINE_LENGTH
  const lookahead = options.lookahead ?? 1000
  const recordRows = rowsOf(textLines(records, max), options.format, max)
  const labelRows = rowsOf(textLines(labels, max), options.labelsFormat, max)
  // The features: named, or the numeric columns of the first usable record.
  const ahead: Numbered[] = []
  let features = options.features === undefined ? undefined : [...options.features]
  while (features === undefined && ahead.length < lookahead) {
    const r = await recordRows.next()
    if (r.done === true) break
    ahead.push(r.value)
    const row = r.value.row
    if (E.isRight(row)) {
      const f = inferFeatures(Object.keys(row.right), row.right, label).filter((c) => c !== id && c !== time)
      if (f.length > 0) features = f
    }
  }
  if (features === undefined) {
    await recordRows.return(undefined)
    await labelRows.return(undefined)
    throw new GradstreamError(`records: expected a record with a numeric feature besides "${id}" and "${time}" within ${lookahead} rows`)
  }
  // Digit strings (CSV text) are class indices, as JSON numbers are.
  const classMap = new LabelMap(options.classes, true)
  const labelsName = options.labelsName ?? 'labels'

  type Timed = { readonly at: number; readonly item: OnlineItem }
  const record = ({ line, row }: Numbered): Timed => {
    if (E.isLeft(row)) return { at: -Infinity, item: row }
    const t = timeOf(row.right[time])
    if (E.isLeft(t)) return { at: -Infinity, item: E.left({ line, reason: t.left[0], detail: `field "${time}": ${t.left[1]}` }) }
    const ex = joinRecordOf(row.right, features, id, line)
    return { at: E.isLeft(ex) ? -Infinity : t.right, item: ex }
  }
  const labelOf = ({ line, row }: Numbered): Timed => {
    const where = `${labelsName} line ${line}`
    const bad = (reason: RejectReason, detail: string): Timed => ({ at: -Infinity, item: E.left({ line, reason, detail: `${where}: ${detail}` }) })
    if (E.isLeft(row)) return bad(row.left.reason, row.left.detail)
    const t = timeOf(row.right[time])
    if (E.isLeft(t)) return bad(t.left[0], `field "${time}": ${t.left[1]}`)
    const l = joinLabelOf(row.right, { id, label, target: options.target === true }, classMap, line)
    // Its line is the labels file's, and events name the records file: left out.
    return E.isLeft(l) ? bad(l.left.reason, l.left.detail) : { at: t.right, item: { ...l.right, line: undefined } }
  }

  async function* items(): AsyncGenerator<OnlineItem, void, undefined> {
    const recordIt = (async function* () {
      yield* ahead
      yield* recordRows
    })()
    let r: Timed | undefined
    let l: Timed | undefined
    let recordsDone = false
    let labelsDone = false
    try {
      for (;;) {
        if (r === undefined && !recordsDone) {
          const n = await recordIt.next()
          if (n.done === true) recordsDone = true
          else r = record(n.value)
        }
        if (l === undefined && !labelsDone) {
          const n = await labelRows.next()
          if (n.done === true) labelsDone = true
          else l = labelOf(n.value)
        }
        if (r === undefined && l === undefined) return
        if (r !== undefined && (l === undefined || r.at <= l.at)) {
          yield r.item
          r = undefined
        } else if (l !== undefined) {
          yield l.item
          l = undefined
        }
      }
    } finally {
      await recordIt.return(undefined)
      await labelRows.return(undefined)
    }
  }
  return { features, classes: () => [...classMap.classes], items: items() }
}
