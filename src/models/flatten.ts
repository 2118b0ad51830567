// Flatten [B, H, W, C] (or any per-sample rank) to [B, H*W*C]. NHWC row-major order
// already puts element (i, j, k) at i*W*C + j*C + k (cnn-layers-softmax eq 5), so the
// data is shared unchanged and the vjp is a reshape.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { LayerError } from '../core/errors.ts'
import type { Shape } from '../core/tensor.ts'
import { showShape, size } from '../core/tensor.ts'
import type { Layer, Params } from './layer.ts'
import { checkCotangent, expectValidShape } from './layer.ts'
import { defineLayer } from './define.ts'

const create = (): Layer<Params, Shape> => {
  const name = 'flatten'
  return {
    spec: { type: 'flatten' },
    init: (_key, inShape) =>
      pipe(
        expectValidShape(name, inShape),
        E.map((s) => ({ params: {}, outShape: [size(s)] })),
      ),
    forward: (_p, x) => {
      if (x.shape.length < 1 || x.shape[0] < 1)
        throw new LayerError(name, `expected input of shape [B, ...], got ${showShape(x.shape)}`)
      const B = x.shape[0]
      return { y: { shape: [B, x.data.length / B], data: x.data }, saved: x.shape }
    },
    vjp: (_p, inShape, dy) => {
      checkCotangent(name, dy, [inShape[0], size(inShape) / inShape[0]])
      return { dparams: {}, dx: { shape: inShape, data: dy.data } }
    },
  }
}

export const flatten = defineLayer({ type: 'flatten', create, fromSpec: () => [] as const })
