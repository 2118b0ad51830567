// Wall-clock timing. performance.now() has microsecond resolution in Node and is
// monotonic; every figure in the bench goes through these helpers.

export const now = (): number => performance.now()

/** Seconds elapsed since t0 (a now() reading). */
export const secondsSince = (t0: number): number => (now() - t0) / 1000

/** Calls f once, then again until ms have passed since the first call began (a warm-up by time). */
export const repeatFor = (ms: number, f: () => void): void => {
  const t0 = now()
  do f()
  while (now() - t0 < ms)
}

/** Calls of f per batch so that a batch lasts at least minBatchMs (calibrated by running it). */
export const callsPerBatch = (f: () => void, minBatchMs: number): number => {
  let calls = 1
  for (;;) {
    const t0 = now()
    for (let i = 0; i < calls; i++) f()
    const ms = now() - t0
    if (ms >= minBatchMs) return calls
    // Grow towards the target with a margin, at least doubling so calibration ends fast.
    calls = Math.max(calls * 2, Math.ceil((calls * minBatchMs * 1.2) / Math.max(ms, 1e-3)))
  }
}

/** Seconds per call of one batch of `calls` back-to-back calls of f. */
export const timeBatch = (f: () => void, calls: number): number => {
  const t0 = now()
  for (let i = 0; i < calls; i++) f()
  return (now() - t0) / 1000 / calls
}

/**
 * Times back-to-back calls of f in batches lasting at least minBatchMs (WORKLOADS.md W1):
 * the batch size is calibrated once, then each repeat runs that many calls. Returns
 * seconds per call for every repeat.
 */
export const timeBatches = (f: () => void, repeats: number, minBatchMs: number): number[] => {
  const calls = callsPerBatch(f, minBatchMs)
  return Array.from({ length: repeats }, () => timeBatch(f, calls))
}

/** One system in an interleaved timing: what to do before its batches (switch a backend), and the call. */
export interface Contestant {
  readonly before?: () => Promise<void> | void
  readonly call: () => void
}

/** A contestant with the resources it holds (operands, a worker pool), freed by close(). */
export interface TimedSystem extends Contestant {
  readonly close: () => Promise<void> | void
}

/**
 * timeBatches for several systems at once, interleaved: after each one's warm-up and
 * calibration, round r runs one batch of each system in turn (after one untimed call), so every system is timed
 * in the same stretch of time. On a shared or virtual machine whose speed drifts over
 * minutes, ratios between systems timed this way do not carry the drift (measured here:
 * the same GEMM at 5.88 and 3.58 GFLOP/s in runs 30 minutes apart). Returns seconds per
 * call per repeat, per system.
 */
export const interleavedBatches = async (systems: readonly Contestant[], warmup: number, repeats: number, minBatchMs: number): Promise<number[][]> => {
  const calls: number[] = []
  for (const s of systems) {
    await s.before?.()
    for (let i = 0; i < warmup; i++) s.call()
    calls.push(callsPerBatch(s.call, minBatchMs))
  }
  const times: number[][] = systems.map(() => [])
  for (let r = 0; r < repeats; r++)
    for (let i = 0; i < systems.length; i++) {
      await systems[i].before?.()
      // One untimed call first: a batch times back-to-back calls, not the first call after
      // the other systems ran (a pool's worker asleep meanwhile, the caches holding their data).
      systems[i].call()
      times[i].push(timeBatch(systems[i].call, calls[i]))
    }
  return times
}
