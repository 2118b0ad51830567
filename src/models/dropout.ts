// dropout(rate): inverted dropout (ops/dropout.ts). In training each element is kept
// with probability 1 - rate, the mask drawn from the forward's key (so replay, resume and
// every thread count see the same mask), and kept values are scaled by 1 / (1 - rate);
// in evaluation it is the identity. Saved for backward: the mask (1 kept, 0 dropped).

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { uniform } from '../core/rng.ts'
import type { Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf } from '../core/tensor.ts'
import { dropoutBackward, dropoutForward } from '../ops/dropout.ts'
import { defineLayer } from './define.ts'
import type { Layer, Params } from './layer.ts'
import { checkCotangent, expectNumber, expectValidShape, unwrap } from './layer.ts'

export interface DropoutSaved {
  readonly shape: readonly number[]
  /** 1 where the element was kept, 0 where dropped; null in evaluation (identity). */
  readonly mask: Uint8Array | null
}

const name = 'dropout'

const create = (rate: number): Layer<Params, DropoutSaved> => {
  const hyper = expectNumber(name, 'rate', rate, (v) => v >= 0 && v < 1, 'a number in [0, 1)')
  const scale = 1 / (1 - rate)
  return {
    spec: { type: name, rate },
    init: (_key, inShape) =>
      pipe(
        hyper,
        E.chain(() => expectValidShape(name, inShape)),
        E.map((s) => ({ params: {}, outShape: s })),
      ),
    forward: (_p, x, ctx) => {
      unwrap(hyper)
      if (!ctx.training || rate === 0) return { y: x, saved: { shape: x.shape, mask: null } }
      const n = x.data.length
      const dt = dtypeOf(x.data)
      const y = alloc(dt, n)
      const mask = new Uint8Array(n)
      dropoutForward(y, mask, x.data, uniform(ctx.key, n, dt), rate, scale, n)
      return { y: { shape: x.shape, data: y }, saved: { shape: x.shape, mask } }
    },
    vjp: (_p, saved, dy) => {
      checkCotangent(name, dy, saved.shape)
      if (saved.mask === null) return { dparams: {}, dx: dy }
      const dx = alloc(dtypeOf(dy.data), dy.data.length)
      dropoutBackward(dx, dy.data, saved.mask, scale, dx.length)
      return { dparams: {}, dx: { shape: saved.shape, data: dx } satisfies Tensor }
    },
  }
}

/** Inverted dropout with drop probability `rate`; draws its mask from the key in training. */
export const dropout = defineLayer({
  type: name,
  stochastic: (spec) => typeof spec.rate === 'number' && spec.rate > 0,
  create,
  fromSpec: (s) => [s.num('rate')] as const,
})
