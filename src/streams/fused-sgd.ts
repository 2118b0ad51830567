// The batch-1 fast path of online learning: predict, score and learn one example with
// the optimizer step folded into the backward pass.
//
// It applies when the objective is a sequential of dense layers and parameter-free
// activations (relu, sigmoid, tanh, lecun_tanh, leaky_relu; flatten anywhere) trained
// with softmax cross-entropy, and the optimizer is SGD, momentum or Nesterov (any
// learning-rate schedule, any weight decay). `fusedPlan` reads that from the specs and
// says why not otherwise; online.ts then uses the generic path (objective.forward /
// backward + optimizer.update), which works for every model and optimizer.
//
// Purity, judged from outside. The learner keeps one private working copy of the flat
// parameters (and velocity) and mutates it in place: nothing outside ever sees it.
// `snapshot()` copies it into a fresh immutable Snapshot, so no emitted snapshot ever
// changes. The fused step is bit-identical to the generic step at batch 1 (same float32
// rounding points, ops/fused-dense.ts), so any step between two emitted snapshots can be
// recomputed by either path from the earlier one.
//
// Skipping. The generic path skips an update whose loss or gradient is not finite. Here
// the gradient of W is never stored, so finiteness is decided before any parameter is
// touched: every delta vector is checked, and since g[i,j] = fl(x[i] d[j]) is exact in
// double before rounding, all of W's gradient is finite iff fl(max|x| * max|d|) is
// (the largest product is the product of the largest magnitudes).

import * as E from 'fp-ts/lib/Either.js'
import type { JsonValue, LayerSpec } from '../models/layer.ts'
import type { AnyObjective } from '../models/objective.ts'
import type { OptState, Optimizer } from '../models/optimizers.ts'
import {
  leakyReluBackward,
  leakyReluForward,
  lecunTanhBackward,
  lecunTanhForward,
  reluBackward,
  reluForward,
  sigmoidBackward,
  sigmoidForward,
  tanhBackward,
  tanhForward,
} from '../ops/activations.ts'
import {
  biasMomentum,
  biasSgd,
  denseRowForward,
  denseRowInputGrad,
  denseRowMomentum,
  denseRowSgdFull,
  denseRowSgdSparse,
  maxAbsAt,
  maxAbsOrInf,
  nonZeros,
} from '../ops/fused-dense.ts'
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from '../ops/softmax.ts'
import type { F } from '../core/tensor.ts'
import { size } from '../core/tensor.ts'
import type { Layout } from '../core/tree.ts'
import type { LearnOutcome, Learner } from './learner.ts'
import type { Snapshot, StepMetrics } from './snapshot.ts'
import { makeSnapshot } from './snapshot.ts'

type Kernel = (out: F, a: F, n: number) => void
type BackKernel = (dx: F, dy: F, saved: F, n: number) => void

interface DenseStage {
  readonly kind: 'dense'
  readonly path: string
  readonly I: number
  readonly O: number
  /** Offsets of W [I, O] and b [O] in the flat parameters. */
  readonly w: number
  readonly b: number
}

interface ActStage {
  readonly kind: 'act'
  readonly type: string
  readonly n: number
  readonly forward: Kernel
  readonly backward: BackKernel
  /** Whether the derivative reads the activation's input or its output. */
  readonly uses: 'x' | 'y'
}

export type FusedStage = DenseStage | ActStage

export interface FusedPlan {
  readonly stages: readonly FusedStage[]
  readonly inSize: number
  readonly classes: number
  readonly update:
    | { readonly type: 'sgd'; readonly weightDecay: number }
    | { readonly type: 'momentum' | 'nesterov'; readonly momentum: number; readonly weightDecay: number }
}

const ACTIVATIONS: { readonly [type: string]: (spec: LayerSpec) => Omit<ActStage, 'kind' | 'type' | 'n'> } = {
  relu: () => ({ forward: reluForward, backward: reluBackward, uses: 'y' }),
  sigmoid: () => ({ forward: sigmoidForward, backward: sigmoidBackward, uses: 'y' }),
  tanh: () => ({ forward: tanhForward, backward: tanhBackward, uses: 'y' }),
  lecun_tanh: () => ({ forward: lecunTanhForward, backward: lecunTanhBackward, uses: 'x' }),
  leaky_relu: (s) => {
    const a = typeof s.a === 'number' ? s.a : 5
    return {
      forward: (y, x, n) => leakyReluForward(y, x, n, a),
      backward: (dx, dy, x, n) => leakyReluBackward(dx, dy, x, n, a),
      uses: 'x',
    }
  },
}

const isSpec = (v: JsonValue | undefined): v is LayerSpec =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { type?: unknown }).type === 'string'

/**
 * The stages of a (possibly nested) sequential spec, or why it cannot be fused.
 * `prefix` is the parameter path of the container ("" at the top).
 */
const stagesOf = (
  spec: LayerSpec,
  prefix: string,
  inSize: number,
  layout: Layout,
  out: FusedStage[],
): E.Either<string, number> => {
  const layers = spec.layers
  if (spec.type !== 'sequential' || !Array.isArray(layers)) return E.left(`the model is a ${spec.type}, not a sequential`)
  let n = inSize
  for (const child of layers) {
    if (!isSpec(child) || typeof child.name !== 'string') return E.left('a layer spec without a name')
    const name = `${prefix}${child.name}`
    const type = child.type
    if (type === 'flatten') continue
    if (type === 'sequential') {
      const r = stagesOf(child, `${name}.`, n, layout, out)
      if (E.isLeft(r)) return r
      n = r.right
      continue
    }
    if (type === 'dense') {
      const O = child.units
      if (typeof O !== 'number') return E.left(`${name}: a dense spec without units`)
      const wi = layout.names.indexOf(`${name}.W`)
      const bi = layout.names.indexOf(`${name}.b`)
      if (wi < 0 || bi < 0) return E.left(`${name}: parameters ${name}.W / ${name}.b not in the layout`)
      if (size(layout.shapes[wi]) !== n * O || size(layout.shapes[bi]) !== O)
        return E.left(`${name}: expected W [${n}, ${O}] and b [${O}] in the layout`)
      out.push({ kind: 'dense', path: name, I: n, O, w: layout.offsets[wi], b: layout.offsets[bi] })
      n = O
      continue
    }
    const act = ACTIVATIONS[type]
    if (act === undefined || !Object.hasOwn(ACTIVATIONS, type))
      return E.left(`${name}: layer type ${type} has no fused kernel (dense, flatten and ${Object.keys(ACTIVATIONS).join(', ')} have)`)
    out.push({ kind: 'act', type, n, ...act(child) })
  }
  return E.right(n)
}

/**
 * The fused plan for an objective, optimizer and parameter layout, or the reason the
 * generic path must be used.
 */
export const fusedPlan = (objective: AnyObjective, optimizer: Optimizer, layout: Layout): E.Either<string, FusedPlan> => {
  const spec = objective.spec
  if (spec.kind !== 'supervised') return E.left(`the objective is ${spec.kind}, not supervised`)
  const loss = spec.loss as LayerSpec | undefined
  if (loss?.type !== 'softmax_cross_entropy' || (loss.reduction ?? 'mean') !== 'mean')
    return E.left('the loss is not softmax cross-entropy (batch mean)')
  const o = optimizer.spec
  if (o.type === 'adam') return E.left('adam has no fused update (sgd, momentum and nesterov have)')
  const update =
    o.type === 'sgd'
      ? { type: 'sgd' as const, weightDecay: o.weightDecay ?? 0 }
      : { type: o.type, momentum: o.momentum ?? 0.9, weightDecay: o.weightDecay ?? 0 }
  const stages: FusedStage[] = []
  const inSize = size(objective.inShape)
  const r = stagesOf(spec.layer as LayerSpec, '', inSize, layout, stages)
  if (E.isLeft(r)) return r
  const dense = stages.filter((s): s is DenseStage => s.kind === 'dense')
  if (dense.length === 0) return E.left('the model has no dense layer')
  const covered = dense.reduce((n, s) => n + s.I * s.O + s.O, 0)
  if (covered !== layout.size) return E.left('the model has parameters outside its dense layers')
  return E.right({ stages, inSize, classes: r.right, update })
}

/** Upper bound on |W| above which the sparse SGD update is not used (well below 3.4e38). */
const SPARSE_LIMIT = 1e38
/** Relative slack for float32 rounding in the running bound (2^-24 < 1e-7). */
const SLACK = 1 + 1e-6

/**
 * A learner running the fused batch-1 step from `initial`. Only the stages of `plan`
 * are run: the caller has checked the plan against the objective (fusedPlan).
 */
export const fusedLearner = (plan: FusedPlan, optimizer: Optimizer, initial: Snapshot): Learner => {
  const nParams = initial.flat.length
  const work = Float32Array.from(initial.flat)
  const momentum = plan.update.type !== 'sgd'
  const mu = plan.update.type === 'sgd' ? 0 : plan.update.momentum
  const nesterov = plan.update.type === 'nesterov'
  const wd = plan.update.weightDecay
  const initialVelocity = initial.opt.slots.velocity?.all
  const velocity = momentum ? new Float32Array(nParams) : new Float32Array(0)
  if (momentum && initialVelocity !== undefined && 'data' in initialVelocity) velocity.set(initialVelocity.data as F)

  // Per stage: its output (acts[s + 1]) and the gradient w.r.t. its input (deltas[s]).
  const stages = plan.stages
  const S = stages.length
  const acts: Float32Array[] = [new Float32Array(plan.inSize)]
  const deltas: Float32Array[] = []
  for (const st of stages) acts.push(new Float32Array(st.kind === 'dense' ? st.O : st.n))
  for (const st of stages) deltas.push(new Float32Array(st.kind === 'dense' ? st.I : st.n))
  deltas.push(new Float32Array(plan.classes))
  const probs = new Float32Array(plan.classes)
  const cols = new Int32Array(Math.max(...stages.map((st) => (st.kind === 'dense' ? st.O : 0))))
  const target = new Float32Array(plan.classes)
  const firstDense = stages.findIndex((s) => s.kind === 'dense')
  // Views of the working parameters, fixed for the learner's life.
  const view = (off: number, n: number): Float32Array => work.subarray(off, off + n)
  const vview = (off: number, n: number): Float32Array => velocity.subarray(off, off + n)
  const Ws: Float32Array[] = []
  const bs: Float32Array[] = []
  const VWs: Float32Array[] = []
  const Vbs: Float32Array[] = []
  const nzs: Int32Array[] = []
  const nzCount = new Int32Array(S)
  const maxIn = new Float64Array(S)
  // Running upper bound of max|W| per dense stage (see denseRowSgdSparse's precondition).
  const bound = new Float64Array(S)
  stages.forEach((st, s) => {
    if (st.kind !== 'dense') {
      Ws.push(new Float32Array(0))
      bs.push(new Float32Array(0))
      VWs.push(new Float32Array(0))
      Vbs.push(new Float32Array(0))
      nzs.push(new Int32Array(0))
      return
    }
    Ws.push(view(st.w, st.I * st.O))
    bs.push(view(st.b, st.O))
    VWs.push(momentum ? vview(st.w, st.I * st.O) : new Float32Array(0))
    Vbs.push(momentum ? vview(st.b, st.O) : new Float32Array(0))
    nzs.push(new Int32Array(st.I))
    bound[s] = maxAbsOrInf(Ws[s], st.I * st.O)
  })

  let step = initial.step
  let optStep = initial.opt.step
  let seen = initial.seen
  let position = initial.position
  let lr = initial.lr
  let metrics: StepMetrics = initial.metrics
  let current: Snapshot | undefined = initial

  const forward = (x: Float32Array): void => {
    acts[0] = x
    for (let s = 0; s < S; s++) {
      const st = stages[s]
      const a = acts[s]
      const y = acts[s + 1]
      if (st.kind === 'dense') {
        const n = nonZeros(nzs[s], a, st.I)
        nzCount[s] = n
        maxIn[s] = maxAbsAt(a, nzs[s], n)
        denseRowForward(y, a, nzs[s], n, Ws[s], bs[s], st.O)
      } else st.forward(y, a, st.n)
    }
  }

  /** Deltas right to left (with the parameters before the update); false if a gradient is not finite. */
  const backward = (): boolean => {
    for (let s = S - 1; s >= 0; s--) {
      const st = stages[s]
      const dy = deltas[s + 1]
      if (st.kind === 'dense') {
        // g[i,j] = fl(x[i] dy[j]) is finite for all i, j iff fl(max|x| max|dy|) is; db = dy.
        if (!Number.isFinite(Math.fround(maxIn[s] * maxAbsOrInf(dy, st.O)))) return false
        if (s > firstDense) denseRowInputGrad(deltas[s], dy, Ws[s], st.I, st.O)
      } else if (s > firstDense) st.backward(deltas[s], dy, st.uses === 'x' ? acts[s] : acts[s + 1], st.n)
    }
    return true
  }

  const update = (rate: number): void => {
    for (let s = 0; s < S; s++) {
      const st = stages[s]
      if (st.kind !== 'dense') continue
      const x = acts[s]
      const dy = deltas[s + 1]
      const W = Ws[s]
      if (momentum) {
        denseRowMomentum(W, VWs[s], x, dy, st.I, st.O, rate, mu, wd, nesterov)
        biasMomentum(bs[s], Vbs[s], dy, st.O, rate, mu, wd, nesterov)
        continue
      }
      biasSgd(bs[s], dy, st.O, rate, wd)
      if (wd === 0) {
        // |p'| <= (|p| + lr |g|)(1 + 2^-24): a running bound proves every p finite, so
        // skipping the rows with x[i] = 0 is exact; past the limit, measure again.
        if (bound[s] >= SPARSE_LIMIT) bound[s] = maxAbsOrInf(W, st.I * st.O)
        if (bound[s] < SPARSE_LIMIT) {
          denseRowSgdSparse(W, x, nzs[s], nzCount[s], dy, st.O, rate, cols)
          bound[s] = (bound[s] + Math.abs(rate) * maxIn[s] * maxAbsOrInf(dy, st.O) * SLACK) * SLACK
          continue
        }
      }
      denseRowSgdFull(W, x, dy, st.I, st.O, rate, wd)
    }
  }

  const learnOne = (x: Float32Array, label: number): LearnOutcome => {
    forward(x)
    const logits = acts[S]
    const C = plan.classes
    let best = 0
    for (let c = 1; c < C; c++) if (logits[c] > logits[best]) best = c
    target[label] = 1
    const loss = softmaxCrossEntropyForward(probs, logits, target, 1, C)
    const rate = optimizer.lr(optStep)
    const hits = best === label ? 1 : 0
    let skipped: LearnOutcome['skipped']
    if (!Number.isFinite(loss)) skipped = 'non-finite loss'
    else {
      softmaxCrossEntropyBackward(deltas[S], probs, target, 1, C, 1)
      if (!backward()) skipped = 'non-finite gradient'
      else {
        update(rate)
        step++
        optStep++
      }
    }
    target[label] = 0
    seen++
    position++
    lr = rate
    metrics = skipped === undefined ? { loss, samples: 1, accuracy: hits } : { loss, samples: 1, accuracy: hits, skipped }
    current = undefined
    return { loss, hits, skipped }
  }

  return {
    fused: true,
    classes: plan.classes,
    learn: (x, labels, k) => {
      if (k !== 1 || labels === undefined) throw new Error('fusedLearner: expected one labelled example per step')
      return learnOne(x, labels[0])
    },
    snapshot: () => {
      if (current !== undefined) return current
      const opt: OptState = momentum
        ? { step: optStep, slots: { velocity: { all: { shape: [nParams], data: velocity.slice() } } } }
        : { step: optStep, slots: {} }
      current = makeSnapshot({
        step,
        epoch: initial.epoch,
        position,
        endOfEpoch: false,
        seen,
        flat: work.slice(),
        layout: initial.layout,
        opt,
        modelState: initial.modelState,
        key: initial.key,
        lr,
        metrics,
      })
      return current
    },
  }
}
