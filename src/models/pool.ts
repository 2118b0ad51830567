// Max and average pooling layers, NHWC, no padding, no parameters. Window [ph, pw], strides
// [sh, sw] (default: the window, so windows tile the image; smaller strides overlap).
// Ho = (H - ph)/sh + 1 and Wo = (W - pw)/sw + 1 must be exact: init returns a Left rather
// than dropping rows. Max: cnn-layers-softmax eq 4, cnn-derivation-lenet eqs 3, 7-8 (the
// gradient flows only through each window's first maximum). Average: the mean over the
// window. Kernels: ops/pool.ts.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { LayerError } from '../core/errors.ts'
import type { Pool2dGeometry } from '../ops/pool.ts'
import { avgPool2dBackward, avgPool2dForward, maxPool2dBackward, maxPool2dForward } from '../ops/pool.ts'
import type { Tensor } from '../core/tensor.ts'
import { alloc, allocInt32, dtypeOf } from '../core/tensor.ts'
import { expectPositivePair, outSize } from './conv2d.ts'
import type { Layer, Params } from './layer.ts'
import { checkCotangent, checkRank, expectRank, expectValidShape, unwrap } from './layer.ts'
import type { SpecReader } from './define.ts'
import { defineLayer } from './define.ts'

export interface Pool2dOptions {
  /** Window [ph, pw], or one number for a square window. */
  readonly pool: number | readonly [number, number]
  /** Strides [sh, sw], or one number; default: the window. */
  readonly stride?: number | readonly [number, number]
}

/** Saved by max pooling: the input and, per output element, the flat index in x of its maximum. */
export interface MaxPoolSaved {
  readonly x: Tensor
  readonly argmax: Int32Array
}

/** Saved by average pooling: the input (for its shape and precision). */
export interface AvgPoolSaved {
  readonly x: Tensor
}

interface PoolHyper {
  readonly ph: number
  readonly pw: number
  readonly sh: number
  readonly sw: number
}

const hyperOf = (name: string, o: Pool2dOptions): E.Either<LayerError, PoolHyper> =>
  pipe(
    E.Do,
    E.apS('pool', expectPositivePair(name, 'pool', o.pool)),
    E.bind('stride', ({ pool }) => (o.stride === undefined ? E.right(pool) : expectPositivePair(name, 'stride', o.stride))),
    E.map(({ pool, stride }) => ({ ph: pool[0], pw: pool[1], sh: stride[0], sw: stride[1] })),
  )

const geometryOf = (name: string, h: PoolHyper, B: number, H: number, W: number, C: number): E.Either<LayerError, Pool2dGeometry> =>
  pipe(
    E.Do,
    E.apS('Ho', outSize(name, 'height', H, 0, 0, h.ph, h.sh, 'pool')),
    E.apS('Wo', outSize(name, 'width', W, 0, 0, h.pw, h.sw, 'pool')),
    E.map(({ Ho, Wo }) => ({ B, H, W, C, ph: h.ph, pw: h.pw, sh: h.sh, sw: h.sw, Ho, Wo })),
  )

/** The parts both pooling layers share: spec, init and the geometry of an input. */
const pool2d = (type: 'maxpool2d' | 'avgpool2d', options: Pool2dOptions) => {
  const hyper = hyperOf(type, options)
  const pairSpec = (v: number | readonly [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]])
  // The geometry is a function of the input's shape: the last one is kept, so a stream of
  // same-shaped batches (every forward at inference) skips the Either-built checks.
  let last: Pool2dGeometry | null = null
  const geometry = (x: Tensor): Pool2dGeometry => {
    checkRank(type, x, 4, '[B, H, W, C]')
    const [B, H, W, C] = x.shape
    if (last !== null && last.B === B && last.H === H && last.W === W && last.C === C) return last
    last = unwrap(geometryOf(type, unwrap(hyper), B, H, W, C))
    return last
  }
  return {
    spec: { type, pool: pairSpec(options.pool), stride: pairSpec(options.stride ?? options.pool) },
    init: (_key: unknown, inShape: readonly number[]) =>
      pipe(
        hyper,
        E.chain((h) =>
          pipe(
            expectRank(type, inShape, 3, '[height, width, channels]'),
            E.chain((s) => expectValidShape(type, s)),
            E.chain(([H, W, C]) => geometryOf(type, h, 1, H, W, C)),
          ),
        ),
        E.map((g) => ({ params: {} as Params, outShape: [g.Ho, g.Wo, g.C] })),
      ),
    geometry,
  }
}

/** Max pooling; ties go to the first maximum in row-major window order. */
const createMax = (options: Pool2dOptions): Layer<Params, MaxPoolSaved> => {
  const type = 'maxpool2d'
  const { spec, init, geometry } = pool2d(type, options)
  return {
    spec,
    init,
    forward: (_p, x) => {
      const g = geometry(x)
      const n = g.B * g.Ho * g.Wo * g.C
      const y = alloc(dtypeOf(x.data), n)
      const argmax = allocInt32(n)
      maxPool2dForward(y, argmax, x.data, g)
      return { y: { shape: [g.B, g.Ho, g.Wo, g.C], data: y }, saved: { x, argmax } }
    },
    vjp: (_p, { x, argmax }, dy) => {
      const g = geometry(x)
      checkCotangent(type, dy, [g.B, g.Ho, g.Wo, g.C])
      const dx = alloc(dtypeOf(x.data), x.data.length)
      maxPool2dBackward(dx, dy.data, argmax, dx.length, dy.data.length)
      return { dparams: {}, dx: { shape: x.shape, data: dx } }
    },
  }
}

/** Average pooling: the mean over each window. */
const createAvg = (options: Pool2dOptions): Layer<Params, AvgPoolSaved> => {
  const type = 'avgpool2d'
  const { spec, init, geometry } = pool2d(type, options)
  return {
    spec,
    init,
    forward: (_p, x) => {
      const g = geometry(x)
      const y = alloc(dtypeOf(x.data), g.B * g.Ho * g.Wo * g.C)
      avgPool2dForward(y, x.data, g)
      return { y: { shape: [g.B, g.Ho, g.Wo, g.C], data: y }, saved: { x } }
    },
    vjp: (_p, { x }, dy) => {
      const g = geometry(x)
      checkCotangent(type, dy, [g.B, g.Ho, g.Wo, g.C])
      const dx = alloc(dtypeOf(x.data), x.data.length)
      avgPool2dBackward(dx, dy.data, g)
      return { dparams: {}, dx: { shape: x.shape, data: dx } }
    },
  }
}

const poolFromSpec = (s: SpecReader): [Pool2dOptions] => [
  { pool: s.pair('pool'), stride: s.spec.stride === undefined ? undefined : s.pair('stride') },
]

/** Max pooling; unnamed in a sequential: pool1, pool2, ... */
export const maxPool2d = defineLayer({ type: 'maxpool2d', prefix: 'pool', create: createMax, fromSpec: poolFromSpec })

/** Average pooling; unnamed in a sequential: avgpool1, ... */
export const avgPool2d = defineLayer({ type: 'avgpool2d', prefix: 'avgpool', create: createAvg, fromSpec: poolFromSpec })
