// Softmax over the last axis as a layer (cnn-layers-softmax eqs 11-12). For training a
// classifier use the fused softmaxCrossEntropy loss on logits instead.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { LayerError } from '../core/errors.ts'
import { softmaxBackward, softmaxForward } from '../ops/softmax.ts'
import type { Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, showShape } from '../core/tensor.ts'
import type { Layer, Params } from './layer.ts'
import { checkCotangent, expectValidShape } from './layer.ts'
import { defineLayer } from './define.ts'

const create = (): Layer<Params, Tensor> => {
  const name = 'softmax'
  const rows = (x: Tensor): [number, number] => {
    if (x.shape.length < 2) throw new LayerError(name, `expected input of rank >= 2 [B, ..., C], got ${showShape(x.shape)}`)
    const C = x.shape[x.shape.length - 1]
    return [x.data.length / C, C]
  }
  return {
    spec: { type: 'softmax', axis: -1 },
    init: (_key, inShape) =>
      pipe(
        expectValidShape(name, inShape),
        E.chain((s) =>
          s.length >= 1 ? E.right(s) : E.left(new LayerError(name, 'expected a per-sample input of rank >= 1, got []')),
        ),
        E.map((s) => ({ params: {}, outShape: s })),
      ),
    forward: (_p, x) => {
      const [R, C] = rows(x)
      const p = alloc(dtypeOf(x.data), x.data.length)
      softmaxForward(p, x.data, R, C)
      const y = { shape: x.shape, data: p }
      return { y, saved: y }
    },
    vjp: (_p, y, dy) => {
      checkCotangent(name, dy, y.shape)
      const [R, C] = rows(y)
      const dx = alloc(dtypeOf(y.data), y.data.length)
      softmaxBackward(dx, dy.data, y.data, R, C)
      return { dparams: {}, dx: { shape: y.shape, data: dx } }
    },
  }
}

export const softmax = defineLayer({
  type: 'softmax',
  create,
  fromSpec: (s) => {
    if ((s.spec.axis ?? -1) !== -1) s.fail('axis', '-1 (the last axis)')
    return [] as const
  },
})
