// Parametric ReLU: z for z >= 0, z / a[c] for z < 0, one learned a per channel (the
// last axis: features for [B, F], channels for NHWC). convnet-notes, Parametric ReLU;
// d/da = -z / a^2 for z < 0.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { LayerError } from '../core/errors.ts'
import { preluBackward, preluForward } from '../ops/activations.ts'
import type { Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, full, showShape } from '../core/tensor.ts'
import type { Layer } from './layer.ts'
import { checkCotangent, checkSameDtype, expectNumber, expectValidShape } from './layer.ts'
import { defineLayer } from './define.ts'

export type PreluParams = { readonly a: Tensor }

export interface PreluOptions {
  /** Initial slope divisor for every channel (default 4, i.e. slope 0.25 as in He et al.). */
  readonly init?: number
}

const create = (options: PreluOptions = {}): Layer<PreluParams, Tensor> => {
  const name = 'prelu'
  const a0 = options.init ?? 4
  const channels = (x: Tensor, p: PreluParams): number => {
    const C = p.a.shape[0]
    if (x.shape.length < 2 || x.shape[x.shape.length - 1] !== C)
      throw new LayerError(name, `expected input of shape [B, ..., ${C}] (channels last), got ${showShape(x.shape)}`)
    checkSameDtype(name, x, p.a, 'a')
    return C
  }
  return {
    spec: { type: 'prelu', init: a0 },
    init: (_key, inShape) =>
      pipe(
        expectNumber(name, 'init', a0, (v) => v > 0, 'a positive number'),
        E.chain(() => expectValidShape(name, inShape)),
        E.chain((s) =>
          s.length >= 1 ? E.right(s) : E.left(new LayerError(name, `expected a per-sample input of rank >= 1, got []`)),
        ),
        E.map((s) => ({ params: { a: full([s[s.length - 1]], a0) }, outShape: s })),
      ),
    forward: (p, x) => {
      const C = channels(x, p)
      const y = alloc(dtypeOf(x.data), x.data.length)
      preluForward(y, x.data, p.a.data, x.data.length / C, C)
      return { y: { shape: x.shape, data: y }, saved: x }
    },
    vjp: (p, x, dy) => {
      const C = channels(x, p)
      checkCotangent(name, dy, x.shape)
      const dx = alloc(dtypeOf(x.data), x.data.length)
      const da = alloc(dtypeOf(x.data), C)
      preluBackward(dx, da, dy.data, x.data, p.a.data, x.data.length / C, C)
      return { dparams: { a: { shape: p.a.shape, data: da } }, dx: { shape: x.shape, data: dx } }
    },
  }
}

export const prelu = defineLayer({ type: 'prelu', create, fromSpec: (s) => [{ init: s.num('init', 4) }] as const })
