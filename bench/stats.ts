// Summaries of repeated measurements: WORKLOADS.md asks for the median and the min-max
// over each workload's repeats (and p90 for latencies).

/** A measured figure: the median of the repeats, their range, and how many there were. */
export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  /** 90th percentile (nearest rank), reported for latencies. */
  readonly p90: number
  /** Number of repeats summarised. */
  readonly n: number
}

/** Nearest-rank percentile of sorted values (q in [0, 1]). */
const percentile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]

export const summarize = (values: readonly number[]): Summary => {
  if (values.length === 0) throw new Error('summarize: expected at least one value, got none')
  for (const v of values)
    if (!Number.isFinite(v)) throw new Error(`summarize: expected finite measurements, got ${String(v)}`)
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  const median = s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
  return { median, min: s[0], max: s[s.length - 1], p90: percentile(s, 0.9), n: s.length }
}

/** A single measurement as a summary (median = min = max). */
export const single = (v: number): Summary => summarize([v])
