// Pooling and LeNet subsampling layers, and conv/pool stacks through sequential: gradient
// checks, values, specs, precision and error messages.

import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { LayerError } from '../../src/core/errors.ts'
import { relu, tanh } from '../../src/models/activations.ts'
import { conv2d, LENET_C3_TABLE } from '../../src/models/conv2d.ts'
import { dense } from '../../src/models/dense.ts'
import { flatten } from '../../src/models/flatten.ts'
import { gradCheck } from '../../src/models/gradcheck.ts'
import type { AnyLayer } from '../../src/models/layer.ts'
import { evalCtx } from '../../src/models/layer.ts'
import type { Pool2dOptions } from '../../src/models/pool.ts'
import { avgPool2d, maxPool2d } from '../../src/models/pool.ts'
import { layerFromSpec } from '../../src/models/registry.ts'
import { sequential } from '../../src/models/sequential.ts'
import type { SubsampleActivation } from '../../src/models/subsample.ts'
import { subsample } from '../../src/models/subsample.ts'
import { key, normal } from '../../src/core/rng.ts'
import type { Shape, Tensor } from '../../src/core/tensor.ts'
import { cast, fromArray, size } from '../../src/core/tensor.ts'
import { castTree, leaves } from '../../src/core/tree.ts'

const randn = (seed: number, shape: Shape, dtype: 'float32' | 'float64' = 'float64'): Tensor => ({
  shape,
  data: normal(key(seed), size(shape), dtype),
})

const initOk = <P>(e: E.Either<LayerError, { params: P; outShape: Shape }>): { params: P; outShape: Shape } => {
  if (E.isLeft(e)) throw e.left
  return e.right
}

const leftMessage = (e: E.Either<LayerError, unknown>): string => {
  expect(E.isLeft(e)).toBe(true)
  if (E.isRight(e)) return ''
  expect(e.left).toBeInstanceOf(LayerError)
  return e.left.message
}

const expectGradCheck = (layer: AnyLayer, inShape: Shape, batch: number, seed: number): void => {
  const r = gradCheck(layer, inShape, { batch, seed })
  if (E.isLeft(r)) throw r.left
  expect(r.right.worst, JSON.stringify(r.right.errors)).toBeLessThan(1e-6)
}

describe('maxPool2d and avgPool2d: gradient checks', () => {
  const cases: ReadonlyArray<[Pool2dOptions, Shape]> = [
    [{ pool: 2 }, [6, 4, 3]],
    [{ pool: 3, stride: 2 }, [7, 9, 2]], // overlapping windows
    [{ pool: [2, 3], stride: [1, 2] }, [5, 7, 2]], // overlapping rows, odd sizes
    [{ pool: [3, 1], stride: [3, 1] }, [9, 5, 1]],
    [{ pool: 1 }, [3, 3, 2]],
    [{ pool: [4, 2], stride: [2, 3] }, [8, 5, 3]],
  ]
  for (const [options, inShape] of cases) {
    it(`maxPool2d ${JSON.stringify(options)} on ${JSON.stringify(inShape)}`, () => expectGradCheck(maxPool2d(options), inShape, 2, inShape[0]))
    it(`avgPool2d ${JSON.stringify(options)} on ${JSON.stringify(inShape)}`, () => expectGradCheck(avgPool2d(options), inShape, 2, inShape[1]))
  }
})

describe('maxPool2d and avgPool2d: values, spec, precision', () => {
  it('max gives tied windows to the first maximum; overlapping windows sum', () => {
    const l = maxPool2d({ pool: 2, stride: 1 })
    const x = fromArray([1, 3, 3, 1], [5, 5, 1, 5, 2, 5, 0, 5, 5], 'float64')
    const { y, saved } = l.forward({}, x, evalCtx)
    expect(y.shape).toEqual([1, 2, 2, 1])
    expect(Array.from(y.data)).toEqual([5, 5, 5, 5])
    const { dx } = l.vjp({}, saved, fromArray([1, 2, 2, 1], [1, 10, 100, 1000], 'float64'))
    expect(Array.from(dx.data)).toEqual([1, 10, 0, 100, 0, 1000, 0, 0, 0])
    expect(Array.from(saved.argmax)).toEqual([0, 1, 3, 5])
  })

  it('avg is the mean over each window', () => {
    const x = fromArray([1, 2, 4, 1], [1, 2, 3, 4, 5, 6, 7, 8], 'float64')
    const { y } = avgPool2d({ pool: 2 }).forward({}, x, evalCtx)
    expect(y.shape).toEqual([1, 1, 2, 1])
    expect(Array.from(y.data)).toEqual([(1 + 2 + 5 + 6) / 4, (3 + 4 + 7 + 8) / 4])
  })

  it('specs are the conformance form (stride defaults to the pool) and rebuild', () => {
    expect(maxPool2d({ pool: 2 }).spec).toEqual({ type: 'maxpool2d', pool: [2, 2], stride: [2, 2] })
    expect(avgPool2d({ pool: [3, 2], stride: [2, 1] }).spec).toEqual({ type: 'avgpool2d', pool: [3, 2], stride: [2, 1] })
    for (const [l, inShape] of [
      [maxPool2d({ pool: 3, stride: 2 }), [7, 9, 2]],
      [avgPool2d({ pool: [2, 3] }), [8, 9, 2]],
    ] as const) {
      const back = layerFromSpec(l.spec)
      if (E.isLeft(back)) throw back.left
      expect(back.right.spec).toEqual(l.spec)
      expect(initOk(back.right.init(key(0), inShape)).outShape).toEqual(initOk(l.init(key(0), inShape)).outShape)
    }
    expect(initOk(maxPool2d({ pool: 3, stride: 2 }).init(key(0), [7, 9, 2])).outShape).toEqual([3, 4, 2])
  })

  it('keep the input precision', () => {
    for (const l of [maxPool2d({ pool: 3, stride: 2 }), avgPool2d({ pool: 3, stride: 2 })]) {
      const x64 = randn(1, [2, 7, 9, 2])
      const r64 = l.forward({}, x64, evalCtx)
      const r32 = l.forward({}, cast(x64, 'float32'), evalCtx)
      expect(r32.y.data).toBeInstanceOf(Float32Array)
      for (let i = 0; i < r64.y.data.length; i++) expect(r32.y.data[i]).toBeCloseTo(r64.y.data[i], 5)
      const dy = randn(2, r64.y.shape, 'float32')
      const g = l.vjp({}, r32.saved, dy)
      expect(g.dx.data).toBeInstanceOf(Float32Array)
      expect(g.dx.shape).toEqual([2, 7, 9, 2])
    }
  })

  it('errors name the layer, the expected and the actual', () => {
    for (const [make, type] of [
      [maxPool2d, 'maxpool2d'],
      [avgPool2d, 'avgpool2d'],
    ] as const) {
      const init = (o: Pool2dOptions, s: Shape) => leftMessage(make(o).init(key(0), s))
      expect(init({ pool: 2 }, [4, 4])).toMatch(new RegExp(`^${type}: expected a per-sample input of rank 3 .*got rank 2 \\[4, 4\\]`))
      expect(init({ pool: 3 }, [2, 6, 1])).toMatch(new RegExp(`^${type}: expected the pool height 3 to fit in the input height, got 2`))
      expect(init({ pool: 2 }, [6, 5, 1])).toMatch(
        new RegExp(`^${type}: expected the input width minus the pool width to be a multiple of the stride 2, got 5 - 2 = 3 \\(remainder 1\\)`),
      )
      expect(init({ pool: NaN }, [6, 6, 1])).toMatch(new RegExp(`^${type}: expected pool to be a positive integer.*got NaN`))
      expect(init({ pool: [2, -1] }, [6, 6, 1])).toMatch(/expected pool to be .*got \[2, -1\]/)
      expect(init({ pool: 2, stride: 0 }, [6, 6, 1])).toMatch(/expected stride to be a positive integer.*got 0/)
      expect(init({ pool: 2, stride: [1, 0.5] }, [6, 6, 1])).toMatch(/expected stride .*got \[1, 0.5\]/)
      const l = make({ pool: 2 })
      expect(() => l.forward({}, randn(1, [4, 4, 1]), evalCtx)).toThrow(new RegExp(`^${type}: expected input of rank 4 \\[B, H, W, C\\], got \\[4, 4, 1\\]`))
      expect(() => l.forward({}, randn(1, [1, 5, 4, 1]), evalCtx)).toThrow(/multiple of the stride 2, got 5 - 2 = 3/)
      const { saved } = l.forward({}, randn(1, [1, 4, 4, 2]), evalCtx)
      expect(() => l.vjp({}, saved as never, randn(2, [1, 2, 2, 1]))).toThrow(
        new RegExp(`^${type}: expected dy of shape \\[1, 2, 2, 2\\] \\(the output's\\), got \\[1, 2, 2, 1\\]`),
      )
    }
  })
})

describe('subsample (LeNet trainable subsampling)', () => {
  const activations: SubsampleActivation[] = ['sigmoid', 'tanh', 'lecun_tanh', 'relu', 'identity']
  for (const activation of activations)
    for (const [pool, inShape] of [
      [2, [6, 4, 3]],
      [3, [9, 6, 2]],
      [1, [3, 5, 2]],
    ] as const)
      it(`passes gradCheck with ${activation}, pool ${pool}, on ${JSON.stringify(inShape)}`, () => {
        // random beta and b (init's are 1/n^2 and 0) so every parameter gradient is exercised
        const l = subsample({ pool, activation })
        const C = inShape[2]
        const params = { beta: randn(11, [C]), b: randn(12, [C]) }
        const r = gradCheck(l, inShape, { batch: 2, seed: pool, params })
        if (E.isLeft(r)) throw r.left
        expect(r.right.worst, JSON.stringify(r.right.errors)).toBeLessThan(1e-6)
      })

  it('z = beta * (block SUM) + b is saved under z, y = act(z)', () => {
    const l = subsample({ pool: 2, activation: 'sigmoid' })
    const x = fromArray([1, 2, 2, 2], [1, 10, 2, 20, 3, 30, 4, 40], 'float64')
    const p = { beta: fromArray([2], [0.5, -0.1], 'float64'), b: fromArray([2], [1, 2], 'float64') }
    const { y, saved } = l.forward(p, x, evalCtx)
    expect(y.shape).toEqual([1, 1, 1, 2])
    expect(saved.z.shape).toEqual([1, 1, 1, 2])
    expect(Array.from(saved.z.data)).toEqual([0.5 * 10 + 1, -0.1 * 100 + 2])
    expect(y.data[0]).toBeCloseTo(1 / (1 + Math.exp(-6)), 15)
    expect(y.data[1]).toBeCloseTo(1 / (1 + Math.exp(8)), 15)
  })

  it('inits beta = 1/n^2 (the block average) and b = 0; spec rebuilds', () => {
    const l = subsample({ pool: 3, activation: 'tanh' })
    const { params, outShape } = initOk(l.init(key(0), [9, 6, 4]))
    expect(outShape).toEqual([3, 2, 4])
    expect(Array.from(params.beta.data)).toEqual(new Array(4).fill(Math.fround(1 / 9)))
    expect(Array.from(params.b.data)).toEqual([0, 0, 0, 0])
    expect(l.spec).toEqual({ type: 'subsample', pool: 3, activation: 'tanh' })
    expect(subsample().spec).toEqual({ type: 'subsample', pool: 2, activation: 'sigmoid' })
    const back = layerFromSpec(l.spec)
    if (E.isLeft(back)) throw back.left
    expect(back.right.spec).toEqual(l.spec)
  })

  it('runs in Float32 (outputs and gradients in the input precision)', () => {
    const l = subsample({ pool: 2, activation: 'lecun_tanh' })
    const p = initOk(l.init(key(0), [4, 4, 3])).params
    const x = randn(1, [2, 4, 4, 3], 'float32')
    const { y, saved } = l.forward(p, x, evalCtx)
    expect(y.data).toBeInstanceOf(Float32Array)
    const g = l.vjp(p, saved, randn(2, y.shape, 'float32'))
    expect(g.dx.data).toBeInstanceOf(Float32Array)
    expect(g.dparams.beta.data).toBeInstanceOf(Float32Array)
    const r64 = l.forward(castTree(p, 'float64'), cast(x, 'float64'), evalCtx)
    for (let i = 0; i < y.data.length; i++) expect(y.data[i]).toBeCloseTo(r64.y.data[i], 5)
  })

  it('errors name the layer, the expected and the actual', () => {
    expect(leftMessage(subsample({ pool: 2 }).init(key(0), [5, 4, 1]))).toBe('subsample: expected height and width divisible by the pool 2, got 5 x 4')
    expect(leftMessage(subsample({ pool: 0 }).init(key(0), [4, 4, 1]))).toBe('subsample: expected pool to be a positive integer, got 0')
    expect(leftMessage(subsample({ pool: NaN }).init(key(0), [4, 4, 1]))).toMatch(/got NaN/)
    expect(leftMessage(subsample({ activation: 'softplus' as SubsampleActivation }).init(key(0), [4, 4, 1]))).toBe(
      'subsample: expected activation to be one of identity, sigmoid, tanh, lecun_tanh, relu, leaky_relu, swish, got "softplus"',
    )
    expect(leftMessage(subsample().init(key(0), [4, 4]))).toMatch(/^subsample: expected a per-sample input of rank 3 .*got rank 2 \[4, 4\]/)
    const l = subsample()
    const p = castTree(initOk(l.init(key(0), [4, 4, 2])).params, 'float64')
    expect(() => l.forward(p, randn(1, [1, 4, 4, 3]), evalCtx)).toThrow(/^subsample: expected beta and b of shape \[3\] .*got \[2\] and \[2\]/)
    expect(() => l.forward(p, randn(1, [1, 5, 4, 2]), evalCtx)).toThrow('subsample: expected height and width divisible by the pool 2, got 5 x 4')
    const { saved } = l.forward(p, randn(1, [1, 4, 4, 2]), evalCtx)
    expect(() => l.vjp(p, saved, randn(2, [1, 2, 2, 3]))).toThrow(/^subsample: expected dy of shape \[1, 2, 2, 2\] \(the output's\), got \[1, 2, 2, 3\]/)
  })
})

describe('conv / pool stacks through sequential', () => {
  it('conv2d -> relu -> maxPool2d -> flatten -> dense passes gradCheck', () => {
    const net = sequential(conv2d({ kernelSize: 3, filters: 4 }), relu(), maxPool2d({ pool: 2 }), flatten(), dense(5))
    const r = gradCheck(net, [10, 8, 2], { batch: 2, seed: 4 })
    if (E.isLeft(r)) throw r.left
    expect(r.right.worst, JSON.stringify(r.right.errors)).toBeLessThan(1e-6)
    expect(Object.keys(r.right.errors).sort()).toEqual(['conv1.b', 'conv1.k', 'fc1.W', 'fc1.b', 'x'])
  })

  it('a LeNet-style stack (conv, subsample, sparse-table conv, avg/max pooling) passes gradCheck', () => {
    const net = sequential(
      conv2d({ kernelSize: 3, filters: 6, padding: 'same', flip: true }),
      tanh(),
      subsample({ pool: 2, activation: 'identity' }),
      conv2d({ kernelSize: 3, filters: 16, connectionTable: LENET_C3_TABLE, stride: [1, 2] }),
      maxPool2d({ pool: [2, 1], stride: 1 }),
      avgPool2d({ pool: 1 }),
      flatten(),
      dense(3),
    )
    const r = gradCheck(net, [10, 10, 1], { batch: 2, seed: 8 })
    if (E.isLeft(r)) throw r.left
    expect(r.right.worst, JSON.stringify(r.right.errors)).toBeLessThan(1e-6)
    expect(leaves(initOk(net.init(key(0), [10, 10, 1])).params).map(([n]) => n)).toEqual([
      'conv1.k',
      'conv1.b',
      'sub1.beta',
      'sub1.b',
      'conv2.k',
      'conv2.b',
      'fc1.W',
      'fc1.b',
    ])
  })

  it('a stride that does not divide deep in a stack is a Left naming the child', () => {
    const net = sequential(conv2d({ kernelSize: 5, filters: 8 }), relu(), maxPool2d({ pool: 2 }))
    expect(leftMessage(net.init(key(0), [27, 27, 1]))).toMatch(/^pool1 \(maxpool2d\): expected the input height minus the pool height to be a multiple of the stride 2, got 23 - 2 = 21/)
  })
})
