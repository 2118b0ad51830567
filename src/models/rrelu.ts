// Randomized leaky ReLU: z for z >= 0, z / a for z < 0, one slope per element.
// Training: a ~ U(lower, upper) drawn from the forward's key (so replay is exact).
// Evaluation: a = (lower + upper) / 2. No gradient for a. convnet-notes, RReLU.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { LayerError } from '../core/errors.ts'
import { leakyReluBackward, leakyReluForward, rreluBackward, rreluForward } from '../ops/activations.ts'
import { uniform } from '../core/rng.ts'
import type { F, Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, shapeEquals, showShape } from '../core/tensor.ts'
import type { Layer, Params } from './layer.ts'
import { checkCotangent, expectNumber, expectValidShape } from './layer.ts'
import { defineLayer } from './define.ts'

export interface RreluOptions {
  readonly lower?: number
  readonly upper?: number
  /**
   * Use these slopes instead of drawing them in training mode (same shape as the
   * input). For reproducing a given draw, e.g. the conformance vectors.
   */
  readonly slopes?: Tensor
}

/** Saved for backward: the input and the slopes used (null: the evaluation constant). */
export interface RreluSaved {
  readonly x: Tensor
  readonly a: F | null
}

const create = (options: RreluOptions = {}): Layer<Params, RreluSaved> => {
  const name = 'rrelu'
  const lower = options.lower ?? 3
  const upper = options.upper ?? 8
  const mid = (lower + upper) / 2
  return {
    spec: { type: 'rrelu', lower, upper },
    init: (_key, inShape) =>
      pipe(
        expectNumber(name, 'lower', lower, (v) => v > 1, 'a number > 1'),
        E.chain(() => expectNumber(name, 'upper', upper, (v) => v >= lower, `a number >= lower (${lower})`)),
        E.chain(() => expectValidShape(name, inShape)),
        E.map(() => ({ params: {}, outShape: inShape })),
      ),
    forward: (_p, x, ctx) => {
      const n = x.data.length
      const y = alloc(dtypeOf(x.data), n)
      if (!ctx.training) {
        leakyReluForward(y, x.data, n, mid)
        return { y: { shape: x.shape, data: y }, saved: { x, a: null } }
      }
      let a: F
      if (options.slopes !== undefined) {
        if (!shapeEquals(options.slopes.shape, x.shape))
          throw new LayerError(name, `expected slopes of shape ${showShape(x.shape)}, got ${showShape(options.slopes.shape)}`)
        a = options.slopes.data
      } else a = uniform(ctx.key, n, dtypeOf(x.data), lower, upper)
      rreluForward(y, x.data, a, n)
      return { y: { shape: x.shape, data: y }, saved: { x, a } }
    },
    vjp: (_p, saved, dy) => {
      const { x, a } = saved
      checkCotangent(name, dy, x.shape)
      const dx = alloc(dtypeOf(x.data), x.data.length)
      if (a === null) leakyReluBackward(dx, dy.data, x.data, dx.length, mid)
      else rreluBackward(dx, dy.data, x.data, a, dx.length)
      return { dparams: {}, dx: { shape: x.shape, data: dx } }
    },
  }
}

/** RReLU draws its slopes from the forward key in training. */
export const rrelu = defineLayer({
  type: 'rrelu',
  stochastic: true,
  create,
  fromSpec: (s) => [{ lower: s.num('lower', 3), upper: s.num('upper', 8) }] as const,
})
