import * as E from 'fp-ts/lib/Either.js'
import { lastValueFrom } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { flattenImages, loadMnist } from '../../src/io/mnist.ts'
import { encoderParams, tiedAutoencoder } from '../../src/models/autoencoder.ts'
import type { TiedAutoencoderParams } from '../../src/models/autoencoder.ts'
import { gradCheck } from '../../src/models/gradcheck.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import { supervised } from '../../src/models/objective.ts'
import { objectiveFromSpec } from '../../src/models/objective-spec.ts'
import { momentum } from '../../src/models/optimizers.ts'
import { autoencoder, encode, withPretrainedFirstLayer } from '../../src/models/zoo/autoencoder.ts'
import { mlp } from '../../src/models/zoo/mlp.ts'
import { key, uniform } from '../../src/core/rng.ts'
import { evaluate } from '../../src/streams/evaluate.ts'
import { hashBytes } from '../../src/streams/snapshot.ts'
import { arraySource } from '../../src/streams/source.ts'
import { initialSnapshot, trainObjective } from '../../src/streams/train.ts'
import type { Tensor } from '../../src/core/tensor.ts'
import { getLeaf } from '../../src/core/tree.ts'

const x01 = (B: number, m: number, seed: number): Tensor => ({ shape: [B, m], data: uniform(key(seed), B * m, 'float64') })

describe('tied autoencoder gradients (eqs 57-58: dW sums the encoder and decoder paths)', () => {
  it('passes gradCheck on W, b, b_hat and x', () => {
    const r = gradCheck(tiedAutoencoder({ hidden: 4 }), [7], { batch: 3, seed: 1 })
    if (E.isLeft(r)) throw r.left
    expect(Object.keys(r.right.errors).sort()).toEqual(['W', 'b', 'b_hat', 'x'])
    expect(r.right.worst).toBeLessThan(1e-7)
  })

  it('passes gradCheck in the denoising variant: the mask is a fixed function of the forward key', () => {
    const layer = tiedAutoencoder({ hidden: 5, corruption: 0.3 })
    const r = gradCheck(layer, [8], { batch: 3, seed: 2, training: true, x: x01(3, 8, 3) })
    if (E.isLeft(r)) throw r.left
    expect(r.right.worst).toBeLessThan(1e-7)
    // the check is not vacuous: noise is on, some inputs are dropped, and the key decides which
    const init = layer.init(key(0), [8])
    if (E.isLeft(init)) throw init.left
    const p = init.right.params
    const x = { shape: [3, 8], data: Float32Array.from(x01(3, 8, 3).data) }
    const mask = (k: number) => layer.forward(p, x, { training: true, key: key(k) }).saved.mask as Uint8Array
    expect([...mask(5)]).toEqual([...mask(5)])
    expect([...mask(5)]).not.toEqual([...mask(6)])
    expect(mask(5).filter((v) => v === 0).length).toBeGreaterThan(0)
    expect(layer.forward(p, x, { training: false, key: key(5) }).saved.mask).toBeNull()
  })

  it('encode(p, x) is the layer\'s hidden layer sigma(x W + b)', () => {
    const layer = tiedAutoencoder({ hidden: 3 })
    const init = layer.init(key(4), [5])
    if (E.isLeft(init)) throw init.left
    const x = { shape: [2, 5], data: Float32Array.from(x01(2, 5, 5).data) }
    expect([...encode(encoderParams(init.right.params), x).data]).toEqual([
      ...layer.forward(init.right.params, x, { training: false, key: key(0) }).saved.hidden.data,
    ])
  })
})

describe('autoencoder objective (zoo)', () => {
  it('reads [28, 28, 1] images as 784-vectors: the same loss as on flattened input', () => {
    const img = autoencoder({ hidden: 6 }, [4, 4, 1])
    const flat = autoencoder({ hidden: 6 }, [16])
    const init = flat.init(key(0))
    if (E.isLeft(init)) throw init.left
    const x = Float32Array.from(uniform(key(1), 3 * 16))
    const ctx = { training: true, key: key(2) }
    const a = img.forward(init.right.params, null, { x: { shape: [3, 4, 4, 1], data: x }, y: { shape: [3, 4, 4, 1], data: x }, epoch: 0, position: 0 }, ctx)
    const b = flat.forward(init.right.params, null, { x: { shape: [3, 16], data: x }, y: { shape: [3, 16], data: x }, epoch: 0, position: 0 }, ctx)
    expect(a.loss).toBe(b.loss)
    expect(img.spec.inShape).toEqual([4, 4, 1])
    expect(img.predict(init.right.params, { shape: [3, 4, 4, 1], data: x }).shape).toEqual([3, 16])
    // rebuilt from its JSON spec (checkpoints, worker threads): the same model
    const rebuilt = objectiveFromSpec(JSON.parse(JSON.stringify(img.spec)))
    if (E.isLeft(rebuilt)) throw rebuilt.left
    expect(rebuilt.right.spec).toEqual(img.spec)
    const c = rebuilt.right.forward(init.right.params, null, { x: { shape: [3, 4, 4, 1], data: x }, y: { shape: [3, 4, 4, 1], data: x }, epoch: 0, position: 0 }, ctx)
    expect(c.loss).toBe(a.loss)
  })

  it('training on MNIST digits lowers the reconstruction error of held-out digits', async () => {
    const m = loadMnist()
    const pick = (data: Float32Array, n: number, stride: number): Tensor => {
      const x = new Float32Array(n * 784)
      for (let r = 0; r < n; r++) x.set(data.subarray(r * stride * 784, (r * stride + 1) * 784), r * 784)
      return { shape: [n, 784], data: x }
    }
    const small = pick(flattenImages(m.train).x.data as Float32Array, 1000, 8)
    const held = pick(flattenImages(m.test).x.data as Float32Array, 200, 10)
    const obj = autoencoder({ hidden: 16 }, [784])
    const s0 = initialSnapshot(obj, momentum(0.3), key(0))
    if (E.isLeft(s0)) throw s0.left
    const before = evaluate(obj, s0.right.params, { x: held }).loss
    const last = await lastValueFrom(
      trainObjective(obj, momentum(0.3, { momentum: 0.9 }), { data: arraySource({ x: small }, { batchSize: 20 }), epochs: 2, seed: 0 }),
    )
    const after = evaluate(obj, last.params, { x: held }).loss
    // about 92 -> 18 (half the squared error per image)
    expect(after).toBeLessThan(0.4 * before)
  }, 30_000)
})

describe('pretraining: an MLP whose first layer is a trained encoder', () => {
  const ae = tiedAutoencoder({ hidden: 6 })
  const aeInit = ae.init(key(3), [10])
  if (E.isLeft(aeInit)) throw aeInit.left
  const aeParams: TiedAutoencoderParams = aeInit.right.params

  it('starts training with exactly the encoder W and b in fc1, and the rest from init', () => {
    const net = mlp({ hidden: [6], activation: 'sigmoid', classes: 3 })
    const params = withPretrainedFirstLayer(net, [10], key(1), encoderParams(aeParams))
    if (E.isLeft(params)) throw params.left
    const s0 = initialSnapshot(supervised(net, softmaxCrossEntropy(), [10]), momentum(0.1), key(0), params.right)
    if (E.isLeft(s0)) throw s0.left
    expect(hashBytes(getLeaf(s0.right.params, 'fc1.W')!.data)).toBe(hashBytes(aeParams.W.data))
    expect(hashBytes(getLeaf(s0.right.params, 'fc1.b')!.data)).toBe(hashBytes(aeParams.b.data))
    const fresh = net.init(key(1), [10])
    if (E.isLeft(fresh)) throw fresh.left
    expect(hashBytes(getLeaf(s0.right.params, 'fc2.W')!.data)).toBe(hashBytes(getLeaf(fresh.right.params, 'fc2.W')!.data))
    expect(hashBytes(getLeaf(s0.right.params, 'fc1.W')!.data)).not.toBe(hashBytes(getLeaf(fresh.right.params, 'fc1.W')!.data))
  })

  it('rejects an encoder of the wrong size, naming both shapes', () => {
    const net = mlp({ hidden: [7], activation: 'sigmoid', classes: 3 })
    const r = withPretrainedFirstLayer(net, [10], key(1), encoderParams(aeParams))
    expect(E.isLeft(r) && r.left.message).toMatch(/expected an encoder with W \[10, 7\] and b \[7\] for fc1, got W \[10, 6\] and b \[6\]/)
  })
})
