// globalAvgPool2d(): NHWC images [B, H, W, C] to their channel means [B, C]
// (ops/global-pool.ts), the head of a residual net before its classifier.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Shape } from '../core/tensor.ts'
import { alloc, dtypeOf } from '../core/tensor.ts'
import { globalAvgPoolBackward, globalAvgPoolForward } from '../ops/global-pool.ts'
import { defineLayer } from './define.ts'
import type { Layer, Params } from './layer.ts'
import { checkCotangent, checkRank, expectRank, expectValidShape } from './layer.ts'

const name = 'global_avgpool2d'

const create = (): Layer<Params, Shape> => ({
  spec: { type: name },
  init: (_key, inShape) =>
    pipe(
      expectRank(name, inShape, 3, '[height, width, channels]'),
      E.chain((s) => expectValidShape(name, s)),
      E.map(([, , C]) => ({ params: {}, outShape: [C] })),
    ),
  forward: (_p, x) => {
    checkRank(name, x, 4, '[B, H, W, C]')
    const [B, H, W, C] = x.shape
    const y = alloc(dtypeOf(x.data), B * C)
    globalAvgPoolForward(y, x.data, B, H * W, C)
    return { y: { shape: [B, C], data: y }, saved: x.shape }
  },
  vjp: (_p, shape, dy) => {
    const [B, H, W, C] = shape
    checkCotangent(name, dy, [B, C])
    const dx = alloc(dtypeOf(dy.data), B * H * W * C)
    globalAvgPoolBackward(dx, dy.data, B, H * W, C)
    return { dparams: {}, dx: { shape, data: dx } }
  },
})

/** The mean of every channel over the image; unnamed in a sequential: gap1, ... */
export const globalAvgPool2d = defineLayer({ type: name, prefix: 'gap', create, fromSpec: () => [] as const })
