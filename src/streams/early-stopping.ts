// Early stopping: completes the stream once a monitored metric has not improved for
// `patience` consecutive measurements (the snapshots where it is defined, e.g. the
// end-of-epoch evaluations). The snapshot that triggers the stop is emitted last.

import type { MonoTypeOperatorFunction } from 'rxjs'
import { defer, takeWhile } from 'rxjs'
import { GradstreamError } from '../core/errors.ts'

export interface EarlyStoppingOptions<T> {
  /** The metric, or undefined for snapshots that carry no measurement. */
  readonly monitor: (s: T) => number | undefined
  /** 'min' for losses (default), 'max' for accuracies. */
  readonly mode?: 'min' | 'max'
  /** Measurements without improvement before stopping (default 3). */
  readonly patience?: number
  /** Smallest change that counts as an improvement (default 0). */
  readonly minDelta?: number
}

export const earlyStopping = <T>(options: EarlyStoppingOptions<T>): MonoTypeOperatorFunction<T> => {
  const patience = options.patience ?? 3
  if (!(Number.isInteger(patience) && patience >= 1))
    throw new GradstreamError(`earlyStopping: expected patience to be a positive integer, got ${patience}`)
  const sign = options.mode === 'max' ? -1 : 1
  const minDelta = options.minDelta ?? 0
  // defer: every subscription gets its own best and counter.
  return (source) =>
    defer(() => {
      let best = Infinity
      let bad = 0
      return source.pipe(
      takeWhile((s: T) => {
        const v = options.monitor(s)
        if (v === undefined || Number.isNaN(v)) return true
        if (sign * v < best - minDelta) {
          best = sign * v
          bad = 0
        } else bad++
        return bad < patience
      }, true),
      )
    })
}
