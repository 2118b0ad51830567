// The Page-Hinkley test (Page 1954; Mouss et al. 2004; River's `PageHinkley`): a
// cumulative sum of the deviations of each value from the running mean, less a
// tolerance delta, with a fading factor alpha; a change is signalled when the sum rises
// more than `threshold` above its minimum (mode 'up': the error grows), or falls as far
// below its maximum (mode 'down'), or either ('both'). After a signal the test starts over.
//
//   mean_t = mean_{t-1} + (x_t - mean_{t-1}) / t
//   up_t   = alpha up_{t-1} + (x_t - mean_t - delta)      drift if up_t - min(up) > threshold
//   down_t = alpha down_{t-1} + (x_t - mean_t + delta)    drift if max(down) - down_t > threshold
//
// Defaults: River's minInstances (30) and threshold (50); the rest differ, for the 0/1
// prequential error stream this runs on (each measured in test/streams/drift.test.ts):
// - delta 0.05, not 0.005. Without fading the sum is a random walk with steps of about
//   +-0.5 and drift -delta, reflected at its minimum; the chance that one excursion
//   reaches the threshold is ~exp(-2 delta threshold / var) = exp(-20) at var 0.25, but
//   exp(-2) with 0.005, which raised a false alarm every few 10,000 errors.
// - alpha 1 (no fading), not 1 - 1e-4: a faded sum is a stationary process around
//   -delta / (1 - alpha) whose swings (std ~0.5 / sqrt(2 (1 - alpha)) = 35) cross 50
//   by themselves (false alarms at 32,457 and 44,243 of stationary streams).
// - mode 'up': a rising error is the drift to act on (River's default is 'both').

import { GradstreamError } from '../core/errors.ts'
import type { DriftDetector } from './drift.ts'
import { checkSavedState, savedNumber } from './drift.ts'

export interface PageHinkleyOptions {
  readonly minInstances?: number
  readonly delta?: number
  readonly threshold?: number
  readonly alpha?: number
  readonly mode?: 'up' | 'down' | 'both'
}

export const pageHinkley = (options: PageHinkleyOptions = {}): DriftDetector => {
  const minInstances = options.minInstances ?? 30
  const delta = options.delta ?? 0.05
  const threshold = options.threshold ?? 50
  const alpha = options.alpha ?? 1
  const mode = options.mode ?? 'up'
  if (!(Number.isInteger(minInstances) && minInstances >= 1))
    throw new GradstreamError(`pageHinkley: expected minInstances to be a positive integer, got ${minInstances}`)
  if (!(delta >= 0 && Number.isFinite(delta))) throw new GradstreamError(`pageHinkley: expected delta >= 0, got ${delta}`)
  if (!(threshold > 0 && Number.isFinite(threshold))) throw new GradstreamError(`pageHinkley: expected threshold > 0, got ${threshold}`)
  if (!(alpha > 0 && alpha <= 1)) throw new GradstreamError(`pageHinkley: expected alpha in (0, 1], got ${alpha}`)
  let n = 0
  let mean = 0
  let up = 0
  let minUp = 0
  let down = 0
  let maxDown = 0
  let atDrift: { [k: string]: number } | undefined
  const stats = () => ({ n, mean, up: up - minUp, down: maxDown - down })
  const reset = (): void => {
    n = 0
    mean = 0
    up = 0
    minUp = 0
    down = 0
    maxDown = 0
  }
  return {
    name: 'page-hinkley',
    update: (x) => {
      if (!Number.isFinite(x)) throw new GradstreamError(`pageHinkley: expected finite values, got ${x}`)
      n++
      mean += (x - mean) / n
      up = alpha * up + (x - mean - delta)
      down = alpha * down + (x - mean + delta)
      minUp = Math.min(minUp, up)
      maxDown = Math.max(maxDown, down)
      atDrift = undefined
      if (n < minInstances) return false
      const drift = ((mode === 'up' || mode === 'both') && up - minUp > threshold) || ((mode === 'down' || mode === 'both') && maxDown - down > threshold)
      if (drift) {
        atDrift = stats()
        reset()
      }
      return drift
    },
    // Right after a detection: the state that triggered it (the test has started over).
    describe: () => atDrift ?? stats(),
    reset,
    save: () => ({ detector: 'page-hinkley', n, mean, up, minUp, down, maxDown }),
    restore: (state) => {
      checkSavedState(state, 'page-hinkley')
      const get = (f: string): number => savedNumber(state, 'page-hinkley', f)
      const v = { n: get('n'), mean: get('mean'), up: get('up'), minUp: get('minUp'), down: get('down'), maxDown: get('maxDown') }
      ;({ n, mean, up, minUp, down, maxDown } = v)
      atDrift = undefined
    },
  }
}
