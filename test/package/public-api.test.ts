// The public API is small and grouped (issue 10): the root holds the names a README reader
// uses, the rest sits in namespaces. The lists below are the decision; a new root name must
// be added here on purpose. Each namespace must hold what the README says it does, and no
// internal name (keys' constants, scheduler yields, generic tensor helpers) may be at the root.

import { describe, expect, it } from 'vitest'
import * as core from '../../src/index.ts'
import * as node from '../../src/node.ts'

const ROOT_VALUES = [
  // layers and combinators
  'dense', 'relu', 'leakyRelu', 'lecunTanh', 'sigmoid', 'tanh', 'prelu', 'rrelu', 'swish', 'softmax', 'flatten', 'conv1d', 'conv2d',
  'LENET_C3_TABLE', 'maxPool2d', 'avgPool2d', 'subsample', 'dropout', 'batchNorm', 'onlineStandardize', 'globalAvgPool2d', 'residual', 'parallel',
  'sequential', 'named', 'tiedAutoencoder', 'evalCtx', 'predictor', 'defineLayer', 'defineActivation',
  // losses, objectives, optimizers
  'softmaxCrossEntropy', 'euclidean', 'supervised', 'autoencoding', 'sgd', 'momentum', 'nesterov', 'adam',
  // training, evaluation, time travel, online
  'train', 'trainObjective', 'arraySource', 'evaluate', 'evaluateEvery', 'earlyStopping', 'progress', 'trainWithHistory', 'hashParams',
  'gradCheck', 'online', 'webWorkers',
  // basics
  'tensor', 'key', 'GradstreamError', 'LayerError',
]
const NAMESPACES = [
  'tensors', 'random', 'trees', 'init', 'schedules', 'zoo', 'rbm', 'registry', 'training', 'timeTravel', 'metrics', 'streaming', 'drift',
  'datasets', 'safetensors', 'checkpoint', 'kernels', 'hashing',
]
const NODE_ADDS = ['loadMnist', 'loadTabular', 'loadCheckpoint', 'saveCheckpoint', 'workerThreads', 'keptWorkerThreads', 'png']

/** Whether an export is a namespace object (`export * as x`), whose prototype is null. */
const isNamespace = (v: unknown): boolean => typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === null

describe('the public API', () => {
  const names = Object.keys(core)

  it('has exactly the listed root values and namespaces', () => {
    expect(names.filter((n) => !isNamespace((core as Record<string, unknown>)[n])).sort()).toEqual([...ROOT_VALUES].sort())
    expect(names.filter((n) => isNamespace((core as Record<string, unknown>)[n])).sort()).toEqual([...NAMESPACES].sort())
  })

  it('keeps internals out of the root', () => {
    for (const internal of ['KEY_INIT', 'YIELD_MS', 'threefry2x32', 'makeSnapshot', 'isTempFile', 'update', 'add', 'size', 'writeFileAtomic']) {
      expect(names, internal).not.toContain(internal)
      expect(Object.keys(node), internal).not.toContain(internal)
    }
  })

  it('groups the rest in namespaces that hold what the README says', () => {
    expect(typeof core.random.split).toBe('function')
    expect(typeof core.tensors.zeros).toBe('function')
    expect(typeof core.trees.getLeaf).toBe('function')
    expect(typeof core.zoo.resnet).toBe('function')
    expect(typeof core.registry.layerFromSpec).toBe('function')
    expect(typeof core.training.randomShift).toBe('function')
    expect(typeof core.timeTravel.replayTo).toBe('function')
    expect(typeof core.streaming.recordsFromReadable).toBe('function')
    expect(typeof core.drift.adwin).toBe('function')
    expect(typeof core.kernels.warmUpKernels).toBe('function')
    expect(typeof core.checkpoint.decodeCheckpoint).toBe('function')
    expect(core.hashing.sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  it('the Node entry adds the file parts, and its train is the threaded one', () => {
    expect(Object.keys(node).filter((n) => !names.includes(n)).sort()).toEqual([...NODE_ADDS].sort())
    expect(node.train).not.toBe(core.train)
    expect(typeof node.checkpoint.loadCheckpoint).toBe('function')
    expect(typeof node.checkpoint.decodeCheckpoint).toBe('function')
    expect(typeof node.safetensors.saveSafetensors).toBe('function')
    expect(typeof node.datasets.loadMnist).toBe('function')
  })

  it('a name in two places is one function, not a wrapper', () => {
    expect(core.zoo.mlp).toBe(node.zoo.mlp)
    expect(node.checkpoint.decodeCheckpoint).toBe(core.checkpoint.decodeCheckpoint)
    expect(node.loadCheckpoint).toBe(node.checkpoint.loadCheckpoint)
  })
})
