// Predicting one record, as pure functions: a text line -> the model's input features
// (or a rejection with its reason), and features + a model snapshot -> the class and its
// probabilities. Nothing here holds state or does I/O, so the command that streams
// records can hand each one whatever snapshot is current (e.g. a model swapped between
// records while a run trains) and gets the same answer for the same (record, snapshot).

import * as E from 'fp-ts/lib/Either.js'
import { GradstreamError } from '../core/errors.ts'
import { size } from '../core/tensor.ts'
import type { Params } from '../core/tree.ts'
import { parseCsvLine } from '../io/csv.ts'
import type { RecordFormat, Rejection } from '../io/records.ts'
import { numeric } from '../io/records.ts'
import { applyScaling } from '../io/standardize.ts'
import type { AnyObjective } from '../models/objective.ts'
import { softmaxForward } from '../ops/softmax.ts'
import type { InputSchema } from './input-schema.ts'

/** A model at one moment: what predicting a record needs. */
export interface ModelSnapshot {
  readonly objective: AnyObjective
  readonly params: Params
  readonly input: InputSchema
}

export interface Prediction {
  readonly class: string
  readonly probabilities: Readonly<Record<string, number>>
}

/** Longest record line read (longer ones are rejected, not parsed). */
export const MAX_RECORD_CHARS = 1 << 20

/** The class and the softmax probabilities of the model's logits for one record's features. */
export const predictRecord = (model: ModelSnapshot, features: Float32Array): Prediction => {
  const { objective, params, input } = model
  const F = size(objective.inShape)
  if (features.length !== F) throw new GradstreamError(`predict: expected ${F} features, got ${features.length}`)
  const row = { shape: [1, F], data: features }
  const scaled = input.scaling !== undefined ? applyScaling(row, input.scaling) : row
  const logits = objective.predict(params, { shape: [1, ...objective.inShape], data: scaled.data }).data
  const C = logits.length
  const p = new Float64Array(C)
  softmaxForward(p, Float64Array.from(logits), 1, C)
  let best = 0
  for (let c = 1; c < C; c++) if (p[c] > p[best]) best = c
  const name = (c: number): string => input.classes[c] ?? String(c)
  const probabilities: Record<string, number> = {}
  // Six significant digits: float32 logits carry no more.
  for (let c = 0; c < C; c++) Object.defineProperty(probabilities, name(c), { value: Number(p[c].toPrecision(6)), enumerable: true })
  return { class: name(best), probabilities }
}

/** Reads one record line into features; built from the first line (a CSV header) when needed. */
export type RecordReader = (text: string, line: number) => E.Either<Rejection, Float32Array>

const reject = (line: number, reason: Rejection['reason'], detail: string): E.Either<Rejection, Float32Array> => E.left({ line, reason, detail })

/** The format of a record stream from its first non-empty line. */
export const sniffFormat = (first: string): RecordFormat => (/^\s*[[{]/.test(first) ? 'ndjson' : 'csv')

/**
 * The reader of records for a schema. Tabular: the feature columns by name (CSV: from the
 * header row, `header`; NDJSON: fields of each object); other columns (a label) are
 * ignored. Images: NDJSON lines holding the pixel values as an array (bare, or in a
 * "pixels" field), or CSV rows of the pixel values (a header row, if any, names a
 * "label" column to leave out).
 */
export const recordReader = (schema: InputSchema, format: RecordFormat, F: number, header?: string): RecordReader => {
  const fill = (values: readonly unknown[], name: (i: number) => string, line: number): E.Either<Rejection, Float32Array> => {
    const out = new Float32Array(values.length)
    for (let i = 0; i < values.length; i++) {
      const n = numeric(values[i])
      if (E.isLeft(n)) return reject(line, n.left, `${name(i)} is ${JSON.stringify(values[i] ?? null)}`)
      out[i] = n.right
    }
    return E.right(out)
  }
  const tooLong = (text: string, line: number): E.Either<Rejection, Float32Array> | undefined =>
    text.length > MAX_RECORD_CHARS ? reject(line, 'line too long', `${text.length} characters (at most ${MAX_RECORD_CHARS})`) : undefined
  const columns = (): string[] => {
    if (header === undefined) return []
    const h = parseCsvLine(header)
    if (E.isLeft(h)) throw new GradstreamError(`--input: could not read the header row: ${h.left}`)
    return h.right.map((s) => s.trim())
  }

  if (format === 'ndjson')
    return (text, line) => {
      const long = tooLong(text, line)
      if (long) return long
      let v: unknown
      try {
        v = JSON.parse(text)
      } catch (e) {
        return reject(line, 'invalid json', (e as Error).message)
      }
      if (schema.kind === 'image') {
        const pixels = Array.isArray(v) ? v : typeof v === 'object' && v !== null && Object.hasOwn(v, 'pixels') ? (v as { pixels: unknown }).pixels : undefined
        if (!Array.isArray(pixels)) return reject(line, 'missing field', 'expected an array of pixel values, or an object with a "pixels" array')
        if (pixels.length !== F) return reject(line, 'wrong field count', `expected ${F} pixel values, got ${pixels.length}`)
        return fill(pixels, (i) => `pixel ${i}`, line)
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return reject(line, 'not an object', 'expected a JSON object')
      const rec = v as Record<string, unknown>
      const features = schema.features ?? []
      const values: unknown[] = []
      for (const f of features) {
        if (!Object.hasOwn(rec, f)) return reject(line, 'missing field', `no field "${f}"`)
        values.push(rec[f])
      }
      return fill(values, (i) => `field "${features[i]}"`, line)
    }

  // CSV
  const names = columns()
  let at: number[]
  if (schema.kind === 'image') {
    at = header === undefined ? Array.from({ length: F }, (_, i) => i) : names.flatMap((n, i) => (/^label$/i.test(n) ? [] : [i]))
    if (at.length !== F) throw new GradstreamError(`--input: expected ${F} pixel columns (besides a "label" column), got ${at.length}`)
  } else {
    const features = schema.features ?? []
    at = features.map((f) => names.indexOf(f))
    const missing = features.filter((_, i) => at[i] < 0)
    if (missing.length > 0)
      throw new GradstreamError(`--input: expected the feature columns ${features.join(', ')}, missing ${missing.join(', ')} (header: ${names.join(', ')})`)
  }
  const width = header === undefined ? F : names.length
  return (text, line) => {
    const long = tooLong(text, line)
    if (long) return long
    const fields = parseCsvLine(text)
    if (E.isLeft(fields)) return reject(line, 'invalid csv', fields.left)
    if (fields.right.length !== width) return reject(line, 'wrong field count', `expected ${width} fields, got ${fields.right.length}`)
    return fill(at.map((i) => fields.right[i]), (i) => (header === undefined ? `field ${at[i] + 1}` : `column "${names[at[i]]}"`), line)
  }
}

/** Whether a CSV line is a header (some field is not a number). */
export const isHeader = (text: string): boolean => {
  const f = parseCsvLine(text)
  return E.isRight(f) && f.right.some((v) => E.isLeft(numeric(v)))
}
