// Decoding records (CSV rows or JSON objects) into a feature vector and a class label,
// with a reason for every record that cannot be used. A rejected record never reaches
// a parameter; callers count and report it (with its line number) and go on.

import * as E from 'fp-ts/lib/Either.js'
import { GradstreamError } from '../core/errors.ts'
import { parseCsvLine } from './csv.ts'

export type RejectReason =
  | 'invalid json'
  | 'invalid csv'
  | 'not an object'
  | 'wrong field count'
  | 'missing field'
  | 'non-numeric feature'
  | 'non-finite feature'
  | 'missing label'
  | 'unknown class'
  | 'invalid label'
  | 'too many classes'
  | 'line too long'
  | 'invalid utf-8'
  | 'too deeply nested'
  | 'invalid time'
  | 'invalid f32'

export interface Rejection {
  readonly line: number
  readonly reason: RejectReason
  readonly detail: string
}

export interface Example {
  readonly line: number
  readonly features: Float32Array
  readonly label: number
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype'])

/**
 * Class labels to indices: a fixed list, or learned in order of first appearance.
 * Integer labels (numbers, or strings of digits when `integerLabels`) index directly.
 * Backed by a Map, so no label can reach Object.prototype.
 */
export class LabelMap {
  private readonly index = new Map<string, number>()
  private readonly names: string[] = []
  constructor(
    readonly fixed: readonly string[] | undefined,
    readonly integerLabels = false,
  ) {
    for (const c of fixed ?? []) this.add(c)
  }
  private add(name: string): number {
    const i = this.names.length
    this.names.push(name)
    this.index.set(name, i)
    return i
  }
  get classes(): readonly string[] {
    return this.names
  }
  /** Classes seen as integers (labels that index directly). */
  private maxInteger = -1
  /** Number of classes known so far. */
  get count(): number {
    return Math.max(this.names.length, this.maxInteger + 1)
  }
  /**
   * The class index of a raw label, or a rejection reason. JSON numbers (and digit
   * strings when `integerLabels`) are class indices; other strings are names.
   */
  lookup(raw: unknown): E.Either<RejectReason, number> {
    if (raw === undefined || raw === null || raw === '') return E.left('missing label')
    const asInt = typeof raw === 'number' ? raw : this.integerLabels && typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : undefined
    if (asInt !== undefined) {
      if (!Number.isInteger(asInt) || asInt < 0) return E.left('invalid label')
      if (this.fixed && asInt >= this.fixed.length) return E.left('unknown class')
      this.maxInteger = Math.max(this.maxInteger, asInt)
      return E.right(asInt)
    }
    if (typeof raw !== 'string' && typeof raw !== 'boolean') return E.left('invalid label')
    const name = String(raw)
    const i = this.index.get(name)
    if (i !== undefined) return E.right(i)
    if (this.fixed) return E.left('unknown class')
    return E.right(this.add(name))
  }
}

/** Record formats: CSV lines under a header row, or one JSON object per line. */
export type RecordFormat = 'csv' | 'ndjson'

/** How records map to examples: shared by file loading and record streams. */
export interface ColumnOptions {
  /** The label column (or field). */
  readonly label: string
  /** Feature columns in order; default: every numeric column but the label. */
  readonly features?: readonly string[]
  /** A fixed class list: labels outside it are rejected ('unknown class'). */
  readonly classes?: readonly string[]
  readonly format?: RecordFormat
}

export interface Schema {
  /** Feature columns in order. */
  readonly features: readonly string[]
  readonly label: string
}

export const checkColumnName = (name: string): void => {
  if (FORBIDDEN.has(name)) throw new GradstreamError(`column: expected an ordinary column name, got ${JSON.stringify(name)}`)
}

// Features are stored as float32: a double beyond float32's range (|v| > 3.4e38) would
// become Infinity there, so it is as non-finite as Infinity itself.
const finite32 = (v: number): boolean => Number.isFinite(Math.fround(v))

export const numeric = (raw: unknown): E.Either<RejectReason, number> => {
  if (typeof raw === 'number') return finite32(raw) ? E.right(raw) : E.left('non-finite feature')
  if (typeof raw === 'string') {
    const t = raw.trim()
    if (t === '') return E.left('missing field')
    const v = Number(t)
    // NaN and inf spelled as other tools write them are non-finite numbers, not words.
    if (Number.isNaN(v) && !/^[+-]?(nan|inf)$/i.test(t)) return E.left('non-numeric feature')
    return finite32(v) ? E.right(v) : E.left('non-finite feature')
  }
  if (raw === undefined || raw === null) return E.left('missing field')
  return E.left('non-numeric feature')
}

const reject = (line: number, reason: RejectReason, detail: string): E.Either<Rejection, Example> =>
  E.left({ line, reason, detail })

/** The rejection of a line the splitter could not give as text (io/lines.ts). */
export const lineRejection = (line: number, problem: number | 'invalid utf-8', max: number): E.Either<Rejection, Example> =>
  problem === 'invalid utf-8'
    ? reject(line, 'invalid utf-8', 'the line is not valid UTF-8 text')
    : reject(line, 'line too long', `${problem} bytes, more than ${max}`)

/**
 * A value for a message: strings quoted and cut at 40 characters, objects and arrays
 * named, never serialised (a value nested 5,000 deep would overflow JSON.stringify's
 * stack, and one of a million characters would make a million-character message).
 */
export const show = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)
  if (v === null || typeof v !== 'object') return String(v)
  return Array.isArray(v) ? `an array of ${v.length}` : 'an object'
}

/** Records nested deeper than this are rejected ('too deeply nested'). */
export const MAX_DEPTH = 64

/** Whether a parsed JSON value nests deeper than `max` (iterative: no recursion to overflow). */
export const nestedDeeper = (root: unknown, max: number): boolean => {
  if (typeof root !== 'object' || root === null) return false
  if (max <= 0) return true
  // The common record is flat: look at its values without allocating, and walk only the
  // nested ones (a record of 785 numbers costs no array and no stack).
  const stack: [unknown, number][] = []
  if (Array.isArray(root)) {
    for (const c of root) if (typeof c === 'object' && c !== null) stack.push([c, 1])
  } else
    for (const k in root)
      if (Object.hasOwn(root, k)) {
        const c = (root as Record<string, unknown>)[k]
        if (typeof c === 'object' && c !== null) stack.push([c, 1])
      }
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (typeof v !== 'object' || v === null) continue
    if (d >= max) return true
    for (const c of Array.isArray(v) ? v : Object.values(v)) if (typeof c === 'object' && c !== null) stack.push([c, d + 1])
  }
  return false
}

/** A JSON object (one NDJSON line, already parsed) into an example. */
export const decodeObject = (obj: unknown, schema: Schema, labels: LabelMap, line: number): E.Either<Rejection, Example> => {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return reject(line, 'not an object', 'expected a JSON object')
  if (nestedDeeper(obj, MAX_DEPTH)) return reject(line, 'too deeply nested', `a value is nested more than ${MAX_DEPTH} levels deep`)
  const rec = obj as Record<string, unknown>
  const get = (k: string): unknown => (Object.hasOwn(rec, k) ? rec[k] : undefined)
  const features = new Float32Array(schema.features.length)
  for (let i = 0; i < schema.features.length; i++) {
    const name = schema.features[i]
    // The common case first, with no allocation: an own finite number (Object.prototype
    // holds no numbers, so a number read by name is the record's own).
    const direct = rec[name]
    if (typeof direct === 'number' && finite32(direct)) {
      features[i] = direct
      continue
    }
    const v = get(name)
    if (v === undefined) return reject(line, 'missing field', `no field "${name}"`)
    const n = numeric(v)
    if (E.isLeft(n)) return reject(line, n.left, `field "${name}" is ${show(v)}`)
    features[i] = n.right
  }
  const l = labels.lookup(get(schema.label))
  if (E.isLeft(l)) return reject(line, l.left, `label "${schema.label}" is ${show(get(schema.label))}`)
  return E.right({ line, features, label: l.right })
}

/** One NDJSON line into an example. */
export const decodeJsonLine = (text: string, schema: Schema, labels: LabelMap, line: number): E.Either<Rejection, Example> => {
  let obj: unknown
  try {
    obj = JSON.parse(text)
  } catch (e) {
    return reject(line, 'invalid json', (e as Error).message)
  }
  return decodeObject(obj, schema, labels, line)
}

/** Column positions of a CSV header, for a schema. */
export interface CsvLayout {
  readonly header: readonly string[]
  readonly featureAt: readonly number[]
  readonly labelAt: number
}

export const csvLayout = (header: readonly string[], schema: Schema): CsvLayout => {
  const at = (name: string): number => {
    const i = header.indexOf(name)
    if (i < 0) throw new GradstreamError(`csv: expected a column named "${name}", got columns ${someNames(header)}`)
    return i
  }
  return { header, featureAt: schema.features.map(at), labelAt: at(schema.label) }
}

/** One CSV data line into an example. */
export const decodeCsvLine = (text: string, layout: CsvLayout, labels: LabelMap, line: number): E.Either<Rejection, Example> => {
  const fields = parseCsvLine(text)
  if (E.isLeft(fields)) return reject(line, 'invalid csv', fields.left)
  const f = fields.right
  if (f.length !== layout.header.length)
    return reject(line, 'wrong field count', `expected ${layout.header.length} fields, got ${f.length}`)
  const features = new Float32Array(layout.featureAt.length)
  for (let i = 0; i < layout.featureAt.length; i++) {
    const raw = f[layout.featureAt[i]]
    const n = numeric(raw)
    if (E.isLeft(n)) return reject(line, n.left, `column "${layout.header[layout.featureAt[i]]}" is ${show(raw)}`)
    features[i] = n.right
  }
  const l = labels.lookup(f[layout.labelAt])
  if (E.isLeft(l)) return reject(line, l.left, `label "${layout.header[layout.labelAt]}" is ${show(f[layout.labelAt])}`)
  return E.right({ line, features, label: l.right })
}

/**
 * Whether a raw value is written as a number: finite, or NaN / Infinity (a numeric column
 * with a bad value in it, whose row is rejected, not a text column).
 */
export const numericToken = (raw: unknown): boolean => {
  const n = numeric(raw)
  return E.isRight(n) || n.left === 'non-finite feature'
}

/**
 * Feature columns when none are named, from one record (streams, which cannot look
 * ahead): every column but the label whose value is written as a number (NaN included:
 * its row is rejected later, the column is kept).
 */
export const inferFeatures = (header: readonly string[], first: Record<string, unknown> | readonly string[], label: string): string[] =>
  header.filter((h, i) => {
    if (h === label || FORBIDDEN.has(h)) return false
    const v = Array.isArray(first) ? first[i] : (first as Record<string, unknown>)[h]
    return numericToken(v)
  })

/** Counts per column of values written as numbers and of other non-empty values. */
export class ColumnTypes {
  private readonly counts = new Map<string, { numeric: number; other: number }>()
  /** Adds one record's value of column `name`. */
  add(name: string, raw: unknown): void {
    if (FORBIDDEN.has(name)) return
    let c = this.counts.get(name)
    if (c === undefined) this.counts.set(name, (c = { numeric: 0, other: 0 }))
    if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return
    if (numericToken(raw)) c.numeric++
    else c.other++
  }
  /**
   * The numeric columns in order of first appearance, but the label: those whose values
   * are mostly written as numbers (a stray "abc" in a numeric column is a bad row).
   */
  numeric(label: string): string[] {
    return [...this.counts].filter(([name, c]) => name !== label && c.numeric > 0 && c.numeric >= c.other).map(([name]) => name)
  }
}

/** At most `max` names for a message, with how many there are in all. */
export const someNames = (names: readonly string[], max = 8): string =>
  names.length <= max
    ? names.map((n) => (n.length > 40 ? `${n.slice(0, 40)}...` : n)).join(', ')
    : `${someNames(names.slice(0, max), max)}, ... (${names.length.toLocaleString('en-US')} in all)`
