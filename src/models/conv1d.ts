// 1D convolution layer (cross-correlation), NLC, 'valid', stride S:
//   y[n,j,o] = b[o] + sum_{q<K, c} x[n, j*S+q, c] k[q,c,o],    L_out = (L - K)/S + 1 (exact)
// deep-learning-lecture-notes eqs 21-27 (stride 1) and 45-54 (stride S): psi = b + sum w z
// (eq 47), dE/dw = sum_j z delta (eq 50), dE/dz through the transposed band (eqs 51-54).
//
// It runs on the 2D kernels of ops/conv2d.ts: x [B, L, C] is read as [B, 1, L, C] and
// k [K, C, O] as [1, K, C, O] (the same data, no copy). Initialisation: b = 0, k from the
// named rule with fan-in K*C and fan-out K*O.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { LayerError } from '../core/errors.ts'
import type { Conv2dGeometry } from '../ops/conv2d.ts'
import { conv2dBackwardInput, conv2dBackwardParams, conv2dForward } from '../ops/conv2d.ts'
import { split } from '../core/rng.ts'
import type { Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, shapeEquals, showShape } from '../core/tensor.ts'
import { expectInitName, outSize } from './conv2d.ts'
import type { InitName } from './init.ts'
import { initWeights, zeroBias } from './init.ts'
import type { Layer } from './layer.ts'
import { checkCotangent, checkRank, checkSameDtype, expectNumber, expectRank, expectValidShape, unwrap } from './layer.ts'
import { withLazyDx } from './lazy.ts'
import { defineLayer } from './define.ts'
import { INIT_NAMES } from './init.ts'

export interface Conv1dOptions {
  /** Kernel length K. */
  readonly kernelSize: number
  /** Output channels. */
  readonly filters: number
  /** Default 1. */
  readonly stride?: number
  /** Weight initialiser (default 'glorot'). */
  readonly init?: InitName
}

export type Conv1dParams = { readonly k: Tensor; readonly b: Tensor }

/** Saved for backward: the input. */
export interface Conv1dSaved {
  readonly x: Tensor
}

const name = 'conv1d'
const isPositiveInt = (v: number): boolean => Number.isInteger(v) && v > 0

const create = (options: Conv1dOptions): Layer<Conv1dParams, Conv1dSaved> => {
  const hyper = pipe(
    E.Do,
    E.apS('K', expectNumber(name, 'kernel_size', options.kernelSize, isPositiveInt, 'a positive integer')),
    E.apS('O', expectNumber(name, 'filters', options.filters, isPositiveInt, 'a positive integer')),
    E.apS('S', expectNumber(name, 'stride', options.stride ?? 1, isPositiveInt, 'a positive integer')),
    E.apS('init', expectInitName(name, options.init ?? 'glorot')),
  )

  /** The [B, 1, L, C] geometry of a [B, L, C] input. */
  const geometry = (K: number, O: number, S: number, B: number, L: number, C: number): E.Either<LayerError, Conv2dGeometry> =>
    pipe(
      outSize(name, 'length', L, 0, 0, K, S),
      E.map((Lo) => ({ B, H: 1, W: L, C, O, kh: 1, kw: K, sh: 1, sw: S, top: 0, left: 0, Ho: 1, Wo: Lo })),
    )

  const setup = (p: Conv1dParams, x: Tensor): Conv2dGeometry => {
    const { K, O, S } = unwrap(hyper)
    checkRank(name, x, 3, '[B, length, channels]')
    const [B, L, C] = x.shape
    if (p.k.shape.length === 3 && p.k.shape[1] !== C)
      throw new LayerError(name, `expected input of shape [B, L, ${p.k.shape[1]}] (${p.k.shape[1]} channels, as k), got ${showShape(x.shape)}`)
    if (!shapeEquals(p.k.shape, [K, C, O]))
      throw new LayerError(
        name,
        `expected k of shape ${showShape([K, C, O])} ([K, input channels, filters]) for an input of shape ${showShape(x.shape)}, got ${showShape(p.k.shape)}`,
      )
    if (!shapeEquals(p.b.shape, [O])) throw new LayerError(name, `expected b of shape [${O}], got ${showShape(p.b.shape)}`)
    checkSameDtype(name, x, p.k, 'k')
    checkSameDtype(name, x, p.b, 'b')
    return unwrap(geometry(K, O, S, B, L, C))
  }

  return {
    spec: {
      type: 'conv1d',
      kernel_size: options.kernelSize,
      filters: options.filters,
      stride: options.stride ?? 1,
      padding: 'valid',
      init: options.init ?? 'glorot',
    },
    init: (key, inShape) =>
      pipe(
        hyper,
        E.chain(({ K, O, S, init }) =>
          pipe(
            expectRank(name, inShape, 2, '[length, channels]'),
            E.chain((s) => expectValidShape(name, s)),
            E.chain(([L, C]) => geometry(K, O, S, 1, L, C)),
            E.map((g) => {
              const [kK] = split(key, 1)
              return {
                params: { k: initWeights(init, kK, [K, g.C, O], K * g.C, K * O), b: zeroBias(O) },
                outShape: [g.Wo, O],
              }
            }),
          ),
        ),
      ),
    forward: (p, x) => {
      const g = setup(p, x)
      const y = alloc(dtypeOf(x.data), g.B * g.Wo * g.O)
      conv2dForward(y, x.data, p.k.data, p.b.data, g)
      return { y: { shape: [g.B, g.Wo, g.O], data: y }, saved: { x } }
    },
    vjp: (p, saved, dy) => {
      const { x } = saved
      const g = setup(p, x)
      checkCotangent(name, dy, [g.B, g.Wo, g.O])
      const dt = dtypeOf(x.data)
      const dk = alloc(dt, p.k.data.length)
      const db = alloc(dt, g.O)
      conv2dBackwardParams(dk, db, dy.data, x.data, g)
      return withLazyDx({ k: { shape: p.k.shape, data: dk }, b: { shape: p.b.shape, data: db } }, () => {
        const dx = alloc(dt, x.data.length)
        conv2dBackwardInput(dx, dy.data, p.k.data, g)
        return { shape: x.shape, data: dx }
      })
    },
  }
}

export const conv1d = defineLayer({
  type: 'conv1d',
  prefix: 'conv1d_',
  create,
  fromSpec: (s) => {
    s.oneOf('padding', ['valid'], 'valid')
    return [
      { kernelSize: s.num('kernel_size'), filters: s.num('filters'), stride: s.num('stride', 1), init: s.oneOf('init', INIT_NAMES, 'glorot') },
    ] as const
  },
})
