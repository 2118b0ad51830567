// Wall-clock timing. performance.now() has microsecond resolution in Node and is
// monotonic; every figure in the bench goes through these helpers.

export const now = (): number => performance.now()

/** Seconds elapsed since t0 (a now() reading). */
export const secondsSince = (t0: number): number => (now() - t0) / 1000

/**
 * Times back-to-back calls of f in batches lasting at least minBatchMs (WORKLOADS.md W1):
 * the batch size is calibrated once, then each repeat runs that many calls. Returns
 * seconds per call for every repeat.
 */
export const timeBatches = (f: () => void, repeats: number, minBatchMs: number): number[] => {
  let calls = 1
  for (;;) {
    const t0 = now()
    for (let i = 0; i < calls; i++) f()
    const ms = now() - t0
    if (ms >= minBatchMs) break
    // Grow towards the target with a margin, at least doubling so calibration ends fast.
    calls = Math.max(calls * 2, Math.ceil((calls * minBatchMs * 1.2) / Math.max(ms, 1e-3)))
  }
  const perCall: number[] = []
  for (let r = 0; r < repeats; r++) {
    const t0 = now()
    for (let i = 0; i < calls; i++) f()
    perCall.push((now() - t0) / 1000 / calls)
  }
  return perCall
}
