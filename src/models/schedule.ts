// Learning-rate schedules: pure functions of the step (0-based count of updates done).

import { GradstreamError } from '../core/errors.ts'

export type Schedule = (step: number) => number

/** A JSON description of a schedule (stored in checkpoints; parsed by scheduleFromSpec). */
export type ScheduleSpec =
  | { readonly type: 'constant'; readonly lr: number }
  | { readonly type: 'step'; readonly lr: number; readonly every: number; readonly gamma: number }
  | { readonly type: 'exponential'; readonly lr: number; readonly gamma: number }
  | { readonly type: 'cosine'; readonly lr: number; readonly steps: number; readonly min?: number; readonly warmup?: number }

const positive = (what: string, v: number): void => {
  if (!(Number.isFinite(v) && v > 0)) throw new GradstreamError(`schedule: expected ${what} > 0, got ${v}`)
}

/** lr * gamma^floor(step / every). */
export const stepDecay = (lr: number, every: number, gamma: number): Schedule => {
  positive('every', every)
  return (step) => lr * Math.pow(gamma, Math.floor(step / every))
}

/** lr * gamma^step. */
export const exponentialDecay = (lr: number, gamma: number): Schedule => (step) => lr * Math.pow(gamma, step)

/**
 * Linear warm-up over `warmup` steps, then half a cosine from lr down to `min` at
 * `steps` (and `min` after). The shape PyTorch's CosineAnnealingLR traces per step.
 */
export const cosineDecay = (lr: number, steps: number, min = 0, warmup = 0): Schedule => {
  positive('steps', steps)
  return (step) => {
    if (step < warmup) return (lr * (step + 1)) / warmup
    const t = Math.min(1, (step - warmup) / Math.max(1, steps - warmup))
    return min + 0.5 * (lr - min) * (1 + Math.cos(Math.PI * t))
  }
}

export const scheduleFromSpec = (s: ScheduleSpec): Schedule => {
  positive('lr', s.lr)
  switch (s.type) {
    case 'constant':
      return () => s.lr
    case 'step':
      return stepDecay(s.lr, s.every, s.gamma)
    case 'exponential':
      return exponentialDecay(s.lr, s.gamma)
    case 'cosine':
      return cosineDecay(s.lr, s.steps, s.min ?? 0, s.warmup ?? 0)
    default:
      throw new GradstreamError(
        `schedule: expected type constant, step, exponential or cosine, got ${JSON.stringify((s as { type?: unknown }).type)}`,
      )
  }
}
