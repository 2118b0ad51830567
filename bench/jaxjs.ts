// jax-js 0.1.25 (@jax-js/jax, a bench-only dev dependency) on its wasm device, used as its
// users would: jit-compiled functions, grad for training, arrays made from Float32Arrays,
// results read back with dataSync(). Same weights (gradstream's initial parameters, copied
// and laid out for jax-js: conv kernels OIHW, images NCHW), same order and SGD as the others.
//
// Node 20 has no `navigator`, so init() is asked for the wasm device alone (asking for all
// devices probes WebGPU through navigator and throws).

import type { Array as JaxArray } from '@jax-js/jax'
import { grad, init, jit, lax, numpy as np, nn, tree } from '@jax-js/jax'
import type { Params } from '../src/index.ts'
import { trees } from '../src/index.ts'
import type { TimedSystem } from './clock.ts'
import { now, repeatFor, secondsSince } from './clock.ts'
import type { Turn } from './turns.ts'
import { ownTurn } from './turns.ts'
import { accuracyOf, CLASSES, gatherRows, oneHotRows, PIXELS } from './data.ts'
import { initialParams } from './gradstream.ts'
import type { EpochPlan, EpochRun } from './workloads/epochs.ts'

let ready: Promise<void> | null = null

/** Starts jax-js's wasm device once; throws if it is not there. */
const start = (): Promise<void> => {
  if (ready === null)
    ready = init('wasm').then((devices) => {
      if (!devices.includes('wasm')) throw new Error(`jax-js: no wasm device (got ${devices.join(', ')})`)
    })
  return ready
}

const arrayOf = (data: Float32Array, shape: number[]): JaxArray => np.array(data).reshape(shape)

// ---- W1 ------------------------------------------------------------------------------

/** W1's product on jax-js: jit(np.matmul) + dataSync(), operands made up front; close() frees them. */
export const jaxGemm = async (n: number): Promise<TimedSystem> => {
  await start()
  const rnd = (salt: number) => Float32Array.from({ length: n * n }, (_, i) => (((i * 2654435761 + salt) >>> 0) / 2 ** 32) * 2 - 1)
  const a = arrayOf(rnd(1), [n, n])
  const b = arrayOf(rnd(2), [n, n])
  const mm = jit((x: JaxArray, y: JaxArray) => np.matmul(x, y))
  return {
    call: () => {
      mm(a.ref, b.ref).dataSync()
    },
    close: () => {
      a.dispose()
      b.dispose()
      mm.dispose()
    },
  }
}

// ---- networks --------------------------------------------------------------------------

type Net = 'mlp' | 'cnn'
type JaxParams = Record<string, JaxArray>

const leaf = (p: Params, path: string): Float32Array => {
  const t = trees.getLeaf(p, path)
  if (!t) throw new Error(`jax-js net: no parameter ${path}`)
  return Float32Array.from(t.data)
}

/** gradstream's initial parameters in jax-js layouts (dense W [in, out]; conv k [kh,kw,C,O] -> [O,C,kh,kw]). */
const jaxParams = (p: Params, net: Net): JaxParams => {
  const out: JaxParams = {}
  for (let i = 1; trees.getLeaf(p, `fc${i}.W`) !== undefined; i++) {
    const W = trees.getLeaf(p, `fc${i}.W`)!
    out[`W${i}`] = arrayOf(leaf(p, `fc${i}.W`), [...W.shape])
    out[`b${i}`] = arrayOf(leaf(p, `fc${i}.b`), [W.shape[1]])
  }
  if (net === 'cnn')
    for (const c of ['conv1', 'conv2']) {
      const k = trees.getLeaf(p, `${c}.k`)!
      const [kh, kw, C, O] = k.shape
      out[`${c}k`] = np.transpose(arrayOf(leaf(p, `${c}.k`), [kh, kw, C, O]), [3, 2, 0, 1])
      out[`${c}b`] = arrayOf(leaf(p, `${c}.b`), [1, O, 1, 1])
    }
  return out
}

const denseLayers = (p: JaxParams): number => Object.keys(p).filter((k) => /^W\d+$/.test(k)).length

/** Logits [B, 10] of images x [B, 784] (NHWC pixels, flattened). */
const forward = (net: Net, p: JaxParams, x: JaxArray, B: number): JaxArray => {
  let h: JaxArray
  if (net === 'mlp') h = x
  else {
    // conv 5x5x8 -> ReLU -> pool 2 -> conv 5x5x16 -> ReLU -> pool 2, in NCHW; back to NHWC to flatten
    let z = x.reshape([B, 1, 28, 28])
    z = nn.relu(lax.conv(z, p.conv1k, [1, 1], 'VALID').add(p.conv1b))
    z = z.reshape([B, 8, 12, 2, 12, 2]).max([3, 5])
    z = nn.relu(lax.conv(z, p.conv2k, [1, 1], 'VALID').add(p.conv2b))
    z = z.reshape([B, 16, 4, 2, 4, 2]).max([3, 5])
    h = np.transpose(z, [0, 2, 3, 1]).reshape([B, 256])
  }
  const L = denseLayers(p)
  for (let i = 1; i <= L; i++) {
    const zi = np.matmul(h, p[`W${i}`]).add(p[`b${i}`])
    h = i < L ? nn.relu(zi) : zi
  }
  return h
}

/** Mean softmax cross-entropy of the batch. */
const loss = (net: Net, p: JaxParams, x: JaxArray, y: JaxArray, B: number): JaxArray =>
  nn.logSoftmax(forward(net, p, x, B), -1).mul(y).sum().mul(-1 / B)

/**
 * Training epochs through jit(grad) SGD steps, in the plan's order (the last partial batch
 * included: a second compiled shape). Samples/s per epoch, test accuracy after chosen epochs.
 */
export const jaxEpochs = async (plan: EpochPlan, net: Net, turn: Turn = ownTurn): Promise<EpochRun> => {
  await turn()
  await start()
  const { batch: Bt, order, lr } = plan
  const x = plan.train.x.data
  const labels = plan.train.labels
  if (!labels) throw new Error('jax-js training: expected labelled data')
  const step = jit((p: JaxParams, xb: JaxArray, yb: JaxArray): JaxParams => {
    const B = xb.shape[0]
    const g = grad((q: JaxParams) => loss(net, q, xb, yb, B))(tree.ref(p))
    const out: JaxParams = {}
    for (const k of Object.keys(p)) out[k] = p[k].sub(g[k].mul(lr))
    return out
  })
  const predict = jit((p: JaxParams, xb: JaxArray): JaxArray => np.argmax(forward(net, p, xb, xb.shape[0]), 1))
  const steps = Math.ceil(order.length / Bt)
  const runSteps = (p: JaxParams, count: number): JaxParams => {
    let q = p
    for (let s = 0; s < count; s++) {
      const idx = order.subarray(s * Bt, Math.min(order.length, (s + 1) * Bt))
      // Wrapping the batch is part of the timed step, as for the other systems.
      q = step(q, arrayOf(gatherRows(x, idx, PIXELS), [idx.length, PIXELS]), arrayOf(oneHotRows(labels, idx), [idx.length, CLASSES]))
    }
    return q
  }
  const sync = (p: JaxParams): void => {
    for (const k of Object.keys(p)) p[k].ref.dataSync()
  }
  const accuracy = (p: JaxParams): number => {
    const N = plan.test.x.shape[0]
    const pred = new Int32Array(N)
    for (let i = 0; i < N; i += 500) {
      const B = Math.min(500, N - i)
      const xb = arrayOf(Float32Array.from(plan.test.x.data.subarray(i * PIXELS, (i + B) * PIXELS)), [B, PIXELS])
      pred.set(Int32Array.from(predict(tree.ref(p), xb).dataSync() as ArrayLike<number>), i)
    }
    return accuracyOf(pred, plan.test.labels)
  }
  // Warm-up (compilation of both batch shapes) on a throwaway copy.
  const init0 = initialParams(plan.model())
  let scratch = jaxParams(init0, net)
  repeatFor(plan.warmupMs, () => {
    scratch = runSteps(scratch, Math.min(plan.warmupSteps, steps))
    sync(scratch)
  })
  const tail = order.length % Bt
  if (tail !== 0) {
    const idx = order.subarray(order.length - tail)
    tree.dispose(step(scratch, arrayOf(gatherRows(x, idx, PIXELS), [tail, PIXELS]), arrayOf(oneHotRows(labels, idx), [tail, CLASSES])))
  } else tree.dispose(scratch)
  let p = jaxParams(initialParams(plan.model()), net)
  const rates: number[] = []
  const acc = new Map<number, number>()
  for (let e = 1; e <= plan.epochs; e++) {
    await turn()
    const t0 = now()
    p = runSteps(p, steps)
    sync(p)
    rates.push(order.length / secondsSince(t0))
    if (plan.accuracyAfter.includes(e)) acc.set(e, accuracy(p))
  }
  tree.dispose(p)
  step.dispose()
  predict.dispose()
  return { rates, accuracy: acc, memory: new Map() }
}

/** W5: a jit-compiled forward + softmax of one [1, 28, 28, 1] image, probabilities read out. */
export const jaxInference = async (params: Params): Promise<(x: Float32Array) => number[]> => {
  await start()
  const p = jaxParams(params, 'cnn')
  const f = jit((q: JaxParams, xb: JaxArray): JaxArray => nn.softmax(forward('cnn', q, xb, 1), -1))
  return (x) => Array.from(f(tree.ref(p), arrayOf(Float32Array.from(x), [1, PIXELS])).dataSync() as ArrayLike<number>)
}
