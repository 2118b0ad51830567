import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { LayerError } from '../../src/core/errors.ts'
import { key } from '../../src/core/rng.ts'
import { fromArray } from '../../src/core/tensor.ts'
import { leakyRelu, relu, sigmoid } from '../../src/models/activations.ts'
import { tiedAutoencoder } from '../../src/models/autoencoder.ts'
import { batchNorm } from '../../src/models/batch-norm.ts'
import { conv1d } from '../../src/models/conv1d.ts'
import { conv2d, LENET_C3_TABLE } from '../../src/models/conv2d.ts'
import { defineLayer, drawsFromKey, elementwiseKernels, layerType, trainsDifferently } from '../../src/models/define.ts'
import { dense } from '../../src/models/dense.ts'
import { dropout } from '../../src/models/dropout.ts'
import { flatten } from '../../src/models/flatten.ts'
import { globalAvgPool2d } from '../../src/models/global-pool.ts'
import type { AnyLayer } from '../../src/models/layer.ts'
import { evalCtx } from '../../src/models/layer.ts'
import { parallel } from '../../src/models/parallel.ts'
import { avgPool2d, maxPool2d } from '../../src/models/pool.ts'
import { prelu } from '../../src/models/prelu.ts'
import { layerFromSpec } from '../../src/models/registry.ts'
import { residual } from '../../src/models/residual.ts'
import { rrelu } from '../../src/models/rrelu.ts'
import { named, sequential } from '../../src/models/sequential.ts'
import { softmax } from '../../src/models/softmax.ts'
import { subsample } from '../../src/models/subsample.ts'
import { activation } from '../../src/models/zoo/mlp.ts'

const every: AnyLayer[] = [
  dense(3, { init: 'he' }),
  sigmoid(),
  relu(),
  leakyRelu(7),
  prelu({ init: 3 }),
  rrelu({ lower: 2, upper: 4 }),
  softmax(),
  flatten(),
  conv1d({ kernelSize: 3, filters: 2, stride: 2 }),
  conv2d({ kernelSize: [3, 2], filters: 4, stride: [2, 1], padding: 'same', flip: true }),
  conv2d({ kernelSize: 5, filters: 16, connectionTable: LENET_C3_TABLE }),
  maxPool2d({ pool: 2 }),
  avgPool2d({ pool: [2, 3], stride: 1 }),
  subsample({ pool: 2, activation: 'tanh' }),
  tiedAutoencoder({ hidden: 4, corruption: 0.25 }),
  dropout(0.3),
  batchNorm({ momentum: 0.2, eps: 1e-3 }),
  globalAvgPool2d(),
  residual(sequential(conv2d({ kernelSize: 3, filters: 2, padding: 'same' }), batchNorm()), { projection: conv2d({ kernelSize: 1, filters: 2 }) }),
  parallel(dense(2), sequential(dense(3), relu()), { merge: 'concat' }),
  sequential(named('stem', dense(4)), relu(), sequential(dense(2))),
]

describe('the layer registry', () => {
  it('rebuilds every layer type from its spec, and the rebuilt layer has the same spec', () => {
    for (const l of every) {
      const json = JSON.parse(JSON.stringify(l.spec))
      const back = layerFromSpec(json)
      if (E.isLeft(back)) throw back.left
      expect(back.right.spec).toEqual(l.spec)
      expect(layerType(l.spec.type)?.type).toBe(l.spec.type)
    }
  })

  it('names unnamed sequential children by the prefix their type declares', () => {
    const s = sequential(dense(4), relu(), batchNorm(), dense(2), residual(dense(2)), globalAvgPool2d())
    expect(s.children.map((c) => c.name)).toEqual(['fc1', 'relu1', 'bn1', 'fc2', 'res1', 'gap1'])
    const swishLike = defineLayer({
      type: 'test_scaled',
      prefix: 'sc',
      create: (k: number) => ({ ...relu(), spec: { type: 'test_scaled', k } }),
      fromSpec: (r) => [r.num('k')] as const,
    })
    expect(sequential(swishLike(2), swishLike(3)).children.map((c) => c.name)).toEqual(['sc1', 'sc2'])
    expect(E.isRight(layerFromSpec({ type: 'test_scaled', k: 2 }))).toBe(true)
  })

  it('knows which layers draw from the key and which train differently', () => {
    expect(drawsFromKey(dense(3).spec)).toBe(false)
    expect(drawsFromKey(rrelu().spec)).toBe(true)
    expect(drawsFromKey(dropout(0.5).spec)).toBe(true)
    expect(drawsFromKey(dropout(0).spec)).toBe(false)
    expect(drawsFromKey(tiedAutoencoder({ hidden: 3 }).spec)).toBe(false)
    expect(drawsFromKey(tiedAutoencoder({ hidden: 3, corruption: 0.1 }).spec)).toBe(true)
    // nested anywhere in a model spec
    expect(drawsFromKey({ kind: 'supervised', layer: sequential(dense(3), residual(sequential(dense(3), dropout(0.1)))).spec })).toBe(true)
    expect(drawsFromKey(batchNorm().spec)).toBe(false)
    expect(trainsDifferently(sequential(dense(3), batchNorm()).spec)).toBe(true)
    expect(trainsDifferently(sequential(dense(3), relu()).spec)).toBe(false)
  })

  it('finds the element-wise activations and their kernels by name (mlp, subsample)', () => {
    expect(activation('tanh').spec).toEqual({ type: 'tanh' })
    expect(activation('leaky_relu').spec).toEqual({ type: 'leaky_relu', a: 5 })
    expect(elementwiseKernels('relu').uses).toBe('y')
    expect(() => activation('softplus')).toThrow(/^activation: expected an activation, one of sigmoid, tanh, lecun_tanh, relu, leaky_relu.*, got "softplus"$/)
    expect(() => activation('dense')).toThrow(LayerError)
  })

  it('rejects bad specs with one LayerError naming the field', () => {
    const msg = (spec: unknown): string => {
      const r = layerFromSpec(spec)
      if (E.isRight(r)) throw new Error('expected a Left')
      expect(r.left).toBeInstanceOf(LayerError)
      expect(r.left.message).not.toContain('\n')
      return r.left.message
    }
    expect(msg({ type: 'dense' })).toBe('dense spec: expected "units" to be a number, got nothing')
    expect(msg({ type: 'dense', units: 3, init: 'zeros' })).toBe('dense spec: expected "init" to be one of glorot, he, lecun, got "zeros"')
    expect(msg({ type: 'nope' })).toMatch(/^layer spec: expected "type" to be a registered layer type \(.*dense.*\), got "nope"/)
    expect(msg(7)).toBe('layer spec: expected an object with a string "type", got 7')
    expect(msg({ type: 'parallel', branches: 'x' })).toBe('parallel spec: expected "branches" to be an array of layer specs, got "x"')
    expect(msg({ type: 'residual' })).toMatch(/^layer spec: expected an object with a string "type", got undefined/)
  })

  it('refuses a second declaration of a type', () => {
    expect(() => defineLayer({ type: 'dense', create: () => relu(), fromSpec: () => [] as const })).toThrow(
      'defineLayer: expected a new layer type, got "dense" twice',
    )
  })
})

describe('data checks shared by every layer (issue 12)', () => {
  it('dense(3).forward on data shorter than its shape throws one LayerError line', () => {
    const l = dense(3)
    const init = l.init(key(0), [4])
    if (E.isLeft(init)) throw init.left
    const x = { shape: [2, 4], data: new Float32Array(3) }
    expect(() => l.forward(init.right.params, x, evalCtx)).toThrow(LayerError)
    expect(() => l.forward(init.right.params, x, evalCtx)).toThrow('dense: expected input data of 8 values (shape [2, 4]), got 3')
  })

  it('every layer checks its input and its dy', () => {
    const layers: AnyLayer[] = [relu(), flatten(), dropout(0.5), globalAvgPool2d(), batchNorm(), sequential(dense(2))]
    for (const l of layers) {
      expect(() => l.forward({}, { shape: [2, 2, 2, 1], data: new Float32Array(5) }, evalCtx)).toThrow(
        new RegExp(`^${l.spec.type}: expected input data of 8 values \\(shape \\[2, 2, 2, 1\\]\\), got 5$`),
      )
      expect(() => l.vjp({}, null, { shape: [3], data: new Float64Array(2) })).toThrow(`${l.spec.type}: expected dy data of 3 values`)
    }
    const r = relu()
    expect(() => r.forward({}, { shape: [2], data: [1, 2] as unknown as Float32Array }, evalCtx)).toThrow(/relu: expected input to be a tensor/)
    expect(r.forward({}, fromArray([2], [1, -1]), evalCtx).y.data).toEqual(new Float32Array([1, 0]))
  })
})
