// Bernoulli-Bernoulli restricted Boltzmann machine (deep-learning-lecture-notes eqs 35-44):
// energy E(v, h) = -a.v - b.h - v^T W h, conditionals p(h|v) = sigma(v W + b) and
// p(v|h) = sigma(h W^T + a), free energy F(v) = -a.v - sum_j softplus(b_j + (v W)_j).
//
// Training is contrastive divergence: the CD statistics, negated, are a "gradient"
// tree {W, a, b} that flows into the same optimizers and snapshots like every other
// model. Every Bernoulli draw compares against uniforms, which come from a key (or are
// given, to reproduce a recorded chain): Gibbs step s of a CD call draws its hidden
// uniforms from foldIn(key, 2s) and its visible uniforms from foldIn(key, 2s + 1).

import { GradstreamError } from '../core/errors.ts'
import { bernoulliSample, cdGradients, rbmFreeEnergy, rbmHiddenProbs, rbmVisibleProbs, softplus } from '../ops/rbm.ts'
import type { Key } from '../core/rng.ts'
import { foldIn, normal, uniform } from '../core/rng.ts'
import type { F, Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, showShape } from '../core/tensor.ts'

export type RbmParams = { readonly W: Tensor; readonly a: Tensor; readonly b: Tensor }

const dims = (p: RbmParams, v: Tensor, what = 'v'): [number, number, number] => {
  const [m, n] = p.W.shape
  if (v.shape.length !== 2 || v.shape[1] !== m || v.shape[0] < 1)
    throw new GradstreamError(`rbm: expected ${what} of shape [B, ${m}], got ${showShape(v.shape)}`)
  return [v.shape[0], m, n]
}

/**
 * Fresh parameters: W ~ N(0, 0.01^2), b = 0, and a = log(p / (1 - p)) for the mean
 * visible activations p of the data when given (Hinton's practical guide, sec. 8), else 0.
 */
export const rbmInit = (key: Key, visible: number, hidden: number, dataMean?: ArrayLike<number>): RbmParams => {
  for (const [name, v] of [['visible', visible], ['hidden', hidden]] as const)
    if (!Number.isInteger(v) || v <= 0) throw new GradstreamError(`rbm: expected ${name} to be a positive integer, got ${v}`)
  const a = new Float32Array(visible)
  if (dataMean) {
    if (dataMean.length !== visible)
      throw new GradstreamError(`rbm: expected a data mean of length ${visible}, got ${dataMean.length}`)
    for (let i = 0; i < visible; i++) {
      const q = Math.min(Math.max(dataMean[i], 1e-3), 1 - 1e-3)
      a[i] = Math.log(q / (1 - q))
    }
  }
  return {
    W: { shape: [visible, hidden], data: normal(key, visible * hidden, 'float32', 0, 0.01) },
    a: { shape: [visible], data: a },
    b: { shape: [hidden], data: new Float32Array(hidden) },
  }
}

/** p(h = 1 | v) = sigma(v W + b), [B, n]. */
export const hiddenProbs = (p: RbmParams, v: Tensor): Tensor => {
  const [B, m, n] = dims(p, v)
  const ph = alloc(dtypeOf(v.data), B * n)
  rbmHiddenProbs(ph, v.data, p.W.data, p.b.data, B, m, n)
  return { shape: [B, n], data: ph }
}

/** p(v = 1 | h) = sigma(h W^T + a), [B, m]. */
export const visibleProbs = (p: RbmParams, h: Tensor): Tensor => {
  const [m, n] = p.W.shape
  if (h.shape.length !== 2 || h.shape[1] !== n)
    throw new GradstreamError(`rbm: expected h of shape [B, ${n}], got ${showShape(h.shape)}`)
  const B = h.shape[0]
  const pv = alloc(dtypeOf(h.data), B * m)
  rbmVisibleProbs(pv, h.data, p.W.data, p.a.data, B, m, n)
  return { shape: [B, m], data: pv }
}

/** F(v) per row, [B]. */
export const freeEnergy = (p: RbmParams, v: Tensor): Tensor => {
  const [B, m, n] = dims(p, v)
  const out = alloc(dtypeOf(v.data), B)
  rbmFreeEnergy(out, alloc(dtypeOf(v.data), B * n), v.data, p.W.data, p.a.data, p.b.data, B, m, n)
  return { shape: [B], data: out }
}

const sample = (probs: Tensor, u: F): Tensor => {
  if (u.length !== probs.data.length)
    throw new GradstreamError(`rbm: expected ${probs.data.length} uniforms, got ${u.length}`)
  const s = alloc(dtypeOf(probs.data), probs.data.length)
  bernoulliSample(s, probs.data, u, s.length)
  return { shape: probs.shape, data: s }
}

/** Uniforms for each Gibbs step: h[s] is [B, n], v[s] is [B, m]. */
export interface GibbsUniforms {
  readonly h: readonly F[]
  readonly v: readonly F[]
}

export interface CdResult {
  /** p(h | v0), the positive phase. */
  readonly ph0: Tensor
  /** The first hidden sample and visible reconstruction (probabilities and sample). */
  readonly h0: Tensor
  readonly pv1: Tensor
  readonly v1: Tensor
  /** The chain's end after k steps (the negative phase): sample vk and p(h | vk). */
  readonly vk: Tensor
  readonly phk: Tensor
  /** The CD gradient: minimising with it performs CD ascent on the log-likelihood. */
  readonly grads: RbmParams
}

/**
 * CD-k from explicit uniforms: positive phase from the data v0; the chain starts at
 * `start` (v0 for CD, the persistent chain for PCD) and runs k Gibbs steps
 * h ~ p(h|v), v ~ p(v|h); the negative phase is the last visible sample and its
 * hidden probabilities.
 */
export const contrastiveDivergenceWith = (
  p: RbmParams,
  v0: Tensor,
  uniforms: GibbsUniforms,
  k: number,
  start: Tensor = v0,
): CdResult => {
  const [B, m, n] = dims(p, v0)
  if (dims(p, start, 'the chain start')[0] !== B)
    throw new GradstreamError(`rbm: expected a chain of ${B} rows (the batch), got ${start.shape[0]}`)
  if (!Number.isInteger(k) || k < 1) throw new GradstreamError(`rbm: expected k to be a positive integer, got ${k}`)
  if (uniforms.h.length < k || uniforms.v.length < k)
    throw new GradstreamError(`rbm: expected uniforms for ${k} Gibbs steps, got ${Math.min(uniforms.h.length, uniforms.v.length)}`)
  const ph0 = hiddenProbs(p, v0)
  let v = start
  let ph = start === v0 ? ph0 : hiddenProbs(p, start)
  let h0: Tensor | undefined
  let pv1: Tensor | undefined
  let v1: Tensor | undefined
  for (let s = 0; s < k; s++) {
    const h = sample(ph, uniforms.h[s])
    const pv = visibleProbs(p, h)
    v = sample(pv, uniforms.v[s])
    ph = hiddenProbs(p, v)
    if (s === 0) {
      h0 = h
      pv1 = pv
      v1 = v
    }
  }
  const dt = dtypeOf(v0.data)
  const dW = alloc(dt, m * n)
  const da = alloc(dt, m)
  const db = alloc(dt, n)
  cdGradients(dW, da, db, alloc(dt, m * n), v0.data, ph0.data, v.data, ph.data, B, m, n)
  return {
    ph0,
    h0: h0 as Tensor,
    pv1: pv1 as Tensor,
    v1: v1 as Tensor,
    vk: v,
    phk: ph,
    grads: { W: { shape: p.W.shape, data: dW }, a: { shape: p.a.shape, data: da }, b: { shape: p.b.shape, data: db } },
  }
}

/** The uniforms a key provides for k Gibbs steps on a batch of B (see the file header). */
export const gibbsUniforms = (key: Key, k: number, B: number, m: number, n: number, dtype: 'float32' | 'float64'): GibbsUniforms => ({
  h: Array.from({ length: k }, (_, s) => uniform(foldIn(key, 2 * s), B * n, dtype)),
  v: Array.from({ length: k }, (_, s) => uniform(foldIn(key, 2 * s + 1), B * m, dtype)),
})

/** CD-k (start = v0) or persistent CD (start = the chain), uniforms from the key. */
export const contrastiveDivergence = (p: RbmParams, v0: Tensor, key: Key, k = 1, start: Tensor = v0): CdResult => {
  const [B, m, n] = dims(p, start, 'the chain start')
  return contrastiveDivergenceWith(p, v0, gibbsUniforms(key, k, B, m, n, dtypeOf(v0.data)), k, start)
}

/** Mean squared error of the mean-field reconstruction p(v | p(h | v)) against v. */
export const reconstructionError = (p: RbmParams, v: Tensor): number => {
  const r = visibleProbs(p, hiddenProbs(p, v))
  let s = 0
  for (let i = 0; i < r.data.length; i++) {
    const d = r.data[i] - v.data[i]
    s += d * d
  }
  return s / v.shape[0]
}

/**
 * log Z = log sum_{v,h} e^{-E(v,h)}, by brute force over the smaller layer (2^min(m,n)
 * terms, each summed analytically over the other layer). For small models only.
 */
export const logPartition = (p: RbmParams): number => {
  const [m, n] = p.W.shape
  const small = Math.min(m, n)
  if (small > 24) throw new GradstreamError(`rbm: logPartition enumerates 2^min(m, n) states; expected min(m, n) <= 24, got ${small}`)
  const W = p.W.data
  const a = p.a.data
  const b = p.b.data
  const terms: number[] = []
  const overVisible = m <= n
  const count = 2 ** small
  for (let s = 0; s < count; s++) {
    // bit i of s (most significant first) is unit i of the enumerated layer
    let t = 0
    if (overVisible) {
      for (let i = 0; i < m; i++) if ((s >> (m - 1 - i)) & 1) t += a[i]
      for (let j = 0; j < n; j++) {
        let z = b[j]
        for (let i = 0; i < m; i++) if ((s >> (m - 1 - i)) & 1) z += W[i * n + j]
        t += softplus(z)
      }
    } else {
      for (let j = 0; j < n; j++) if ((s >> (n - 1 - j)) & 1) t += b[j]
      for (let i = 0; i < m; i++) {
        let z = a[i]
        for (let j = 0; j < n; j++) if ((s >> (n - 1 - j)) & 1) z += W[i * n + j]
        t += softplus(z)
      }
    }
    terms.push(t)
  }
  const mx = Math.max(...terms)
  let sum = 0
  for (const t of terms) sum += Math.exp(t - mx)
  return mx + Math.log(sum)
}

/** log p(v) = -F(v) - log Z per row (small models: see logPartition). */
export const logProb = (p: RbmParams, v: Tensor, logZ = logPartition(p)): Tensor => {
  const f = freeEnergy(p, v)
  const out = alloc(dtypeOf(v.data), f.data.length)
  for (let i = 0; i < out.length; i++) out[i] = -f.data[i] - logZ
  return { shape: f.shape, data: out }
}

/**
 * Stochastic pseudo-log-likelihood per sample: m log sigma(F(v~) - F(v)), v~ being v
 * with one visible unit (chosen from the key per row) flipped. Its mean over a data
 * set estimates sum_i log p(v_i | v_-i) without the partition function.
 */
export const pseudoLogLikelihood = (p: RbmParams, v: Tensor, key: Key): number => {
  const [B, m] = dims(p, v)
  const flipped = Float64Array.from(v.data)
  const u = uniform(key, B, 'float64')
  for (let r = 0; r < B; r++) {
    const i = Math.min(m - 1, Math.floor(u[r] * m))
    flipped[r * m + i] = 1 - flipped[r * m + i]
  }
  const pv64: RbmParams = {
    W: { shape: p.W.shape, data: Float64Array.from(p.W.data) },
    a: { shape: p.a.shape, data: Float64Array.from(p.a.data) },
    b: { shape: p.b.shape, data: Float64Array.from(p.b.data) },
  }
  const f0 = freeEnergy(pv64, { shape: v.shape, data: Float64Array.from(v.data) }).data
  const f1 = freeEnergy(pv64, { shape: v.shape, data: flipped }).data
  let s = 0
  // log sigma(d) = -softplus(-d)
  for (let r = 0; r < B; r++) s += -m * softplus(-(f1[r] - f0[r]))
  return s / B
}
