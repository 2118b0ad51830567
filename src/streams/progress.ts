// Progress of a training stream: per-epoch batch count, running loss, throughput and
// ETA, handed to a reporter (the CLI draws a bar with it). A tap: snapshots pass
// through unchanged.

import type { MonoTypeOperatorFunction } from 'rxjs'
import { defer, tap } from 'rxjs'
import type { Snapshot } from './snapshot.ts'

export interface Progress {
  readonly epoch: number
  /** Batches of this epoch done, and in all (if known). */
  readonly batch: number
  readonly batches?: number
  /** Mean batch loss over this epoch so far. */
  readonly loss: number
  /** Mean batch accuracy over this epoch so far (labelled data). */
  readonly accuracy?: number
  /** Training samples per second over this epoch so far. */
  readonly samplesPerSecond: number
  /** Seconds left in this epoch (if the epoch length is known). */
  readonly eta?: number
  readonly step: number
  readonly endOfEpoch: boolean
  readonly snapshot: Snapshot
}

export const progress = (
  report: (p: Progress) => void,
  options: { readonly batchesPerEpoch?: number; readonly now?: () => number } = {},
): MonoTypeOperatorFunction<Snapshot> => {
  const now = options.now ?? (() => performance.now())
  return (source) =>
    defer(() => {
      let epoch = -1
      let t0 = now()
      let lossSum = 0
      let accSum = 0
      let accN = 0
      let n = 0
      let samples = 0
      return source.pipe(
        tap((s: Snapshot) => {
          if (s.step === 0 && s.seen === 0) return
          if (s.epoch !== epoch) {
            epoch = s.epoch
            t0 = now()
            lossSum = accSum = accN = n = samples = 0
          }
          n++
          samples += s.metrics.samples
          if (Number.isFinite(s.metrics.loss)) lossSum += s.metrics.loss
          if (s.metrics.accuracy !== undefined) {
            accSum += s.metrics.accuracy
            accN++
          }
          const secs = Math.max(1e-9, (now() - t0) / 1000)
          const per = options.batchesPerEpoch
          report({
            epoch: s.epoch,
            batch: s.position,
            batches: per,
            loss: lossSum / n,
            accuracy: accN > 0 ? accSum / accN : undefined,
            samplesPerSecond: samples / secs,
            eta: per !== undefined ? (secs / n) * Math.max(0, per - s.position) : undefined,
            step: s.step,
            endOfEpoch: s.endOfEpoch,
            snapshot: s,
          })
        }),
      )
    })
}
