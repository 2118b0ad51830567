// LeNet's trainable subsampling layer (cnn-derivation-lenet section 2.2.1, eqs 2, 4-6, 19-22):
//   z[n,i,j,c] = beta[c] * sum_{p,q<n} x[n, i*n+p, j*n+q, c] + b[c],     y = act(z)
// over non-overlapping n x n blocks (a SUM, not a mean), with a trainable coefficient beta
// and bias b per map. x [B, H, W, C] with H and W divisible by n; y, z [B, H/n, W/n, C].
// Initialisation: beta = 1/n^2 (so the layer starts as act(block average)), b = 0.
// `saved.z` is the pre-activation (the conformance vectors' auxiliary output `z`).

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { LayerError } from '../core/errors.ts'
import { subsampleBackwardInput, subsampleBackwardParams, subsampleForward } from '../ops/subsample.ts'
import type { F, Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, full, shapeEquals, showShape } from '../core/tensor.ts'
import { showValue } from './conv2d.ts'
import type { Layer } from './layer.ts'
import { checkCotangent, checkRank, checkSameDtype, expectNumber, expectRank, expectValidShape, unwrap } from './layer.ts'
import { withLazyDx } from './lazy.ts'
import { defineLayer, elementwiseTypes, layerType } from './define.ts'
// The activations subsample names are the registered ones: load the built-in set.
import './activations.ts'

/** 'identity' or any registered element-wise activation (define.ts): sigmoid, tanh, relu, ... */
export type SubsampleActivation = 'sigmoid' | 'tanh' | 'lecun_tanh' | 'relu' | 'identity' | (string & {})

export interface SubsampleOptions {
  /** Block size n (default 2). */
  readonly pool?: number
  /** Activation after the affine map (default 'sigmoid'). */
  readonly activation?: SubsampleActivation
}

export type SubsampleParams = { readonly beta: Tensor; readonly b: Tensor }

/** Saved for backward: the input, the block sums s = down(x), the pre-activation z and y. */
export interface SubsampleSaved {
  readonly x: Tensor
  readonly s: Tensor
  readonly z: Tensor
  readonly y: Tensor
}

const name = 'subsample'

interface Act {
  readonly forward: (y: F, z: F, n: number) => void
  /** dz from dy and whatever the derivative reads (y for most, z for LeCun's tanh). */
  readonly backward: (dz: F, dy: F, z: F, y: F, n: number) => void
}

const IDENTITY: Act = {
  forward: (y, z, n) => {
    for (let i = 0; i < n; i++) y[i] = z[i]
  },
  backward: (dz, dy, _z, _y, n) => {
    for (let i = 0; i < n; i++) dz[i] = dy[i]
  },
}

/** y = act(z) and dz = act'(z) dy, with the registered activation's kernels (define.ts). */
const activationOf = (activation: string): E.Either<LayerError, Act> => {
  if (activation === 'identity') return E.right(IDENTITY)
  const k = layerType(activation)?.elementwise
  if (k === undefined)
    return E.left(
      new LayerError(name, `expected activation to be one of identity, ${elementwiseTypes().join(', ')}, got ${showValue(activation)}`),
    )
  return E.right({ forward: k.forward, backward: (dz, dy, z, y, n) => k.backward(dz, dy, k.uses === 'x' ? z : y, n) })
}

const create = (options: SubsampleOptions = {}): Layer<SubsampleParams, SubsampleSaved> => {
  const pool = options.pool ?? 2
  const activation = options.activation ?? 'sigmoid'
  const hyper = pipe(
    expectNumber(name, 'pool', pool, (v) => Number.isInteger(v) && v > 0, 'a positive integer'),
    E.chain((n) => E.map((act: Act) => ({ n, act }))(activationOf(activation))),
  )
  const checkSize = (n: number, H: number, W: number): E.Either<LayerError, [number, number]> =>
    H % n === 0 && W % n === 0
      ? E.right([H / n, W / n])
      : E.left(new LayerError(name, `expected height and width divisible by the pool ${n}, got ${H} x ${W}`))

  const setup = (p: SubsampleParams, x: Tensor) => {
    const h = unwrap(hyper)
    checkRank(name, x, 4, '[B, H, W, C]')
    const [B, H, W, C] = x.shape
    if (!shapeEquals(p.beta.shape, [C]) || !shapeEquals(p.b.shape, [C]))
      throw new LayerError(
        name,
        `expected beta and b of shape [${C}] (the input's channels, ${showShape(x.shape)}), got ${showShape(p.beta.shape)} and ${showShape(p.b.shape)}`,
      )
    checkSameDtype(name, x, p.beta, 'beta')
    checkSameDtype(name, x, p.b, 'b')
    const [Ho, Wo] = unwrap(checkSize(h.n, H, W))
    return { ...h, B, H, W, C, Ho, Wo }
  }

  return {
    spec: { type: 'subsample', pool, activation },
    init: (_key, inShape) =>
      pipe(
        hyper,
        E.chain(({ n }) =>
          pipe(
            expectRank(name, inShape, 3, '[height, width, channels]'),
            E.chain((s) => expectValidShape(name, s)),
            E.chain(([H, W, C]) =>
              pipe(
                checkSize(n, H, W),
                E.map(([Ho, Wo]) => ({
                  params: { beta: full([C], 1 / (n * n)), b: full([C], 0) },
                  outShape: [Ho, Wo, C],
                })),
              ),
            ),
          ),
        ),
      ),
    forward: (p, x) => {
      const { n, act, B, H, W, C, Ho, Wo } = setup(p, x)
      const dt = dtypeOf(x.data)
      const shape = [B, Ho, Wo, C]
      const len = B * Ho * Wo * C
      const s = alloc(dt, len)
      const z = alloc(dt, len)
      const y = alloc(dt, len)
      subsampleForward(z, s, x.data, p.beta.data, p.b.data, B, H, W, C, n)
      act.forward(y, z, len)
      const yT = { shape, data: y }
      return { y: yT, saved: { x, s: { shape, data: s }, z: { shape, data: z }, y: yT } }
    },
    vjp: (p, saved, dy) => {
      const { x, s, z, y } = saved
      const { n, act, B, H, W, C } = setup(p, x)
      checkCotangent(name, dy, z.shape)
      const dt = dtypeOf(x.data)
      const len = z.data.length
      const dz = alloc(dt, len)
      act.backward(dz, dy.data, z.data, y.data, len)
      const dbeta = alloc(dt, C)
      const db = alloc(dt, C)
      subsampleBackwardParams(dbeta, db, dz, s.data, len / C, C)
      return withLazyDx({ beta: { shape: p.beta.shape, data: dbeta }, b: { shape: p.b.shape, data: db } }, () => {
        const dx = alloc(dt, x.data.length)
        subsampleBackwardInput(dx, dz, p.beta.data, B, H, W, C, n)
        return { shape: x.shape, data: dx }
      })
    },
  }
}

/** LeNet's subsampling; unnamed in a sequential: sub1, sub2, ... */
export const subsample = defineLayer({
  type: 'subsample',
  prefix: 'sub',
  create,
  fromSpec: (s) => {
    const act = s.spec.activation ?? 'sigmoid'
    return [{ pool: s.num('pool', 2), activation: typeof act === 'string' ? act : s.fail('activation', 'a string') }] as const
  },
})
