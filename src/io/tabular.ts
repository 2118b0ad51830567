// Tabular data sets from CSV (header row) or NDJSON files: numeric feature columns and a
// label column (strings mapped to classes in order of first appearance), split into
// train and test by a seeded shuffle, features standardised with the train set's mean
// and standard deviation. Bad rows are collected with their line numbers and reasons
// and never used; the caller decides whether any bad row is fatal (the CLI reports them).

import { readFileSync } from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import { GradstreamError } from '../core/errors.ts'
import { key, permutation } from '../core/rng.ts'
import type { Dataset } from '../core/data.ts'
import { parseCsvLine } from './csv.ts'
import { fitScaling, scaleInPlace } from './standardize.ts'
import type { ColumnOptions, Example, RecordFormat, Rejection, Schema } from './records.ts'
import { LabelMap, checkColumnName, csvLayout, decodeCsvLine, decodeJsonLine, inferFeatures } from './records.ts'

export type TabularFormat = RecordFormat

export interface TabularOptions extends ColumnOptions {
  /** Fraction held out for testing (default 0.2). */
  readonly testFraction?: number
  /** Seed of the split (default 0). */
  readonly seed?: number
  /** Standardise features (default true). */
  readonly standardize?: boolean
}

export interface TabularData {
  readonly train: Dataset
  readonly test: Dataset
  readonly features: readonly string[]
  readonly classes: readonly string[]
  readonly rejected: readonly Rejection[]
  /** Mean and standard deviation per feature (from the train split), when standardised. */
  readonly scaling?: { readonly mean: Float64Array; readonly std: Float64Array }
}

export const formatOf = (path: string): TabularFormat | undefined =>
  /\.csv$/i.test(path) ? 'csv' : /\.(nd)?jsonl?$/i.test(path) ? 'ndjson' : undefined

/** Decodes every line of a CSV or NDJSON text. */
export const decodeText = (
  text: string,
  format: TabularFormat,
  options: Pick<TabularOptions, 'label' | 'features' | 'classes'>,
): { examples: Example[]; rejected: Rejection[]; features: string[]; classes: readonly string[]; classCount: number } => {
  checkColumnName(options.label)
  options.features?.forEach(checkColumnName)
  const lines = text.split('\n')
  const labels = new LabelMap(options.classes)
  const examples: Example[] = []
  const rejected: Rejection[] = []
  let features: string[] | undefined = options.features ? [...options.features] : undefined
  const push = (r: E.Either<Rejection, Example>): void => {
    if (E.isLeft(r)) rejected.push(r.left)
    else examples.push(r.right)
  }
  if (format === 'csv') {
    const first = lines.findIndex((l) => l.trim() !== '')
    if (first < 0) throw new GradstreamError('tabular: expected a header row, got an empty file')
    const header = parseCsvLine(lines[first])
    if (E.isLeft(header)) throw new GradstreamError(`tabular: could not read the header row: ${header.left}`)
    const cols = header.right.map((h) => h.trim())
    if (!cols.includes(options.label))
      throw new GradstreamError(`tabular: expected a label column named "${options.label}", got columns ${cols.join(', ')}`)
    for (let i = first + 1; i < lines.length && features === undefined; i++)
      if (lines[i].trim() !== '') {
        const f = parseCsvLine(lines[i])
        if (E.isRight(f)) features = inferFeatures(cols, f.right, options.label)
      }
    const layout = csvLayout(cols, { features: features ?? [], label: options.label })
    for (let i = first + 1; i < lines.length; i++) if (lines[i].trim() !== '') push(decodeCsvLine(lines[i], layout, labels, i + 1))
  } else {
    if (features === undefined)
      for (const l of lines) {
        if (l.trim() === '') continue
        try {
          const obj = JSON.parse(l) as unknown
          if (typeof obj === 'object' && obj !== null && !Array.isArray(obj)) {
            const rec = obj as Record<string, unknown>
            if (!Object.hasOwn(rec, options.label)) continue
            features = inferFeatures(Object.keys(rec), rec, options.label)
            break
          }
        } catch {
          // An invalid first line is reported below with the rest.
        }
      }
    if (features === undefined)
      throw new GradstreamError(`tabular: expected records with a label field "${options.label}", found none`)
    const schema: Schema = { features, label: options.label }
    lines.forEach((l, i) => {
      if (l.trim() !== '') push(decodeJsonLine(l, schema, labels, i + 1))
    })
  }
  if (!features || features.length === 0)
    throw new GradstreamError(`tabular: expected at least one numeric feature column besides "${options.label}", found none`)
  return { examples, rejected, features, classes: labels.classes, classCount: labels.count }
}

const toDataset = (examples: readonly Example[], F: number, C: number): Dataset => {
  const x = new Float32Array(examples.length * F)
  examples.forEach((e, i) => x.set(e.features, i * F))
  return { x: { shape: [examples.length, F], data: x }, labels: Int32Array.from(examples, (e) => e.label), classes: C }
}

/** Reads a CSV or NDJSON file into a standardised train/test split. */
export const loadTabular = (path: string, options: TabularOptions): TabularData => {
  const format = options.format ?? formatOf(path)
  if (format === undefined)
    throw new GradstreamError(`tabular: expected a .csv, .ndjson or .jsonl file (or a format), got ${path}`)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new GradstreamError(`tabular: could not read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  const testFraction = options.testFraction ?? 0.2
  if (!(testFraction >= 0 && testFraction < 1))
    throw new GradstreamError(`tabular: expected a test fraction in [0, 1), got ${testFraction}`)
  const { examples, rejected, features, classes, classCount } = decodeText(text, format, options)
  if (examples.length < 2) throw new GradstreamError(`tabular: expected at least 2 usable rows in ${path}, got ${examples.length}`)
  const order = permutation(key(options.seed ?? 0), examples.length)
  const nTest = Math.round(examples.length * testFraction)
  const test = Array.from(order.subarray(0, nTest), (i) => examples[i])
  const train = Array.from(order.subarray(nTest), (i) => examples[i])
  const F = features.length
  const C = Math.max(classCount, 1)
  const trainSet = toDataset(train, F, C)
  const testSet = toDataset(test, F, C)
  if (options.standardize === false) return { train: trainSet, test: testSet, features, classes, rejected }
  const fitted = fitScaling(trainSet.x, 'standard')
  for (const ds of [trainSet, testSet]) scaleInPlace(ds.x, fitted)
  const scaling = { mean: Float64Array.from(fitted.offset), std: Float64Array.from(fitted.scale) }
  return { train: trainSet, test: testSet, features, classes, rejected, scaling }
}
