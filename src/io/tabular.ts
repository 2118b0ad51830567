// Tabular data sets from CSV (header row) or NDJSON files: numeric feature columns and a
// label column (strings mapped to classes in order of first appearance), split into
// train and test by a seeded shuffle, features standardised with the train set's mean
// and standard deviation. Bad rows are collected with their line numbers and reasons
// and never used; the caller decides whether any bad row is fatal (the CLI reports them).
//
// Reading is streamed (io/lines.ts): the file is read in 64 KB chunks, a line longer
// than `maxLineLength` bytes is dropped as it arrives and rejected ('line too long'),
// a line that is not valid UTF-8 is rejected ('invalid utf-8'). Memory is the decoded
// examples plus one chunk and one line, not the file.
//
// Column types come from the whole file, not its first row (issue 12: a NaN in the first
// row used to drop its column): unless the features are named, a first pass counts, per
// column, the values written as numbers (NaN and Infinity included) and the others, and
// every column but the label that is mostly numbers is a feature. A second pass decodes;
// a row with a non-finite, missing or non-numeric value in a feature is rejected with its
// line number wherever it is.

import * as E from 'fp-ts/lib/Either.js'
import { GradstreamError } from '../core/errors.ts'
import { key, permutation } from '../core/rng.ts'
import type { Dataset } from '../core/data.ts'
import { parseCsvLine } from './csv.ts'
import { fitScaling, scaleInPlace } from './standardize.ts'
import type { LineItem } from './lines.ts'
import { fileLines } from './file-lines.ts'
import { MAX_LINE_LENGTH } from './lines.ts'
import type { ColumnOptions, Example, RecordFormat, Rejection, Schema } from './records.ts'
import { ColumnTypes, LabelMap, checkColumnName, csvLayout, decodeCsvLine, decodeJsonLine, lineRejection, someNames } from './records.ts'

export type TabularFormat = RecordFormat

export interface TabularOptions extends ColumnOptions {
  /** Fraction held out for testing (default 0.2). */
  readonly testFraction?: number
  /** Seed of the split (default 0). */
  readonly seed?: number
  /** Standardise features (default true). */
  readonly standardize?: boolean
  /** Lines longer than this many bytes are rejected without being kept (default 4 MiB). */
  readonly maxLineLength?: number
}

export interface TabularData {
  readonly train: Dataset
  readonly test: Dataset
  readonly features: readonly string[]
  readonly classes: readonly string[]
  readonly rejected: readonly Rejection[]
  /** Data rows in the file (usable and rejected; blank lines and the header not counted). */
  readonly rows: number
  /** Mean and standard deviation per feature (from the train split), when standardised. */
  readonly scaling?: { readonly mean: Float64Array; readonly std: Float64Array }
}

export const formatOf = (path: string): TabularFormat | undefined =>
  /\.csv$/i.test(path) ? 'csv' : /\.(nd)?jsonl?$/i.test(path) ? 'ndjson' : undefined

export interface Decoded {
  readonly examples: Example[]
  readonly rejected: Rejection[]
  readonly features: string[]
  readonly classes: readonly string[]
  readonly classCount: number
  /** Data rows seen (usable and rejected). */
  readonly rows: number
}

const isBlank = (l: LineItem): boolean => E.isRight(l) && l.right.trim() === ''

/**
 * Decodes the lines of a CSV or NDJSON text; `lines` is called once per pass (twice when
 * the feature columns are not named, see the header).
 */
export const decodeLines = (
  lines: () => Iterable<LineItem>,
  format: TabularFormat,
  options: Pick<TabularOptions, 'label' | 'features' | 'classes' | 'maxLineLength'>,
): Decoded => {
  checkColumnName(options.label)
  options.features?.forEach(checkColumnName)
  const max = options.maxLineLength ?? MAX_LINE_LENGTH
  const labels = new LabelMap(options.classes)
  const examples: Example[] = []
  const rejected: Rejection[] = []
  let rows = 0
  const push = (r: E.Either<Rejection, Example>): void => {
    rows++
    if (E.isLeft(r)) rejected.push(r.left)
    else examples.push(r.right)
  }
  let features: string[]
  if (format === 'csv') {
    // The header: the first non-blank line.
    let headerLine = 0
    let header: LineItem | undefined
    for (const l of lines()) {
      headerLine++
      if (!isBlank(l)) {
        header = l
        break
      }
    }
    if (header === undefined) throw new GradstreamError('tabular: expected a header row, got an empty file')
    if (E.isLeft(header))
      throw new GradstreamError(
        header.left === 'invalid utf-8' ? 'tabular: the header row is not valid UTF-8 text' : `tabular: the header row is longer than ${max} bytes`,
      )
    const parsed = parseCsvLine(header.right)
    if (E.isLeft(parsed)) throw new GradstreamError(`tabular: could not read the header row: ${parsed.left}`)
    const cols = parsed.right.map((h) => h.trim())
    if (!cols.includes(options.label))
      throw new GradstreamError(`tabular: expected a label column named "${options.label}", got columns ${someNames(cols)}`)
    if (options.features !== undefined) features = [...options.features]
    else {
      const types = new ColumnTypes()
      let n = 0
      for (const l of lines()) {
        if (++n <= headerLine || E.isLeft(l) || l.right.trim() === '') continue
        const f = parseCsvLine(l.right)
        if (E.isLeft(f) || f.right.length !== cols.length) continue
        cols.forEach((c, i) => types.add(c, f.right[i]))
      }
      features = types.numeric(options.label)
    }
    const layout = csvLayout(cols, { features, label: options.label })
    let n = 0
    for (const l of lines()) {
      if (++n <= headerLine || isBlank(l)) continue
      push(E.isLeft(l) ? lineRejection(n, l.left, max) : decodeCsvLine(l.right, layout, labels, n))
    }
  } else {
    if (options.features !== undefined) features = [...options.features]
    else {
      const types = new ColumnTypes()
      let labelled = 0
      for (const l of lines()) {
        if (E.isLeft(l) || l.right.trim() === '') continue
        let obj: unknown
        try {
          obj = JSON.parse(l.right)
        } catch {
          continue // reported as 'invalid json' by the second pass
        }
        if (typeof obj !== 'object' || obj === null || Array.isArray(obj) || !Object.hasOwn(obj, options.label)) continue
        labelled++
        for (const [k, v] of Object.entries(obj)) types.add(k, v)
      }
      if (labelled === 0) throw new GradstreamError(`tabular: expected records with a label field "${options.label}", found none`)
      features = types.numeric(options.label)
    }
    const schema: Schema = { features, label: options.label }
    let n = 0
    for (const l of lines()) {
      n++
      if (isBlank(l)) continue
      push(E.isLeft(l) ? lineRejection(n, l.left, max) : decodeJsonLine(l.right, schema, labels, n))
    }
  }
  if (rows === 0) throw new GradstreamError('tabular: the file has no data rows')
  if (features.length === 0)
    throw new GradstreamError(`tabular: expected at least one numeric feature column besides "${options.label}", found none`)
  return { examples, rejected, features, classes: labels.classes, classCount: labels.count, rows }
}

/** Decodes every line of a CSV or NDJSON text (held in memory; files are read by loadTabular). */
export const decodeText = (text: string, format: TabularFormat, options: Pick<TabularOptions, 'label' | 'features' | 'classes'>): Decoded => {
  const lines = text.split('\n').map((l): LineItem => E.right(l.endsWith('\r') ? l.slice(0, -1) : l))
  return decodeLines(() => lines, format, options)
}

const toDataset = (examples: readonly Example[], F: number, C: number): Dataset => {
  const x = new Float32Array(examples.length * F)
  examples.forEach((e, i) => x.set(e.features, i * F))
  return { x: { shape: [examples.length, F], data: x }, labels: Int32Array.from(examples, (e) => e.label), classes: C }
}

/** Reads a CSV or NDJSON file (streamed, see the header) into a standardised train/test split. */
export const loadTabular = (path: string, options: TabularOptions): TabularData => {
  const format = options.format ?? formatOf(path)
  if (format === undefined)
    throw new GradstreamError(`tabular: expected a .csv, .ndjson or .jsonl file (or a format), got ${path}`)
  const testFraction = options.testFraction ?? 0.2
  if (!(testFraction >= 0 && testFraction < 1))
    throw new GradstreamError(`tabular: expected a test fraction in [0, 1), got ${testFraction}`)
  const max = options.maxLineLength ?? MAX_LINE_LENGTH
  let decoded: Decoded
  try {
    decoded = decodeLines(() => fileLines(path, max), format, options)
  } catch (e) {
    // Name the file in every message (decodeLines does not know it).
    if (e instanceof GradstreamError && e.message.startsWith('tabular: ') && !e.message.includes(path))
      throw new GradstreamError(`tabular: ${path}: ${e.message.slice('tabular: '.length)}`)
    if (e instanceof GradstreamError) throw new GradstreamError(`tabular: ${e.message}`)
    throw e
  }
  const { examples, rejected, features, classes, classCount, rows } = decoded
  if (examples.length < 2) {
    const first = rejected[0]
    throw new GradstreamError(
      `tabular: expected at least 2 usable rows in ${path}, got ${examples.length} of ${rows}` +
        (first !== undefined ? ` (${rejected.length} rejected; the first, line ${first.line}: ${first.reason}, ${first.detail})` : ''),
    )
  }
  const order = permutation(key(options.seed ?? 0), examples.length)
  const nTest = Math.round(examples.length * testFraction)
  const test = Array.from(order.subarray(0, nTest), (i) => examples[i])
  const train = Array.from(order.subarray(nTest), (i) => examples[i])
  const F = features.length
  const C = Math.max(classCount, 1)
  const trainSet = toDataset(train, F, C)
  const testSet = toDataset(test, F, C)
  if (options.standardize === false) return { train: trainSet, test: testSet, features, classes, rejected, rows }
  const fitted = fitScaling(trainSet.x, 'standard')
  for (const ds of [trainSet, testSet]) scaleInPlace(ds.x, fitted)
  const scaling = { mean: Float64Array.from(fitted.offset), std: Float64Array.from(fitted.scale) }
  return { train: trainSet, test: testSet, features, classes, rejected, rows, scaling }
}
