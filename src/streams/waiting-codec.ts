// The examples a stopped online run left waiting for their labels (online.ts
// WaitingExample: delayed labels, labels joined by id), as one string for a checkpoint's
// metadata (log-online.ts). Columnar JSON; the float32 columns (features, targets, arrival
// outputs) as base64 of their little-endian bytes: exact, and a quarter of the size of
// decimal doubles, so a long delay over wide records stays a small header.

import { GradstreamError } from '../core/errors.ts'
import type { WaitingExample } from './online.ts'

interface Columns {
  readonly v: 1
  readonly n: number
  /** Values per example of each float column (0: absent). */
  readonly widths: { readonly features: number; readonly target: number; readonly prediction: number }
  readonly features: string
  readonly target: string
  readonly prediction: string
  readonly label: number[]
  readonly predicted: number[]
  readonly hit: number[]
  readonly index: number[]
  /** null where an example had no line. */
  readonly line: (number | null)[]
  /** Joined labels: each example's record id. */
  readonly id?: (string | number)[]
}

const toBase64 = (values: Float32Array): string => {
  const bytes = new Uint8Array(values.length * 4)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true)
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}

const fromBase64 = (file: string, what: string, text: unknown, count: number): Float32Array => {
  let s: string
  try {
    s = atob(typeof text === 'string' ? text : '')
  } catch {
    throw new GradstreamError(`${file}: the waiting examples' ${what} are not base64`)
  }
  if (s.length !== count * 4) throw new GradstreamError(`${file}: expected ${count} ${what} values of the waiting examples, got ${s.length / 4}`)
  const view = new DataView(new ArrayBuffer(s.length))
  for (let i = 0; i < s.length; i++) view.setUint8(i, s.charCodeAt(i))
  const out = new Float32Array(count)
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true)
  return out
}

/** The waiting examples as one string (all of one kind: same widths, ids or none). */
export const encodeWaiting = (waiting: readonly WaitingExample[]): string => {
  const n = waiting.length
  const width = (f: (w: WaitingExample) => Float32Array | undefined): number => (n === 0 ? 0 : (f(waiting[0])?.length ?? 0))
  const widths = { features: width((w) => w.features), target: width((w) => w.target), prediction: width((w) => w.prediction) }
  const column = (f: (w: WaitingExample) => Float32Array | undefined, k: number): string => {
    const all = new Float32Array(n * k)
    if (k > 0) waiting.forEach((w, i) => all.set(f(w) ?? new Float32Array(k), i * k))
    return toBase64(all)
  }
  const joined = n > 0 && waiting[0].id !== undefined
  const cols: Columns = {
    v: 1,
    n,
    widths,
    features: column((w) => w.features, widths.features),
    target: column((w) => w.target, widths.target),
    prediction: column((w) => w.prediction, widths.prediction),
    label: waiting.map((w) => w.label),
    predicted: waiting.map((w) => w.predicted),
    hit: waiting.map((w) => w.hit),
    index: waiting.map((w) => w.index),
    line: waiting.map((w) => w.line ?? null),
    ...(joined ? { id: waiting.map((w) => w.id ?? '') } : {}),
  }
  return JSON.stringify(cols)
}

/** The waiting examples of `encodeWaiting` (a one-line error naming `file` when the string is not one). */
export const decodeWaiting = (file: string, text: string): WaitingExample[] => {
  const bad = (what: string): never => {
    throw new GradstreamError(`${file}: the waiting examples are unreadable (${what})`)
  }
  let c: Columns
  try {
    c = JSON.parse(text) as Columns
  } catch {
    return bad('not JSON')
  }
  if (typeof c !== 'object' || c === null || c.v !== 1) return bad('not version 1')
  const n = c.n
  if (!(Number.isSafeInteger(n) && n >= 0)) return bad(`count ${JSON.stringify(n)}`)
  const w = c.widths
  const widthOk = (k: unknown): boolean => Number.isSafeInteger(k) && (k as number) >= 0
  if (typeof w !== 'object' || w === null || !widthOk(w.features) || !widthOk(w.target) || !widthOk(w.prediction)) return bad('widths')
  const ints = (k: 'label' | 'predicted' | 'hit' | 'index'): number[] => {
    const a = c[k]
    return Array.isArray(a) && a.length === n && a.every((x) => Number.isSafeInteger(x)) ? a : bad(`column ${k}`)
  }
  const label = ints('label')
  const predicted = ints('predicted')
  const hit = ints('hit')
  const index = ints('index')
  const line = Array.isArray(c.line) && c.line.length === n && c.line.every((x) => x === null || Number.isSafeInteger(x)) ? c.line : bad('column line')
  const ids = c.id === undefined ? undefined : Array.isArray(c.id) && c.id.length === n && c.id.every((x) => typeof x === 'string' || typeof x === 'number') ? c.id : bad('column id')
  const features = fromBase64(file, 'features', c.features, n * w.features)
  const target = fromBase64(file, 'targets', c.target, n * w.target)
  const prediction = fromBase64(file, 'arrival outputs', c.prediction, n * w.prediction)
  return Array.from({ length: n }, (_, i) => {
    const l = line[i]
    return {
      features: features.slice(i * w.features, (i + 1) * w.features),
      label: label[i],
      predicted: predicted[i],
      hit: hit[i],
      index: index[i],
      ...(w.target > 0 ? { target: target.slice(i * w.target, (i + 1) * w.target) } : {}),
      ...(w.prediction > 0 ? { prediction: prediction.slice(i * w.prediction, (i + 1) * w.prediction) } : {}),
      ...(l !== null ? { line: l } : {}),
      ...(ids !== undefined ? { id: ids[i] } : {}),
    }
  })
}
