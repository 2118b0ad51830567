// Optimizers as values (the Optax shape): `init(params)` makes the state,
// `update(params, grads, state)` returns new parameters and state and changes nothing.
// State is a step counter plus named slots, each a tree shaped like the parameters
// (momentum's `velocity`, Adam's `m` and `v`), so it saves like parameters do.
// Conventions are PyTorch's (conformance/README.md, "Optimizers").

import { GradstreamError } from '../core/errors.ts'
import type { OptState } from '../core/opt-state.ts'
import { adamStep, momentumStep, sgdStep } from '../ops/optim.ts'
import type { F, Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, shapeEquals, showShape } from '../core/tensor.ts'
import type { Params } from '../core/tree.ts'
import { leaves, treeFromLeaves, zerosTree } from '../core/tree.ts'
import type { Schedule, ScheduleSpec } from './schedule.ts'
import { scheduleFromSpec } from './schedule.ts'

export type { OptState } from '../core/opt-state.ts'

/** A learning rate: a constant or a schedule spec (both JSON, so checkpoints keep them). */
export type LearningRate = number | ScheduleSpec

export type OptimizerSpec =
  | { readonly type: 'sgd'; readonly lr: LearningRate; readonly weightDecay?: number }
  | {
      readonly type: 'momentum' | 'nesterov'
      readonly lr: LearningRate
      readonly momentum?: number
      readonly weightDecay?: number
    }
  | {
      readonly type: 'adam'
      readonly lr: LearningRate
      readonly beta1?: number
      readonly beta2?: number
      readonly eps?: number
      readonly weightDecay?: number
    }

export interface Optimizer {
  readonly spec: OptimizerSpec
  /** The learning rate used by the update that takes state.step from `step` to step + 1. */
  readonly lr: Schedule
  init(params: Params): OptState
  update(params: Params, grads: Params, state: OptState): { params: Params; state: OptState }
}

const checkHyper = (opt: string, name: string, v: number, ok: (v: number) => boolean, expected: string): number => {
  if (!(typeof v === 'number' && Number.isFinite(v) && ok(v)))
    throw new GradstreamError(`${opt}: expected ${name} to be ${expected}, got ${String(v)}`)
  return v
}

const scheduleOf = (opt: string, lr: LearningRate): Schedule => {
  if (typeof lr === 'number') {
    checkHyper(opt, 'lr', lr, (v) => v > 0, 'a positive number')
    return () => lr
  }
  return scheduleFromSpec(lr)
}

/** Pairs the leaves of params with those of grads (and slots), checking shapes. */
const alignedLeaves = (opt: string, params: Params, other: Params, what: string): Tensor[] => {
  const ps = leaves(params)
  const os = new Map(leaves(other))
  return ps.map(([path, p]) => {
    const o = os.get(path)
    if (o === undefined) throw new GradstreamError(`${opt}: ${what} is missing ${path}`)
    if (!shapeEquals(o.shape, p.shape))
      throw new GradstreamError(`${opt}: expected ${what} ${path} of shape ${showShape(p.shape)}, got ${showShape(o.shape)}`)
    return o
  })
}

const like = (p: Tensor): F => alloc(dtypeOf(p.data), p.data.length)

const rebuild = (params: Params, datas: F[]): Params =>
  treeFromLeaves(leaves(params).map(([path, p], i) => [path, { shape: p.shape, data: datas[i] }] as const))

/** Plain SGD: p <- p - lr (g + wd p). */
export const sgd = (lr: LearningRate, options: { weightDecay?: number } = {}): Optimizer => {
  const wd = checkHyper('sgd', 'weightDecay', options.weightDecay ?? 0, (v) => v >= 0, 'a number >= 0')
  const schedule = scheduleOf('sgd', lr)
  return {
    spec: { type: 'sgd', lr, weightDecay: wd },
    lr: schedule,
    init: () => ({ step: 0, slots: {} }),
    update: (params, grads, state) => {
      const g = alignedLeaves('sgd', params, grads, 'grads')
      const rate = schedule(state.step)
      const out = leaves(params).map(([, p], i) => {
        const d = like(p)
        sgdStep(d, p.data, g[i].data, d.length, rate, wd)
        return d
      })
      return { params: rebuild(params, out), state: { step: state.step + 1, slots: {} } }
    },
  }
}

/** Momentum (PyTorch: v <- mu v + g, p <- p - lr v); nesterov: p <- p - lr (g + mu v). */
export const momentum = (
  lr: LearningRate,
  options: { momentum?: number; weightDecay?: number; nesterov?: boolean } = {},
): Optimizer => {
  const type = options.nesterov ? 'nesterov' : 'momentum'
  const mu = checkHyper(type, 'momentum', options.momentum ?? 0.9, (v) => v >= 0 && v < 1, 'in [0, 1)')
  const wd = checkHyper(type, 'weightDecay', options.weightDecay ?? 0, (v) => v >= 0, 'a number >= 0')
  const schedule = scheduleOf(type, lr)
  return {
    spec: { type, lr, momentum: mu, weightDecay: wd },
    lr: schedule,
    init: (params) => ({ step: 0, slots: { velocity: zerosTree(params) } }),
    update: (params, grads, state) => {
      const g = alignedLeaves(type, params, grads, 'grads')
      const v = alignedLeaves(type, params, state.slots.velocity ?? {}, 'state velocity')
      const rate = schedule(state.step)
      const ps: F[] = []
      const vs: F[] = []
      leaves(params).forEach(([, p], i) => {
        const pd = like(p)
        const vd = like(p)
        momentumStep(pd, vd, p.data, v[i].data, g[i].data, pd.length, rate, mu, wd, type === 'nesterov')
        ps.push(pd)
        vs.push(vd)
      })
      return { params: rebuild(params, ps), state: { step: state.step + 1, slots: { velocity: rebuild(params, vs) } } }
    },
  }
}

export const nesterov = (lr: LearningRate, options: { momentum?: number; weightDecay?: number } = {}): Optimizer =>
  momentum(lr, { ...options, nesterov: true })

/** Adam (PyTorch convention: bias-corrected, eps added after the square root). */
export const adam = (
  lr: LearningRate,
  options: { beta1?: number; beta2?: number; eps?: number; weightDecay?: number } = {},
): Optimizer => {
  const b1 = checkHyper('adam', 'beta1', options.beta1 ?? 0.9, (v) => v >= 0 && v < 1, 'in [0, 1)')
  const b2 = checkHyper('adam', 'beta2', options.beta2 ?? 0.999, (v) => v >= 0 && v < 1, 'in [0, 1)')
  const eps = checkHyper('adam', 'eps', options.eps ?? 1e-8, (v) => v > 0, 'a positive number')
  const wd = checkHyper('adam', 'weightDecay', options.weightDecay ?? 0, (v) => v >= 0, 'a number >= 0')
  const schedule = scheduleOf('adam', lr)
  return {
    spec: { type: 'adam', lr, beta1: b1, beta2: b2, eps, weightDecay: wd },
    lr: schedule,
    init: (params) => ({ step: 0, slots: { m: zerosTree(params), v: zerosTree(params) } }),
    update: (params, grads, state) => {
      const g = alignedLeaves('adam', params, grads, 'grads')
      const m = alignedLeaves('adam', params, state.slots.m ?? {}, 'state m')
      const v = alignedLeaves('adam', params, state.slots.v ?? {}, 'state v')
      const rate = schedule(state.step)
      const t = state.step + 1
      const ps: F[] = []
      const ms: F[] = []
      const vs: F[] = []
      leaves(params).forEach(([, p], i) => {
        const pd = like(p)
        const md = like(p)
        const vd = like(p)
        adamStep(pd, md, vd, p.data, m[i].data, v[i].data, g[i].data, pd.length, rate, b1, b2, eps, t, wd)
        ps.push(pd)
        ms.push(md)
        vs.push(vd)
      })
      return {
        params: rebuild(params, ps),
        state: { step: t, slots: { m: rebuild(params, ms), v: rebuild(params, vs) } },
      }
    },
  }
}

/** The optimizer a spec describes (what checkpoints store). */
export const optimizerFromSpec = (spec: OptimizerSpec): Optimizer => {
  switch (spec.type) {
    case 'sgd':
      return sgd(spec.lr, { weightDecay: spec.weightDecay })
    case 'momentum':
    case 'nesterov':
      return momentum(spec.lr, { momentum: spec.momentum, weightDecay: spec.weightDecay, nesterov: spec.type === 'nesterov' })
    case 'adam':
      return adam(spec.lr, spec)
    default:
      throw new GradstreamError(
        `optimizer: expected type sgd, momentum, nesterov or adam, got ${JSON.stringify((spec as { type?: unknown }).type)}`,
      )
  }
}
