// Dense (fully connected) layer: y = x W + b, W is [in, out].
// convnet-notes (MLP); cnn-layers-softmax eqs 6-8; matrix-backprop.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { LayerError } from '../core/errors.ts'
import { denseBackwardInput, denseBackwardParams, denseBiasGrad, denseForward, denseForwardRow, denseNonZeroInputs } from '../ops/dense.ts'
import { rowSparseOuter } from '../core/row-hint.ts'
import { split } from '../core/rng.ts'
import type { Tensor } from '../core/tensor.ts'
import { alloc, allocInt32, dtypeOf } from '../core/tensor.ts'
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

/** What forward keeps: the input, and at batch 1 its non-zero inputs (ascending). */
export interface DenseSaved {
  readonly x: Tensor
  readonly rows?: Int32Array
}

// Scratch for the non-zero input scan (copied out before it is kept: never escapes).
let scan = new Int32Array(0)

const create = (units: number, options: DenseOptions = {}): Layer<DenseParams, DenseSaved> => {
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
      if (B !== 1) {
        denseForward(y, x.data, p.W.data, p.b.data, B, I, O)
        return { y: { shape: [B, O], data: y }, saved: { x } }
      }
      // Batch 1 (online learning, one-sample inference): list the non-zero inputs once;
      // the product reads only their rows of W (the same bits: ops/dense.ts), and the
      // weight gradient is those rows only.
      if (scan.length < I) scan = new Int32Array(I)
      const count = denseNonZeroInputs(scan, x.data, 1, I)
      const rows = allocInt32(count)
      rows.set(scan.subarray(0, count))
      denseForwardRow(y, x.data, p.W.data, p.b.data, O, rows, count)
      return { y: { shape: [B, O], data: y }, saved: { x, rows } }
    },
    vjp: (p, { x, rows }, dy) => {
      const [B, I, O] = check(x, p)
      checkCotangent(name, dy, [B, O])
      const dt = dtypeOf(x.data)
      const db = alloc(dt, O)
      let gW: Tensor
      // Zero-input skipping: at batch 1, dW = x^T dy is returned as its non-zero rows
      // only, as the outer product of those inputs and dy (a row-sparse tensor whose rows
      // are packed only if read, core/row-hint.ts): each element is one product, the same
      // bits as either kernel backend's product, and SGD applies it in one pass per row
      // (ops/optim.ts).
      if (rows !== undefined) {
        const u = alloc(dt, rows.length)
        for (let t = 0; t < rows.length; t++) u[t] = x.data[rows[t]]
        denseBiasGrad(db, dy.data, B, O)
        gW = rowSparseOuter(p.W.shape, rows, u, dy.data)
      } else {
        const dW = alloc(dt, I * O)
        denseBackwardParams(dW, db, dy.data, x.data, B, I, O)
        gW = { shape: p.W.shape, data: dW }
      }
      return withLazyDx({ W: gW, b: { shape: p.b.shape, data: db } }, () => {
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
