// ADWIN, ADaptive WINdowing (Bifet & Gavalda, "Learning from time-changing data with
// adaptive windowing", SDM 2007; the ADWIN2 form of MOA and River). It keeps a window of
// recent values whose length adapts: whenever two sub-windows W0 (older) and W1 (newer)
// have means that differ by more than
//
//   eps_cut = sqrt(2 m var(W) dd) + 2/3 dd m,   m = 1/(n0 - M + 1) + 1/(n1 - M + 1),
//   dd = ln(2 ln(n) / delta)                    (M: minimum sub-window length, 5)
//
// the older part is dropped (bucket by bucket) and a change is signalled. The window is
// stored as an exponential histogram: row i holds up to maxBuckets buckets of 2^i values
// each (their sum and variance); a row that overflows merges its two oldest buckets into
// one of the next row. So memory and time per value are O(log W), and a cut is checked
// only at bucket boundaries, every `clock` values. Defaults are MOA's and River's: delta
// 0.002, clock 32, maxBuckets 5, minimum sub-window 5, no check before 10 values.

import { GradstreamError } from '../core/errors.ts'
import type { DriftDetector } from './drift.ts'
import { checkSavedState, savedNumber } from './drift.ts'

export interface AdwinOptions {
  /** Confidence: smaller is fewer false alarms and later detection (default 0.002). */
  readonly delta?: number
  /** Check for a cut every this many values (default 32). */
  readonly clock?: number
  /** Buckets per row before two merge (default 5). */
  readonly maxBuckets?: number
  /** Minimum length of each sub-window (default 5). */
  readonly minWindow?: number
  /** No check before the window holds this many values (default 10). */
  readonly gracePeriod?: number
}

/** A row of the histogram: buckets of 2^row values, oldest first. */
interface Row {
  totals: number[]
  variances: number[]
}

export const adwin = (options: AdwinOptions = {}): DriftDetector => {
  const delta = options.delta ?? 0.002
  const clock = options.clock ?? 32
  const maxBuckets = options.maxBuckets ?? 5
  const minWindow = options.minWindow ?? 5
  const grace = options.gracePeriod ?? 10
  if (!(delta > 0 && delta < 1)) throw new GradstreamError(`adwin: expected delta in (0, 1), got ${delta}`)
  for (const [name, v] of [['clock', clock], ['maxBuckets', maxBuckets], ['minWindow', minWindow], ['gracePeriod', grace]] as const)
    if (!(Number.isInteger(v) && v >= 1)) throw new GradstreamError(`adwin: expected ${name} to be a positive integer, got ${v}`)

  let rows: Row[] = [] // rows[0]: single values (newest); the last row is the oldest
  let width = 0
  let total = 0
  let variance = 0 // sum of squared deviations from the window mean
  let time = 0
  let cuts = 0
  let dropped = 0
  // Whether the newer sub-window's mean was the higher at the last cut (a rising error:
  // what a model reset answers; a falling one is a model getting better).
  let rising = 0

  const insert = (x: number): void => {
    if (rows.length === 0) rows.push({ totals: [], variances: [] })
    rows[0].totals.push(x)
    rows[0].variances.push(0)
    if (width > 0) {
      const d = x - total / width
      variance += (width * d * d) / (width + 1)
    }
    total += x
    width++
    // Compress: a row with maxBuckets + 1 buckets merges its two oldest into the next row.
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]
      if (r.totals.length <= maxBuckets) break
      const n = 2 ** i
      const d = r.totals[0] / n - r.totals[1] / n
      const t = r.totals[0] + r.totals[1]
      const v = r.variances[0] + r.variances[1] + (n * n * d * d) / (2 * n)
      r.totals.splice(0, 2)
      r.variances.splice(0, 2)
      if (i + 1 === rows.length) rows.push({ totals: [], variances: [] })
      rows[i + 1].totals.push(t)
      rows[i + 1].variances.push(v)
    }
  }

  /** Drops the oldest bucket; returns how many values it held. */
  const dropOldest = (): number => {
    const i = rows.length - 1
    const r = rows[i]
    const n = 2 ** i
    const t = r.totals[0]
    width -= n
    total -= t
    const u = t / n
    const d = u - (width > 0 ? total / width : 0)
    variance -= r.variances[0] + (width > 0 ? (n * width * d * d) / (n + width) : 0)
    if (width === 0) {
      total = 0
      variance = 0
    }
    r.totals.shift()
    r.variances.shift()
    if (r.totals.length === 0) rows.pop()
    dropped += n
    return n
  }

  const cut = (n0: number, n1: number, gap: number): boolean => {
    const n = width
    const dd = Math.log((2 * Math.log(n)) / delta)
    const v = Math.max(variance / n, 0)
    const m = 1 / (n0 - minWindow + 1) + 1 / (n1 - minWindow + 1)
    const eps = Math.sqrt(2 * m * v * dd) + (2 / 3) * dd * m
    return Math.abs(gap) > eps
  }

  const detect = (): boolean => {
    let change = false
    if (time % clock !== 0 || width <= grace) return false
    for (let again = true; again; ) {
      again = false
      let n0 = 0
      let n1 = width
      let u0 = 0
      let u1 = total
      scan: for (let i = rows.length - 1; i >= 0; i--) {
        const r = rows[i]
        const n = 2 ** i
        for (let k = 0; k < r.totals.length; k++) {
          n0 += n
          n1 -= n
          u0 += r.totals[k]
          u1 -= r.totals[k]
          if (i === 0 && k === r.totals.length - 1) break scan
          if (n1 > minWindow + 1 && n0 > minWindow + 1 && cut(n0, n1, u0 / n0 - u1 / n1)) {
            if (!change) rising = u1 / n1 > u0 / n0 ? 1 : 0
            change = true
            again = true
            if (width > 0) dropOldest()
            break scan
          }
        }
      }
    }
    if (change) cuts++
    return change
  }

  return {
    name: 'adwin',
    update: (x) => {
      if (!Number.isFinite(x)) throw new GradstreamError(`adwin: expected finite values, got ${x}`)
      time++
      insert(x)
      return detect()
    },
    describe: () => ({ width, mean: width > 0 ? total / width : NaN, variance: width > 0 ? variance / width : NaN, cuts, dropped, rising }),
    reset: () => {
      rows = []
      width = 0
      total = 0
      variance = 0
      time = 0
      cuts = 0
      dropped = 0
      rising = 0
    },
    save: () => ({
      detector: 'adwin',
      width,
      total,
      variance,
      time,
      cuts,
      dropped,
      rising,
      totals: rows.map((r) => [...r.totals]),
      variances: rows.map((r) => [...r.variances]),
    }),
    restore: (state) => {
      checkSavedState(state, 'adwin')
      const get = (f: string): number => savedNumber(state, 'adwin', f)
      const t = state.totals
      const v = state.variances
      const isRows = (a: unknown): a is number[][] =>
        Array.isArray(a) && a.every((r) => Array.isArray(r) && r.every((x) => typeof x === 'number' && Number.isFinite(x)))
      if (!isRows(t) || !isRows(v) || t.length !== v.length || t.some((r, i) => r.length !== v[i].length || r.length > maxBuckets + 1))
        throw new GradstreamError('adwin: expected a saved state with rows of "totals" and "variances" of equal lengths')
      const next = {
        width: get('width'), total: get('total'), variance: get('variance'), time: get('time'), cuts: get('cuts'), dropped: get('dropped'), rising: get('rising'),
      }
      rows = t.map((r, i) => ({ totals: [...r], variances: [...v[i]] }))
      ;({ width, total, variance, time, cuts, dropped, rising } = next)
    },
  }
}
