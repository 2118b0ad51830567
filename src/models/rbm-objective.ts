// The Bernoulli-Bernoulli RBM as an Objective: trained by the same stream, optimizers
// and snapshots as every network (deep-learning-lecture-notes eqs 35-44; Hinton, "A
// practical guide to training RBMs", 2010; Tieleman, "Training RBMs using
// approximations to the likelihood gradient", 2008, for persistent CD).
//
// One training step on a batch x [B, m] of gray pixels in [0, 1]:
//   v0      the binary data the RBM sees: each pixel on with probability equal to its
//           intensity, drawn from foldIn(ctx.key, 0) ('sample', the default); or
//           x > 0.5 ('threshold'); or x itself ('none': mean-field data)
//   CD-k    Gibbs chain of k steps from v0 (CD) or from the persistent chains (PCD),
//           uniforms from foldIn(ctx.key, 1) (see rbm.ts for the per-step split)
//   grads   the CD statistics, negated so that a minimising optimizer ascends the
//           log-likelihood:  dW = -(v0^T ph0 - vk^T phk)/B,  da, db likewise (ops/rbm.ts)
//   loss    the reconstruction error of the batch: sum over units of
//           (p(v | p(h | v0)) - v0)^2, averaged over the batch (mean-field, no sampling).
//           It is a monitor, not the objective CD follows (that would be log p(v)).
//   state   PCD only: the chains' last visible samples, a fresh tensor each step (never
//           written after), so a snapshot's modelState is a plain immutable value and
//           replay is exact.
//
// ctx.key is forwardKey(runKey, step) (streams/snapshot.ts), so every draw is a function
// of the run key and the step. Evaluation mode (ctx.training false) draws nothing: the
// binarisation is the mode of each pixel's Bernoulli (x > 0.5) for 'sample' and
// 'threshold', and x for 'none'.

import * as E from 'fp-ts/lib/Either.js'
import { GradstreamError, LayerError } from '../core/errors.ts'
import { bernoulliSample } from '../ops/rbm.ts'
import type { Key } from '../core/rng.ts'
import { foldIn, uniform } from '../core/rng.ts'
import type { Shape, Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, showShape, size } from '../core/tensor.ts'
import type { Params } from '../core/tree.ts'
import type { ForwardCtx } from './layer.ts'
import type { AnyObjective, Batch, Forwarded, ModelSpec, Objective } from './objective.ts'
import type { RbmParams } from './rbm.ts'
import { contrastiveDivergence, freeEnergy, hiddenProbs, pseudoLogLikelihood, rbmInit, visibleProbs } from './rbm.ts'

/** How gray inputs in [0, 1] become the RBM's binary visible units (see the file header). */
export type Binarize = 'sample' | 'threshold' | 'none'
export const BINARIZE: readonly Binarize[] = ['sample', 'threshold', 'none']

export interface RbmObjectiveOptions {
  /** Visible units m (e.g. 784 for 28x28 digits). */
  readonly visible: number
  /** Hidden units n. */
  readonly hidden: number
  /** Gibbs steps per update, CD-k (default 1). */
  readonly k?: number
  /** Persistent CD: the negative chains continue from step to step in modelState. */
  readonly persistent?: boolean
  /** Persistent chains (default 32); a training batch may have at most this many rows. */
  readonly chains?: number
  /** Default 'sample'. */
  readonly binarize?: Binarize
  /** Mean visible activation of the training data: the visible bias starts at log(p / (1 - p)). */
  readonly dataMean?: ArrayLike<number>
  /** Per-sample input shape (default [visible]); any shape of `visible` elements is read flat. */
  readonly inShape?: Shape
}

/** PCD: the visible states of the persistent chains [chains, m]; CD: null. */
export type RbmState = { readonly chains: Tensor } | null

export interface RbmSaved {
  /** The CD "gradient" (null after an evaluation-mode forward, which computes none). */
  readonly grads: RbmParams | null
  readonly state: RbmState
}

export interface RbmObjective extends Objective<RbmSaved, RbmState> {
  readonly options: Required<Omit<RbmObjectiveOptions, 'dataMean' | 'inShape'>>
}

const NAME = 'rbm'

const asRbm = (p: Params): RbmParams => {
  const { W, a, b } = p as Partial<RbmParams>
  if (W === undefined || a === undefined || b === undefined || !('data' in W) || !('data' in a) || !('data' in b))
    throw new LayerError(NAME, `expected parameters {W, a, b}, got {${Object.keys(p).join(', ')}}`)
  return { W, a, b }
}

/** x [B, ...] as the [B, m] matrix of its rows (a view: the data is shared, not copied). */
const rows = (x: Tensor, m: number): Tensor => {
  const B = x.shape[0]
  if (x.shape.length < 2 || !(B >= 1) || size(x.shape.slice(1)) !== m)
    throw new LayerError(NAME, `expected input of shape [B, ...] with ${m} values per sample, got ${showShape(x.shape)}`)
  return x.shape.length === 2 ? x : { shape: [B, m], data: x.data }
}

/** 1[x > 0.5]: the most likely binary image under independent Bernoulli(x) pixels. */
export const threshold = (x: Tensor): Tensor => {
  const out = alloc(dtypeOf(x.data), x.data.length)
  for (let i = 0; i < out.length; i++) out[i] = x.data[i] > 0.5 ? 1 : 0
  return { shape: x.shape, data: out }
}

/** 1[u < x] with u from the key: a binary image with pixel i on with probability x_i. */
export const sampleBinary = (x: Tensor, key: Key): Tensor => {
  const out = alloc(dtypeOf(x.data), x.data.length)
  bernoulliSample(out, x.data, uniform(key, x.data.length, dtypeOf(x.data)), out.length)
  return { shape: x.shape, data: out }
}

/** The binary data the RBM sees for x [B, m] (see the file header). */
export const visibleData = (x: Tensor, binarize: Binarize, ctx: ForwardCtx): Tensor =>
  binarize === 'none' ? x : binarize === 'sample' && ctx.training ? sampleBinary(x, foldIn(ctx.key, 0)) : threshold(x)

/** Sum over units of (r - v)^2, averaged over rows: the reconstruction error. */
const squaredError = (r: Tensor, v: Tensor): number => {
  let s = 0
  for (let i = 0; i < r.data.length; i++) {
    const d = r.data[i] - v.data[i]
    s += d * d
  }
  return s / v.shape[0]
}

const EVAL: ForwardCtx = { training: false, key: { k0: 0, k1: 0 } }

const checkOptions = (o: RbmObjectiveOptions): E.Either<LayerError, Required<Omit<RbmObjectiveOptions, 'dataMean' | 'inShape'>>> => {
  const positive = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v > 0
  const r = {
    visible: o.visible,
    hidden: o.hidden,
    k: o.k ?? 1,
    persistent: o.persistent ?? false,
    chains: o.chains ?? 32,
    binarize: o.binarize ?? 'sample',
  }
  for (const name of ['visible', 'hidden', 'k', 'chains'] as const)
    if (!positive(r[name])) return E.left(new LayerError(NAME, `expected ${name} to be a positive integer, got ${String(r[name])}`))
  if (!BINARIZE.includes(r.binarize))
    return E.left(new LayerError(NAME, `expected binarize to be one of ${BINARIZE.join(', ')}, got ${String(r.binarize)}`))
  if (o.dataMean !== undefined && o.dataMean.length !== r.visible)
    return E.left(new LayerError(NAME, `expected a data mean of length ${r.visible}, got ${o.dataMean.length}`))
  const inShape = o.inShape ?? [r.visible]
  if (size(inShape) !== r.visible)
    return E.left(new LayerError(NAME, `expected a per-sample input of ${r.visible} values, got ${showShape(inShape)}`))
  return E.right(r)
}

/**
 * An RBM trained by CD-k (or PCD) as an Objective: params {W [m, n], a [m], b [n]}, the
 * CD statistics as its gradient, reconstruction error as its loss, and the persistent
 * chains (PCD) as its model state. Throws a LayerError on bad options.
 */
export const rbmObjective = (options: RbmObjectiveOptions): RbmObjective => {
  const checked = checkOptions(options)
  if (E.isLeft(checked)) throw checked.left
  const o = checked.right
  const { visible: m, hidden: n, k } = o
  const inShape = options.inShape ?? [m]
  const dataMean = options.dataMean === undefined ? undefined : Float64Array.from(options.dataMean)

  const forward = (params: Params, state: RbmState, batch: Batch, ctx: ForwardCtx): Forwarded<RbmSaved> => {
    const p = asRbm(params)
    const v0 = visibleData(rows(batch.x, m), o.binarize, ctx)
    const B = v0.shape[0]
    if (!ctx.training) {
      const outputs = visibleProbs(p, hiddenProbs(p, v0))
      return { loss: squaredError(outputs, v0), outputs, saved: { grads: null, state } }
    }
    let start = v0
    let chains: Tensor | undefined
    if (o.persistent) {
      if (state === null) throw new GradstreamError('rbm: expected persistent chains in the model state (from init), got null')
      chains = state.chains
      const C = chains.shape[0]
      if (B > C) throw new GradstreamError(`rbm: expected at most ${C} rows per batch (the persistent chains), got ${B}`)
      start = B === C ? chains : { shape: [B, m], data: chains.data.subarray(0, B * m) }
    }
    const cd = contrastiveDivergence(p, v0, foldIn(ctx.key, 1), k, start)
    const outputs = visibleProbs(p, cd.ph0)
    let next: RbmState = null
    if (chains !== undefined) {
      // The chains that ran this step continue from their last sample; any others (a
      // short last batch) are carried over unchanged.
      const data = alloc(dtypeOf(chains.data), chains.data.length)
      data.set(chains.data)
      data.set(cd.vk.data, 0)
      next = { chains: { shape: chains.shape, data } }
    }
    return { loss: squaredError(outputs, v0), outputs, saved: { grads: cd.grads, state: next } }
  }

  return {
    spec: { kind: NAME, inShape: [...inShape], visible: m, hidden: n, k, persistent: o.persistent, chains: o.chains, binarize: o.binarize },
    inShape,
    task: 'reconstruction',
    options: o,
    init: (key) =>
      E.tryCatch(
        () => {
          const params = rbmInit(foldIn(key, 0), m, n, dataMean)
          if (!o.persistent) return { params: params as unknown as Params, state: null }
          // Chains start as samples of the bias-only model p(v) = sigma(a): the data's
          // pixel marginals when dataMean is given, else fair coins.
          const pv = Float32Array.from(params.a.data, (a) => 1 / (1 + Math.exp(-a)))
          const start = new Float32Array(o.chains * m)
          const u = uniform(foldIn(key, 1), o.chains * m)
          for (let r = 0; r < o.chains; r++) bernoulliSample(start.subarray(r * m), pv, u.subarray(r * m), m)
          return { params: params as unknown as Params, state: { chains: { shape: [o.chains, m], data: start } } }
        },
        (e) => (e instanceof LayerError ? e : new LayerError(NAME, (e as Error).message)),
      ),
    forward,
    backward: (_params, _state, _batch, fwd) => {
      if (fwd.saved.grads === null)
        throw new GradstreamError('rbm: backward needs a training-mode forward (evaluation computes no CD statistics)')
      return { grads: fwd.saved.grads as unknown as Params, state: fwd.saved.state }
    },
    predict: (params, x) => forward(params, null, { x, y: x, epoch: 0, position: 0 }, EVAL).outputs,
  }
}

/** E(v, h) = -a.v - b.h - v^T W h per row (eq 36), for v [B, m] and h [B, n]. */
export const rbmEnergy = (params: Params, v: Tensor, h: Tensor): Tensor => {
  const p = asRbm(params)
  const [m, n] = p.W.shape
  const B = v.shape[0]
  if (v.shape.length !== 2 || v.shape[1] !== m || h.shape.length !== 2 || h.shape[1] !== n || h.shape[0] !== B)
    throw new LayerError(NAME, `expected v [B, ${m}] and h [B, ${n}], got ${showShape(v.shape)} and ${showShape(h.shape)}`)
  const out = alloc(dtypeOf(v.data), B)
  const W = p.W.data
  for (let r = 0; r < B; r++) {
    let e = 0
    for (let i = 0; i < m; i++) {
      const vi = v.data[r * m + i]
      if (vi === 0) continue
      let wh = 0
      for (let j = 0; j < n; j++) wh += W[i * n + j] * h.data[r * n + j]
      e -= vi * (p.a.data[i] + wh)
    }
    for (let j = 0; j < n; j++) e -= p.b.data[j] * h.data[r * n + j]
    out[r] = e
  }
  return { shape: [B], data: out }
}

/**
 * k steps of block Gibbs sampling from v: h ~ p(h | v) (eq 41), v ~ p(v | h) (eq 40).
 * Step s draws from foldIn(key, 2s) and foldIn(key, 2s + 1), the split CD uses, so this is
 * the chain contrastiveDivergence(p, v, key, k) runs. Returns the last visible and hidden samples.
 */
export const gibbsSample = (params: Params, v: Tensor, key: Key, k = 1): { readonly v: Tensor; readonly h: Tensor } => {
  const p = asRbm(params)
  if (!Number.isInteger(k) || k < 1) throw new LayerError(NAME, `expected k to be a positive integer, got ${k}`)
  let vs = v
  let hs = v
  for (let s = 0; s < k; s++) {
    hs = sampleBinary(hiddenProbs(p, vs), foldIn(key, 2 * s))
    vs = sampleBinary(visibleProbs(p, hs), foldIn(key, 2 * s + 1))
  }
  return { v: vs, h: hs }
}

/** The mean of each input unit over a data set x [N, ...]: the `dataMean` option. */
export const visibleMean = (x: Tensor): Float64Array => {
  const N = x.shape[0]
  const m = size(x.shape.slice(1))
  const out = new Float64Array(m)
  for (let r = 0; r < N; r++) for (let i = 0; i < m; i++) out[i] += x.data[r * m + i]
  for (let i = 0; i < m; i++) out[i] /= N
  return out
}

/**
 * The objective a spec describes (checkpoints, worker threads). The spec has no data mean,
 * so a rebuilt objective's init starts the visible biases at 0; training from a snapshot
 * or a checkpoint is unaffected (init is not called).
 */
export const rbmObjectiveFromSpec = (spec: ModelSpec): E.Either<GradstreamError, AnyObjective> =>
  E.tryCatch(
    () =>
      rbmObjective({
        visible: spec.visible as number,
        hidden: spec.hidden as number,
        k: spec.k as number,
        persistent: spec.persistent as boolean,
        chains: spec.chains as number,
        binarize: spec.binarize as Binarize,
        inShape: spec.inShape,
      }) as unknown as AnyObjective,
    (e) => (e instanceof GradstreamError ? e : new GradstreamError(String(e))),
  )

/** p(h = 1 | v) of the evaluation view of x: the RBM's features of a batch, [B, n]. */
export const rbmFeatures = (params: Params, x: Tensor, binarize: Binarize = 'sample'): Tensor => {
  const p = asRbm(params)
  return hiddenProbs(p, visibleData(rows(x, p.W.shape[0]), binarize, EVAL))
}

export interface RbmMonitor {
  /** Reconstruction error (squared error summed over units, mean over samples). */
  readonly reconTrain: number
  readonly reconTest: number
  /** Stochastic pseudo-log-likelihood per sample (rbm.ts), on x > 0.5. */
  readonly pllTrain: number
  readonly pllTest: number
  /** Mean free energy F(v) of each set (v = x > 0.5), and test minus train. */
  readonly freeEnergyTrain: number
  readonly freeEnergyTest: number
  readonly freeEnergyGap: number
}

const meanOf = (t: Tensor): number => {
  let s = 0
  for (let i = 0; i < t.data.length; i++) s += t.data[i]
  return s / t.data.length
}

/**
 * The per-epoch monitors of Hinton's guide (sec. 5-6): reconstruction error, pseudo-
 * log-likelihood, and the free-energy gap between held-out and training data (it grows
 * when the model overfits). Give both sets the same size for a fair gap. Deterministic:
 * the PLL's flipped units come from `key` (use one key for every epoch, so the epochs
 * are compared on the same flips).
 */
export const rbmMonitor = (params: Params, train: Tensor, test: Tensor, key: Key, binarize: Binarize = 'sample'): RbmMonitor => {
  const p = asRbm(params)
  const m = p.W.shape[0]
  const recon = (x: Tensor): number => {
    const v = visibleData(rows(x, m), binarize, EVAL)
    return squaredError(visibleProbs(p, hiddenProbs(p, v)), v)
  }
  const vTrain = threshold(rows(train, m))
  const vTest = threshold(rows(test, m))
  const fTrain = meanOf(freeEnergy(p, vTrain))
  const fTest = meanOf(freeEnergy(p, vTest))
  return {
    reconTrain: recon(train),
    reconTest: recon(test),
    pllTrain: pseudoLogLikelihood(p, vTrain, foldIn(key, 0)),
    pllTest: pseudoLogLikelihood(p, vTest, foldIn(key, 1)),
    freeEnergyTrain: fTrain,
    freeEnergyTest: fTest,
    freeEnergyGap: fTest - fTrain,
  }
}
