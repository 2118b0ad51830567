// The predictor (models/predictor.ts): the evaluation forward with its arrays from an arena
// and the parameters copied once (resident on the SIMD backend) gives the bare forward's
// bits, hands out arrays no later call touches, and keeps its own copy of the parameters.
// An objective's predict runs in an arena the same way.

import * as E from 'fp-ts/lib/Either.js'
import { afterEach, describe, expect, it } from 'vitest'
import { GradstreamError, LayerError } from '../../src/core/errors.ts'
import { foldIn, key, uniform } from '../../src/core/rng.ts'
import type { Tensor } from '../../src/core/tensor.ts'
import type { Params } from '../../src/core/tree.ts'
import { mapTree } from '../../src/core/tree.ts'
import { batchNorm } from '../../src/models/batch-norm.ts'
import { conv2d } from '../../src/models/conv2d.ts'
import { dense } from '../../src/models/dense.ts'
import { flatten } from '../../src/models/flatten.ts'
import type { AnyLayer, LayerState } from '../../src/models/layer.ts'
import { evalCtx } from '../../src/models/layer.ts'
import { maxPool2d } from '../../src/models/pool.ts'
import { predictor } from '../../src/models/predictor.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import { supervised } from '../../src/models/objective.ts'
import { relu } from '../../src/models/activations.ts'
import { sequential } from '../../src/models/sequential.ts'
import { cnn } from '../../src/models/zoo/cnn.ts'
import type { KernelBackend } from '../../src/ops/backend.ts'
import { kernelBackend, setKernelBackend } from '../../src/ops/backend.ts'

const initial = kernelBackend()
afterEach(() => setKernelBackend(initial))

const init = (model: AnyLayer, shape: number[]): { params: Params; state: LayerState | null } => {
  const r = model.init(key(7), shape)
  if (E.isLeft(r)) throw r.left
  return { params: r.right.params, state: r.right.state ?? null }
}

/** B images [h, w, c] with about a third of the pixels 0 (as after a ReLU), from seed s. */
const images = (s: number, B: number, h: number, w: number, c: number): Tensor => {
  const x = uniform(foldIn(key(11), s), B * h * w * c, 'float32', -0.5, 1) as Float32Array
  for (let i = 0; i < x.length; i++) if (x[i] < 0) x[i] = 0
  return { shape: [B, h, w, c], data: x }
}

const bare = (model: AnyLayer, params: Params, x: Tensor, state: LayerState | null = null): Float32Array =>
  model.forward(params, x, evalCtx, state).y.data as Float32Array

describe('predictor', () => {
  for (const backend of ['simd', 'ts'] as KernelBackend[])
    it(`gives the bare evaluation forward's bits on the ${backend} backend, at batch 1 and 3, call after call`, () => {
      setKernelBackend(backend)
      const model = cnn()
      const { params } = init(model, [28, 28, 1])
      const predict = predictor(model, params)
      const outs: { y: Tensor; want: Float32Array }[] = []
      for (let s = 0; s < 6; s++) {
        const x = images(s, s % 2 === 0 ? 1 : 3, 28, 28, 1)
        const y = predict(x)
        const want = bare(model, params, x)
        expect(y.shape).toEqual([x.shape[0], 10])
        expect(Array.from(y.data)).toEqual(Array.from(want))
        outs.push({ y, want })
      }
      // every tensor handed out still holds its own values: no later call reused its array
      for (const { y, want } of outs) expect(Array.from(y.data)).toEqual(Array.from(want))
      expect(new Set(outs.map(({ y }) => y.data.buffer)).size).toBe(outs.length)
    })

  it('keeps its own copy of the parameters: changing the caller\'s arrays later changes nothing', () => {
    const model = sequential(flatten(), dense(16), relu(), dense(4))
    const { params } = init(model, [6, 6, 1])
    const x = images(1, 1, 6, 6, 1)
    const predict = predictor(model, params)
    const before = Array.from(predict(x).data)
    expect(before).toEqual(Array.from(bare(model, params, x)))
    const W = (params['fc1'] as Params)['W'] as Tensor
    W.data.fill(0.5)
    expect(Array.from(predict(x).data)).toEqual(before)
    expect(Array.from(bare(model, params, x))).not.toEqual(before)
  })

  it('runs a stateful model with the state it was given (batch norm in evaluation mode)', () => {
    const model = sequential(conv2d({ kernelSize: 3, filters: 4 }), batchNorm(), relu(), maxPool2d({ pool: 2 }), flatten(), dense(3))
    const { params, state } = init(model, [8, 8, 2])
    expect(state).not.toBeNull()
    // running statistics away from their initial 0 / 1, so the state matters (all positive:
    // valid variances too)
    const s = mapTree(state as LayerState, (t) => ({ shape: t.shape, data: t.data.map((_, i) => 0.5 + 0.25 * i) }))
    const x = images(3, 2, 8, 8, 2)
    const y = predictor(model, params, s)(x)
    expect(Array.from(y.data)).toEqual(Array.from(bare(model, params, x, s)))
    expect(Array.from(y.data)).not.toEqual(Array.from(bare(model, params, x, state)))
  })

  it('survives being called again from inside its own forward', () => {
    const inner: { predict: ((x: Tensor) => Tensor) | null; armed: boolean } = { predict: null, armed: false }
    const seen: number[][] = []
    const x = images(5, 2, 4, 4, 1)
    const other = images(6, 2, 4, 4, 1)
    // A layer that, when armed, predicts another input with the same predictor (once): the
    // inner call asks for arrays of the sizes the outer one holds.
    const peek: AnyLayer = {
      spec: { type: 'peek' },
      init: (_k, inShape) => E.right({ params: {}, outShape: inShape }),
      forward: (_p, h) => {
        if (inner.armed && inner.predict !== null) {
          inner.armed = false
          seen.push(Array.from(inner.predict(other).data))
        }
        return { y: h, saved: null }
      },
      vjp: (_p, _s, dy) => ({ dparams: {}, dx: dy }),
    }
    const model = sequential(flatten(), dense(8), relu(), peek, dense(3))
    const { params } = init(model, [4, 4, 1])
    const predict = predictor(model, params)
    inner.predict = predict
    const want = Array.from(bare(model, params, x))
    inner.armed = true
    expect(Array.from(predict(x).data)).toEqual(want)
    // the inner call, made while the outer one held the arena, was right as well
    expect(seen).toEqual([Array.from(bare(model, params, other))])
  })

  it("an objective's predict runs the same way: the bare forward's bits, results not reused", () => {
    const model = cnn()
    const { params } = init(model, [28, 28, 1])
    const objective = supervised(model, softmaxCrossEntropy(), [28, 28, 1])
    const xs = [images(7, 5, 28, 28, 1), images(8, 5, 28, 28, 1)]
    const ys = xs.map((x) => objective.predict(params, x))
    xs.forEach((x, i) => expect(Array.from(ys[i].data)).toEqual(Array.from(bare(model, params, x))))
    expect(ys[0].data.buffer).not.toBe(ys[1].data.buffer)
  })

  it('names what it expected on bad input', () => {
    const model = sequential(flatten(), dense(4))
    const { params } = init(model, [3, 3, 1])
    const predict = predictor(model, params)
    expect(() => predict({ shape: [1, 4, 4, 1], data: new Float32Array(16) })).toThrow(LayerError)
    expect(() => predict({ shape: [1, 4, 4, 1], data: new Float32Array(16) })).toThrow(/expected input of shape \[B, 9\]/)
    expect(() => predictor({} as AnyLayer, params)).toThrow(GradstreamError)
    expect(() => predictor(model, null as unknown as Params)).toThrow(/expected the model's parameters/)
  })
})
