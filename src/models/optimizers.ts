// Optimizers as values (the Optax shape): `init(params)` makes the state,
// `update(params, grads, state)` returns new parameters and state and changes nothing.
// State is a step counter plus named slots, each a tree shaped like the parameters
// (momentum's `velocity`, Adam's `m` and `v`), so it saves like parameters do.
// Conventions are PyTorch's (conformance/README.md, "Optimizers").
//
// The optimizer sees the parameter tree, one tensor at a time (the tensors may be views
// of one flat buffer, as a snapshot's are). Weight decay is L2, added to the gradient
// before the rule (g' = g + wd p), as torch.optim.SGD and torch.optim.Adam do with
// weight_decay (Adam's is therefore not AdamW's decoupled decay). It applies to the
// tensors the `decay` mask selects: by default 'weights', the tensors of rank >= 2
// (dense weights, conv kernels), not biases, normalisation scales or other per-unit
// vectors (rank 1), the usual practice (e.g. timm's and nanoGPT's param groups).

import { GradstreamError } from '../core/errors.ts'
import type { OptState } from '../core/opt-state.ts'
import { adamStep, momentumStep, sgdOuterRowsInPlace, sgdRowsInPlace, sgdStep } from '../ops/optim.ts'
import type { RowSparse } from '../core/row-hint.ts'
import { sparseRowsOf } from '../core/row-hint.ts'
import type { F, Shape, Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, shapeEquals, showShape } from '../core/tensor.ts'
import type { Params } from '../core/tree.ts'
import { leaves, treeFromLeaves, zerosTree } from '../core/tree.ts'
import type { Schedule, ScheduleSpec } from './schedule.ts'
import { scheduleFromSpec } from './schedule.ts'

export type { OptState } from '../core/opt-state.ts'

/** A learning rate: a constant or a schedule spec (both JSON, so checkpoints keep them). */
export type LearningRate = number | ScheduleSpec

/**
 * Which tensors weight decay applies to: 'weights' (default: rank >= 2, so not biases
 * or scales), 'all', or the exact parameter paths to decay (e.g. ['fc1.W', 'bn1.gamma']).
 * JSON, so a checkpoint keeps it.
 */
export type DecayMask = 'weights' | 'all' | readonly string[]

export type OptimizerSpec =
  | { readonly type: 'sgd'; readonly lr: LearningRate; readonly weightDecay?: number; readonly decay?: DecayMask }
  | {
      readonly type: 'momentum' | 'nesterov'
      readonly lr: LearningRate
      readonly momentum?: number
      readonly weightDecay?: number
      readonly decay?: DecayMask
    }
  | {
      readonly type: 'adam'
      readonly lr: LearningRate
      readonly beta1?: number
      readonly beta2?: number
      readonly eps?: number
      readonly weightDecay?: number
      readonly decay?: DecayMask
    }

export interface UpdateResult {
  readonly state: OptState
  /** Whether every parameter value written is finite. */
  readonly finite: boolean
}

/** Where an update is written: parameters and each slot, trees shaped like the parameters. */
export interface UpdateTarget {
  readonly params: Params
  readonly slots: { readonly [slot: string]: Params }
}

export interface Optimizer {
  readonly spec: OptimizerSpec
  /** The learning rate used by the update that takes state.step from `step` to step + 1. */
  readonly lr: Schedule
  init(params: Params): OptState
  update(params: Params, grads: Params, state: OptState): { params: Params; state: OptState }
  /**
   * The same update, bit for bit, written into `into` (its params and its slots, which
   * may be `params` and the state's slots themselves: every rule reads element i before
   * writing it). Returns the next state, whose slots are `into.slots`, and whether every
   * parameter written is finite. For a step that owns its output buffers (steps.ts: one
   * flat buffer per snapshot) or a learner that owns a private working copy (learner.ts);
   * never pass arrays someone else holds. `finiteParams`: the caller knows every element
   * of `params` is finite, so an in-place rule may skip the zero rows of a row-sparse
   * gradient (core/row-hint.ts), where it is the identity (SGD without decay).
   */
  updateInto(into: UpdateTarget, params: Params, grads: Params, state: OptState, finiteParams?: boolean): UpdateResult
  /** Whether weight decay applies to the tensor at `path` (the `decay` mask). */
  decays(path: string, shape: Shape): boolean
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
  const ps = leavesOf(params)
  const os = other === params ? ps : leaves(other)
  // Trees of the same shape list their leaves in the same order: pair them by position,
  // and by path only when the orders differ.
  const byPath = os.length === ps.length && os.every(([path], i) => path === ps[i][0]) ? undefined : new Map(os)
  return ps.map(([path, p], i) => {
    const o = byPath === undefined ? os[i][1] : byPath.get(path)
    if (o === undefined) throw new GradstreamError(`${opt}: ${what} is missing ${path}`)
    if (!shapeEquals(o.shape, p.shape))
      throw new GradstreamError(`${opt}: expected ${what} ${path} of shape ${showShape(p.shape)}, got ${showShape(o.shape)}`)
    return o
  })
}

// The leaves of the trees an optimizer sees again and again (the learner's working
// parameters and slots: the same tree objects every step), listed once. Trees are
// immutable values, so a tree object's leaves never change. Only the last tree is kept:
// WeakMaps keyed by every step's fresh trees kept each step's parameter buffers alive
// through the young-generation collections (a WeakMap's value goes only in a full
// collection), so they were promoted and V8 ran a full mark-compact every ~16 steps of
// W2: ~1.3 ms of helper-thread CPU per step, which on two cores is taken from the second
// training thread. (A Map cleared per tree did the same: its table lives in old space.)
let leafTree: Params | null = null
let leafList: Array<[string, Tensor]> = []
const leavesOf = (t: Params): Array<[string, Tensor]> => {
  if (t !== leafTree) {
    leafList = leaves(t)
    leafTree = t
  }
  return leafList
}
let alignedParams: Params | null = null
let alignedPairs: Array<readonly [Params, Tensor[]]> = []
const ALIGNED_PAIRS_MAX = 8
/** alignedLeaves for a tree paired with the last parameters seen (output params and slots): checked and paired once. */
const alignedLeavesOf = (opt: string, params: Params, other: Params, what: string): Tensor[] => {
  if (params !== alignedParams) {
    alignedParams = params
    alignedPairs = []
  }
  const hit = alignedPairs.find(([o]) => o === other)
  if (hit !== undefined) return hit[1]
  const a = alignedLeaves(opt, params, other, what)
  // An update pairs its parameters with a handful of trees (output, slots); a caller that
  // keeps the parameters and passes fresh trees must not grow the list without bound.
  if (alignedPairs.length >= ALIGNED_PAIRS_MAX) alignedPairs = []
  alignedPairs.push([other, a])
  return a
}

const like = (p: Tensor): F => alloc(dtypeOf(p.data), p.data.length)

const rebuild = (params: Params, datas: F[]): Params =>
  treeFromLeaves(leaves(params).map(([path, p], i) => [path, { shape: p.shape, data: datas[i] }] as const))

/**
 * One update rule over n elements, weight decay wd: reads p, g and the slots, writes pOut
 * and slotsOut. Every rule is elementwise (element i is read before it is written), so
 * the outputs may be the inputs themselves. Returns 1 when every pOut written is finite.
 */
type Rule = (pOut: F, slotsOut: readonly F[], p: F, g: F, slots: readonly F[], n: number, rate: number, t: number, wd: number) => number

/** A rule's shortcut for a row-sparse gradient, in place, with finite parameters; undefined: none. */
type RowRule = (p: F, g: RowSparse, rowLen: number, rate: number, wd: number) => number | undefined

const decayMask = (opt: string, mask: DecayMask | undefined): ((path: string, shape: Shape) => boolean) => {
  const m = mask ?? 'weights'
  if (m === 'weights') return (_path, shape) => shape.length >= 2
  if (m === 'all') return () => true
  if (Array.isArray(m) && m.every((p) => typeof p === 'string')) {
    const set = new Set(m)
    return (path) => set.has(path)
  }
  throw new GradstreamError(`${opt}: expected decay to be 'weights', 'all' or a list of parameter paths, got ${JSON.stringify(m)}`)
}

/** An Optimizer from its rule: the pure update and the in-place one share every line. */
const fromRule = (spec: OptimizerSpec, schedule: Schedule, slotNames: readonly string[], rule: Rule, rowRule?: RowRule): Optimizer => {
  const type = spec.type
  const wd = spec.weightDecay ?? 0
  const decays = decayMask(type, spec.decay)
  const updateInto = (into: UpdateTarget, params: Params, grads: Params, state: OptState, finiteParams = false): UpdateResult => {
    const ps = leavesOf(params)
    const g = alignedLeaves(type, params, grads, 'grads')
    const outP = alignedLeavesOf(type, params, into.params, 'output params')
    const slots = slotNames.map((s) => alignedLeavesOf(type, params, state.slots[s] ?? {}, `state ${s}`))
    const outS = slotNames.map((s) => alignedLeavesOf(type, params, into.slots[s] ?? {}, `output slot ${s}`))
    const rate = schedule(state.step)
    const t = state.step + 1
    let ok = 1
    ps.forEach(([path, p], i) => {
      const w = decays(path, p.shape) ? wd : 0
      const rows = sparseRowsOf(g[i])
      const sparse =
        rowRule !== undefined && finiteParams && rows !== undefined && outP[i].data === p.data && p.shape.length > 0
          ? rowRule(p.data, rows, p.data.length / p.shape[0], rate, w)
          : undefined
      ok &=
        sparse ??
        rule(outP[i].data, outS.map((o) => o[i].data), p.data, g[i].data, slots.map((s) => s[i].data), p.data.length, rate, t, w)
    })
    return { state: { step: t, slots: into.slots }, finite: ok === 1 }
  }
  return {
    spec,
    lr: schedule,
    decays,
    init: (params) => ({ step: 0, slots: Object.fromEntries(slotNames.map((s) => [s, zerosTree(params)])) }),
    update: (params, grads, state) => {
      const fresh = (): Params => rebuild(params, leaves(params).map(([, p]) => like(p)))
      const into: UpdateTarget = { params: fresh(), slots: Object.fromEntries(slotNames.map((s) => [s, fresh()])) }
      return { params: into.params, state: updateInto(into, params, grads, state).state }
    },
    updateInto,
  }
}

// Scratch for sgdOuterRowsInPlace's list of non-zero columns (never escapes a call).
let columns = new Int32Array(0)
const columnScratch = (n: number): Int32Array => (columns.length >= n ? columns : (columns = new Int32Array(n)))

const weightDecayOf = (opt: string, v: number | undefined): number =>
  checkHyper(opt, 'weightDecay', v ?? 0, (x) => x >= 0, 'a number >= 0')

/** Plain SGD: p <- p - lr (g + wd p). */
export const sgd = (lr: LearningRate, options: { weightDecay?: number; decay?: DecayMask } = {}): Optimizer => {
  const wd = weightDecayOf('sgd', options.weightDecay)
  const spec: OptimizerSpec = { type: 'sgd', lr, weightDecay: wd, ...(options.decay !== undefined ? { decay: options.decay } : {}) }
  return fromRule(
    spec,
    scheduleOf('sgd', lr),
    [],
    (pOut, _so, p, g, _s, n, rate, _t, w) => sgdStep(pOut, p, g, n, rate, w),
    (p, g, rowLen, rate, w) =>
      w !== 0
        ? undefined
        : g.outer !== undefined
          ? sgdOuterRowsInPlace(p, g.outer.u, g.outer.v, g.rows, rowLen, rate, columnScratch(rowLen))
          : sgdRowsInPlace(p, g.rowValues, g.rows, rowLen, rate),
  )
}

/** Momentum (PyTorch: v <- mu v + g, p <- p - lr v); nesterov: p <- p - lr (g + mu v). */
export const momentum = (
  lr: LearningRate,
  options: { momentum?: number; weightDecay?: number; nesterov?: boolean; decay?: DecayMask } = {},
): Optimizer => {
  const type = options.nesterov ? 'nesterov' : 'momentum'
  const mu = checkHyper(type, 'momentum', options.momentum ?? 0.9, (v) => v >= 0 && v < 1, 'in [0, 1)')
  const wd = weightDecayOf(type, options.weightDecay)
  const spec: OptimizerSpec = { type, lr, momentum: mu, weightDecay: wd, ...(options.decay !== undefined ? { decay: options.decay } : {}) }
  return fromRule(spec, scheduleOf(type, lr), ['velocity'], (pOut, [vOut], p, g, [v], n, rate, _t, w) =>
    momentumStep(pOut, vOut, p, v, g, n, rate, mu, w, type === 'nesterov'),
  )
}

export const nesterov = (lr: LearningRate, options: { momentum?: number; weightDecay?: number; decay?: DecayMask } = {}): Optimizer =>
  momentum(lr, { ...options, nesterov: true })

/**
 * Adam (PyTorch convention: bias-corrected, eps added after the square root). Weight
 * decay is torch.optim.Adam's L2 term (added to the gradient, so it passes through the
 * moments), not AdamW's decoupled decay.
 */
export const adam = (
  lr: LearningRate,
  options: { beta1?: number; beta2?: number; eps?: number; weightDecay?: number; decay?: DecayMask } = {},
): Optimizer => {
  const b1 = checkHyper('adam', 'beta1', options.beta1 ?? 0.9, (v) => v >= 0 && v < 1, 'in [0, 1)')
  const b2 = checkHyper('adam', 'beta2', options.beta2 ?? 0.999, (v) => v >= 0 && v < 1, 'in [0, 1)')
  const eps = checkHyper('adam', 'eps', options.eps ?? 1e-8, (v) => v > 0, 'a positive number')
  const wd = weightDecayOf('adam', options.weightDecay)
  const spec: OptimizerSpec = {
    type: 'adam',
    lr,
    beta1: b1,
    beta2: b2,
    eps,
    weightDecay: wd,
    ...(options.decay !== undefined ? { decay: options.decay } : {}),
  }
  return fromRule(spec, scheduleOf('adam', lr), ['m', 'v'], (pOut, [mOut, vOut], p, g, [m, v], n, rate, t, w) =>
    adamStep(pOut, mOut, vOut, p, m, v, g, n, rate, b1, b2, eps, t, w),
  )
}

/** The optimizer a spec describes (what checkpoints store). */
export const optimizerFromSpec = (spec: OptimizerSpec): Optimizer => {
  switch (spec.type) {
    case 'sgd':
      return sgd(spec.lr, { weightDecay: spec.weightDecay, decay: spec.decay })
    case 'momentum':
    case 'nesterov':
      return momentum(spec.lr, { momentum: spec.momentum, weightDecay: spec.weightDecay, nesterov: spec.type === 'nesterov', decay: spec.decay })
    case 'adam':
      return adam(spec.lr, spec)
    default:
      throw new GradstreamError(
        `optimizer: expected type sgd, momentum, nesterov or adam, got ${JSON.stringify((spec as { type?: unknown }).type)}`,
      )
  }
}
