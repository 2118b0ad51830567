// Dense (fully connected) layer: y = x W + b, W is [in, out].
// convnet-notes (MLP); cnn-layers-softmax eqs 6-8; matrix-backprop.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { LayerError } from '../core/errors.ts'
import { denseBackwardInput, denseBackwardParams, denseForward } from '../ops/dense.ts'
import { split } from '../core/rng.ts'
import type { Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf } from '../core/tensor.ts'
import type { InitName } from './init.ts'
import { initWeights, zeroBias } from './init.ts'
import type { Layer } from './layer.ts'
import { checkCotangent, checkSameDtype, expectNumber, expectRank } from './layer.ts'
import { withLazyDx } from './lazy.ts'
import { defineLayer } from './define.ts'
import { INIT_NAMES } from './init.ts'

export type DenseParams = {
  readonly W: Tensor
  readonly b: Tensor
}

export interface DenseOptions {
  /** Weight initialiser (default 'glorot'); biases start at zero. */
  readonly init?: InitName
}

const create = (units: number, options: DenseOptions = {}): Layer<DenseParams, Tensor> => {
  const name = 'dense'
  const initName = options.init ?? 'glorot'
  const check = (x: Tensor, p: DenseParams): [number, number, number] => {
    const [I, O] = p.W.shape
    if (x.shape.length !== 2 || x.shape[1] !== I || x.shape[0] < 1)
      throw new LayerError(name, `expected input of shape [B, ${I}], got [${x.shape.join(', ')}]`)
    checkSameDtype(name, x, p.W, 'W')
    return [x.shape[0], I, O]
  }
  return {
    spec: { type: 'dense', units, init: initName },
    init: (key, inShape) =>
      pipe(
        expectNumber(name, 'units', units, (u) => Number.isInteger(u) && u > 0, 'a positive integer'),
        E.chain(() => expectRank(name, inShape, 1, '[features] (flatten images first)')),
        E.chain(([I]) =>
          Number.isInteger(I) && I > 0
            ? E.right(I)
            : E.left(new LayerError(name, `expected a positive feature count, got ${I}`)),
        ),
        E.map((I) => {
          const [kW] = split(key, 1)
          return {
            params: { W: initWeights(initName, kW, [I, units], I, units), b: zeroBias(units) },
            outShape: [units],
          }
        }),
      ),
    forward: (p, x) => {
      const [B, I, O] = check(x, p)
      const y = alloc(dtypeOf(x.data), B * O)
      denseForward(y, x.data, p.W.data, p.b.data, B, I, O)
      return { y: { shape: [B, O], data: y }, saved: x }
    },
    vjp: (p, x, dy) => {
      const [B, I, O] = check(x, p)
      checkCotangent(name, dy, [B, O])
      const dt = dtypeOf(x.data)
      const dW = alloc(dt, I * O)
      const db = alloc(dt, O)
      denseBackwardParams(dW, db, dy.data, x.data, B, I, O)
      return withLazyDx({ W: { shape: p.W.shape, data: dW }, b: { shape: p.b.shape, data: db } }, () => {
        const dx = alloc(dt, B * I)
        denseBackwardInput(dx, dy.data, p.W.data, B, I, O)
        return { shape: x.shape, data: dx }
      })
    },
  }
}

/** Dense layer with `units` outputs; unnamed in a sequential it is fc1, fc2, ... */
export const dense = defineLayer({
  type: 'dense',
  prefix: 'fc',
  create,
  fromSpec: (s) => [s.num('units'), { init: s.oneOf('init', INIT_NAMES, 'glorot') }] as const,
})
