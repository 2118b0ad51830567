// onlineStandardize(): online standardisation of the features, River's StandardScaler as
// a layer with state (layer.ts), so raw, badly scaled features can stream into a model.
//
//   state       count n [1], mean [S], m2 [S] (sum of squared deviations), Float64, per
//               element of the per-sample input (S = its size: a feature, or a pixel)
//   training    FIRST the statistics take in the batch x[k, S] (Chan, Golub and LeVeque's
//               pairwise update; for k = 1 it is Welford's):
//                 d = mean_b - mean,  n' = n + k,  mean' = mean + d k / n',
//                 m2' = m2 + m2_b + d^2 n k / n'
//               THEN x is scaled with the updated statistics (River's pipeline learn_one:
//               the scaler learns the record, then transforms it for the next step);
//   evaluation  x is scaled with the state as it is (prediction updates nothing).
//   scaling     y = (x - mean) / sd,  sd = sqrt(m2 / n) (population variance, River's);
//               y = 0 where sd = 0 (River's safe_div: before any record, or a constant
//               feature).
//   vjp         dx = dy / sd (0 where sd = 0): the statistics are treated as constants.
//               In training they depend on x too; that derivative is left out on purpose
//               (it is what a scaler in front of a model means, and as the first layer no
//               one reads its dx). In evaluation the vjp is exact (gradCheck).
//
// The layer has no parameters. Float64 statistics make every update exact to double
// precision and the same bits on every run; the state is saved in checkpoints (F64) and
// resumed with them. A forward without a state is an error: there is nothing to scale with.
// In sharded training (microbatches > 1, shards.ts) the shards' states are averaged, which
// is not Chan's merge: use the layer with one shard (online learning never shards).

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { LayerError } from '../core/errors.ts'
import type { F, Shape, Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, showShape, size } from '../core/tensor.ts'
import { defineLayer } from './define.ts'
import type { Layer, LayerState } from './layer.ts'
import { checkCotangent, expectValidShape, noParams } from './layer.ts'
import { withLazyDx } from './lazy.ts'
import type { Params } from '../core/tree.ts'

export type OnlineStandardizeState = { readonly count: Tensor; readonly mean: Tensor; readonly m2: Tensor }

export interface OnlineStandardizeSaved {
  readonly shape: Shape
  /** 1 / sd per element (0 where sd = 0). */
  readonly scale: Float64Array
}

const name = 'online_standardize'

const isTensor = (t: unknown): t is Tensor =>
  typeof t === 'object' && t !== null && 'data' in t && (t.data instanceof Float64Array || t.data instanceof Float32Array)

const stateOf = (state: LayerState | null | undefined, S: number, training: boolean): OnlineStandardizeState => {
  const s = state as Partial<OnlineStandardizeState> | null | undefined
  if (s == null || !isTensor(s.count) || !isTensor(s.mean) || !isTensor(s.m2))
    throw new LayerError(
      name,
      `expected running statistics {count, mean, m2} as state in ${training ? 'training' : 'evaluation'}, got ${state == null ? 'none' : 'another state'}`,
    )
  if (s.count.data.length !== 1 || s.mean.data.length !== S || s.m2.data.length !== S)
    throw new LayerError(
      name,
      `expected state count [1], mean [${S}], m2 [${S}], got ${showShape(s.count.shape)}, ${showShape(s.mean.shape)}, ${showShape(s.m2.shape)}`,
    )
  return s as OnlineStandardizeState
}

// count', mean', m2' of the statistics (n, mean, m2) and the batch x[k, S]   (Chan et al. 1979)
export function standardizeUpdate(mean: Float64Array, m2: Float64Array, n: number, x: F, k: number, S: number): number {
  const bm = new Float64Array(S)
  for (let i = 0; i < k; i++) for (let j = 0; j < S; j++) bm[j] += x[i * S + j]
  for (let j = 0; j < S; j++) bm[j] /= k
  const n2 = n + k
  for (let j = 0; j < S; j++) {
    let bm2 = 0
    for (let i = 0; i < k; i++) {
      const e = x[i * S + j] - bm[j]
      bm2 += e * e
    }
    const d = bm[j] - mean[j]
    mean[j] += (d * k) / n2
    m2[j] += bm2 + (d * d * n * k) / n2
  }
  return n2
}

// y[k, S] = (x - mean) * scale,  scale = 1 / sqrt(m2 / n) (0 where that is not finite or 0)
export function standardizeForward(y: F, scale: Float64Array, x: F, mean: ArrayLike<number>, m2: ArrayLike<number>, n: number, k: number, S: number): void {
  for (let j = 0; j < S; j++) {
    const sd = n > 0 ? Math.sqrt(m2[j] / n) : 0
    scale[j] = sd > 0 ? 1 / sd : 0
  }
  for (let i = 0; i < k; i++)
    for (let j = 0; j < S; j++) {
      const o = i * S + j
      y[o] = scale[j] === 0 ? 0 : (x[o] - mean[j]) * scale[j]
    }
}

// dx[k, S] = dy * scale                       (the statistics as constants)
export function standardizeBackward(dx: F, dy: F, scale: Float64Array, k: number, S: number): void {
  for (let i = 0; i < k; i++) for (let j = 0; j < S; j++) dx[i * S + j] = dy[i * S + j] * scale[j]
}

const create = (): Layer<Params, OnlineStandardizeSaved> => ({
  spec: { type: name },
  init: (_key, inShape) =>
    pipe(
      expectValidShape(name, inShape),
      E.map((s) => {
        const S = size(s)
        return {
          params: noParams,
          outShape: s,
          state: {
            count: { shape: [1], data: new Float64Array(1) },
            mean: { shape: [S], data: new Float64Array(S) },
            m2: { shape: [S], data: new Float64Array(S) },
          },
        }
      }),
    ),
  forward: (_p, x, ctx, state) => {
    const k = x.shape[0]
    if (x.shape.length < 2 || !(k >= 1))
      throw new LayerError(name, `expected input of shape [B, ...features], got ${showShape(x.shape)}`)
    const S = x.data.length / k
    const st = stateOf(state, S, ctx.training)
    let n = st.count.data[0]
    let mean: ArrayLike<number> = st.mean.data
    let m2: ArrayLike<number> = st.m2.data
    let next: OnlineStandardizeState | undefined
    if (ctx.training) {
      const m = Float64Array.from(st.mean.data)
      const q = Float64Array.from(st.m2.data)
      n = standardizeUpdate(m, q, n, x.data, k, S)
      mean = m
      m2 = q
      next = { count: { shape: [1], data: Float64Array.of(n) }, mean: { shape: [S], data: m }, m2: { shape: [S], data: q } }
    }
    const y = alloc(dtypeOf(x.data), x.data.length)
    const scale = new Float64Array(S)
    standardizeForward(y, scale, x.data, mean, m2, n, k, S)
    return { y: { shape: x.shape, data: y }, saved: { shape: x.shape, scale }, ...(next !== undefined ? { state: next } : {}) }
  },
  vjp: (_p, saved, dy) => {
    checkCotangent(name, dy, saved.shape)
    const S = saved.scale.length
    const k = dy.data.length / S
    return withLazyDx(noParams, () => {
      const dx = alloc(dtypeOf(dy.data), dy.data.length)
      standardizeBackward(dx, dy.data, saved.scale, k, S)
      return { shape: saved.shape, data: dx }
    })
  },
})

/** Online standardisation (River's StandardScaler) as a layer with state; unnamed in a sequential: std1, ... */
export const onlineStandardize = defineLayer({
  type: name,
  prefix: 'std',
  stateful: true,
  create,
  fromSpec: () => [] as const,
})
