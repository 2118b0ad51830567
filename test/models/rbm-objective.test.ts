import * as E from 'fp-ts/lib/Either.js'
import { lastValueFrom, toArray } from 'rxjs'
import { centralDifferences } from '../helpers.ts'
import { describe, expect, it } from 'vitest'
import { flattenImages, loadMnist } from '../../src/io/mnist.ts'
import type { Batch } from '../../src/models/objective.ts'
import { objectiveFromSpec } from '../../src/models/objective-spec.ts'
import { momentum, sgd } from '../../src/models/optimizers.ts'
import type { RbmParams } from '../../src/models/rbm.ts'
import { contrastiveDivergence, freeEnergy, logPartition } from '../../src/models/rbm.ts'
import type { RbmState } from '../../src/models/rbm-objective.ts'
import { gibbsSample, rbmEnergy, rbmMonitor, rbmObjective, sampleBinary, threshold, visibleMean } from '../../src/models/rbm-objective.ts'
import { foldIn, key, normal, uniform } from '../../src/core/rng.ts'
import { evaluate } from '../../src/streams/evaluate.ts'
import { forwardKey, hashBytes, hashParams } from '../../src/streams/snapshot.ts'
import type { Snapshot } from '../../src/streams/snapshot.ts'
import { arraySource } from '../../src/streams/source.ts'
import { trainObjective } from '../../src/streams/train.ts'
import type { Tensor } from '../../src/core/tensor.ts'
import type { Params } from '../../src/core/tree.ts'

const tiny = (m: number, n: number, seed: number): RbmParams => ({
  W: { shape: [m, n], data: normal(key(seed), m * n, 'float64', 0, 0.7) },
  a: { shape: [m], data: normal(foldIn(key(seed), 1), m, 'float64', 0, 0.5) },
  b: { shape: [n], data: normal(foldIn(key(seed), 2), n, 'float64', 0, 0.5) },
})

/** E(v, h) = -a.v - b.h - v^T W h (eq 36). */
const energy = (p: RbmParams, v: ArrayLike<number>, h: ArrayLike<number>): number => {
  const [m, n] = p.W.shape
  let e = 0
  for (let i = 0; i < m; i++) e -= p.a.data[i] * v[i]
  for (let j = 0; j < n; j++) e -= p.b.data[j] * h[j]
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) e -= v[i] * p.W.data[i * n + j] * h[j]
  return e
}

const states = (k: number): number[][] => Array.from({ length: 2 ** k }, (_, s) => Array.from({ length: k }, (_, i) => (s >> i) & 1))

const logSumExp = (xs: number[]): number => {
  const mx = Math.max(...xs)
  return mx + Math.log(xs.reduce((a, x) => a + Math.exp(x - mx), 0))
}

const binaryBatch = (B: number, m: number, seed: number): Tensor => ({
  shape: [B, m],
  data: Float64Array.from(uniform(key(seed), B * m, 'float64'), (u) => (u < 0.4 ? 1 : 0)),
})

describe('RBM free energy and partition function against brute force', () => {
  const p = tiny(5, 4, 1)
  it('rbmEnergy is eq 36 on every (v, h)', () => {
    const pairs = states(5).flatMap((v) => states(4).map((h) => [v, h] as const))
    const E36 = rbmEnergy(
      p,
      { shape: [pairs.length, 5], data: Float64Array.from(pairs.flatMap(([v]) => v)) },
      { shape: [pairs.length, 4], data: Float64Array.from(pairs.flatMap(([, h]) => h)) },
    ).data
    pairs.forEach(([v, h], r) => expect(Math.abs(E36[r] - energy(p, v, h))).toBeLessThan(1e-12))
    expect(new Set(E36).size).toBeGreaterThan(400)
  })

  it('F(v) = -log sum_h exp(-E(v, h)), enumerating all 16 hidden states', () => {
    const vs = states(5)
    const F = freeEnergy(p, { shape: [vs.length, 5], data: Float64Array.from(vs.flat()) }).data
    vs.forEach((v, r) => {
      const brute = -logSumExp(states(4).map((h) => -energy(p, v, h)))
      expect(Math.abs(F[r] - brute)).toBeLessThan(1e-12)
    })
  })

  it('log Z = log sum_{v,h} exp(-E(v, h)), enumerating all 512 joint states', () => {
    const brute = logSumExp(states(5).flatMap((v) => states(4).map((h) => -energy(p, v, h))))
    expect(Math.abs(logPartition(p) - brute)).toBeLessThan(1e-12)
    // and with the larger layer hidden (the enumeration goes over the other layer)
    const q = tiny(3, 6, 2)
    const bruteQ = logSumExp(states(3).flatMap((v) => states(6).map((h) => -energy(q, v, h))))
    expect(Math.abs(logPartition(q) - bruteQ)).toBeLessThan(1e-12)
  })
})

describe('CD gradient', () => {
  it('equals the gradient of mean F(v0) - mean F(vk) with the chain end vk held fixed', () => {
    const p = tiny(6, 4, 3)
    const v0 = binaryBatch(5, 6, 4)
    const cd = contrastiveDivergence(p, v0, key(9), 2)
    const objective = (q: RbmParams): number => {
      const mean = (t: Tensor) => Array.from(t.data).reduce((s, x) => s + x, 0) / t.data.length
      return mean(freeEnergy(q, v0)) - mean(freeEnergy(q, cd.vk))
    }
    for (const name of ['W', 'a', 'b'] as const) {
      const num = centralDifferences(() => objective(p), p[name].data as Float64Array)
      const g = cd.grads[name].data
      for (let i = 0; i < num.length; i++) expect(Math.abs(num[i] - g[i])).toBeLessThan(1e-7)
    }
    // not all zero: the chain moved
    expect(cd.grads.W.data.some((g) => Math.abs(g) > 1e-3)).toBe(true)
  })
})

describe('sampling is a function of the key', () => {
  const p = tiny(8, 5, 5)
  const v0 = binaryBatch(6, 8, 6)
  it('contrastiveDivergence: same key, same samples and gradients; another key, others', () => {
    const a = contrastiveDivergence(p, v0, key(1), 3)
    const b = contrastiveDivergence(p, v0, key(1), 3)
    const c = contrastiveDivergence(p, v0, key(2), 3)
    expect(hashBytes(a.vk.data)).toBe(hashBytes(b.vk.data))
    expect(hashBytes(a.h0.data)).toBe(hashBytes(b.h0.data))
    expect(hashBytes(a.grads.W.data)).toBe(hashBytes(b.grads.W.data))
    expect(hashBytes(a.h0.data)).not.toBe(hashBytes(c.h0.data))
    expect(hashBytes(a.grads.W.data)).not.toBe(hashBytes(c.grads.W.data))
    // gibbsSample runs the same chain from the same key
    expect(hashBytes(gibbsSample(p, v0, key(1), 3).v.data)).toBe(hashBytes(a.vk.data))
    expect(hashBytes(gibbsSample(p, v0, key(1), 1).h.data)).toBe(hashBytes(a.h0.data))
  })

  it('stochastic binarisation: same key, same image; pixel frequencies follow the intensities', () => {
    const x: Tensor = { shape: [1, 4], data: Float32Array.from([0, 0.25, 0.75, 1]) }
    expect([...sampleBinary(x, key(3)).data]).toEqual([...sampleBinary(x, key(3)).data])
    const big: Tensor = { shape: [5000, 4], data: Float32Array.from({ length: 20000 }, (_, i) => x.data[i % 4]) }
    const s = sampleBinary(big, key(4)).data
    const freq = [0, 1, 2, 3].map((j) => Array.from(s).filter((_, i) => i % 4 === j).reduce((a, v) => a + v, 0) / 5000)
    expect(freq[0]).toBe(0)
    expect(freq[3]).toBe(1)
    expect(Math.abs(freq[1] - 0.25)).toBeLessThan(0.02)
    expect(Math.abs(freq[2] - 0.75)).toBeLessThan(0.02)
    expect([...threshold(x).data]).toEqual([0, 0, 1, 1])
  })
})

describe('rbmObjective', () => {
  const batch = (x: Tensor) => ({ x, y: x, epoch: 0, position: 0 })
  const init = (o: Parameters<typeof rbmObjective>[0], seed = 0) => {
    const obj = rbmObjective(o)
    const r = obj.init(key(seed))
    if (E.isLeft(r)) throw r.left
    return { obj, ...r.right }
  }

  it('rejects bad options with a LayerError naming the rbm', () => {
    expect(() => rbmObjective({ visible: 4, hidden: 0 })).toThrow(/rbm: expected hidden to be a positive integer, got 0/)
    expect(() => rbmObjective({ visible: 4, hidden: 2, k: 1.5 })).toThrow(/expected k/)
    expect(() => rbmObjective({ visible: 4, hidden: 2, inShape: [5] })).toThrow(/expected a per-sample input of 4 values, got \[5\]/)
    expect(() => rbmObjective({ visible: 4, hidden: 2, dataMean: [0.5] })).toThrow(/data mean of length 4/)
  })

  it('forward: the loss is the mean-field reconstruction error; backward: the CD statistics of the forward key', () => {
    const { obj, params, state } = init({ visible: 6, hidden: 3, binarize: 'threshold' })
    expect(state).toBeNull()
    const x: Tensor = { shape: [4, 6], data: Float32Array.from(uniform(key(1), 24)) }
    const ctx = { training: true, key: key(7) }
    const fwd = obj.forward(params, null, batch(x), ctx)
    const v0 = threshold(x)
    // The reconstruction computed here, in float64 loops (not through the library's
    // kernels): p(h|v0) = sigmoid(v0 W + b), then p(v|h) = sigmoid(h W^T + a).
    const P = params as unknown as RbmParams
    const sig = (z: number): number => 1 / (1 + Math.exp(-z))
    const want = new Float64Array(24)
    for (let r = 0; r < 4; r++) {
      const h = Array.from({ length: 3 }, (_, j) => {
        let z = P.b.data[j]
        for (let i = 0; i < 6; i++) z += v0.data[r * 6 + i] * P.W.data[i * 3 + j]
        return sig(z)
      })
      for (let i = 0; i < 6; i++) {
        let z = P.a.data[i]
        for (let j = 0; j < 3; j++) z += h[j] * P.W.data[i * 3 + j]
        want[r * 6 + i] = sig(z)
      }
    }
    let err = 0
    for (let i = 0; i < 24; i++) {
      expect(fwd.outputs.data[i]).toBeCloseTo(want[i], 6)
      err += (want[i] - v0.data[i]) ** 2
    }
    expect(new Set(Array.from(v0.data)).size).toBe(2) // thresholded to 0/1, as the spec says
    expect(fwd.loss).toBeCloseTo(err / 4, 6)
    const { grads } = obj.backward(params, null, batch(x), fwd)
    const ref = contrastiveDivergence(params as unknown as RbmParams, v0, foldIn(ctx.key, 1), 1)
    expect(hashBytes((grads.W as Tensor).data)).toBe(hashBytes(ref.grads.W.data))
    // images of any per-sample shape are read flat
    const img = rbmObjective({ visible: 6, hidden: 3, binarize: 'threshold', inShape: [2, 3, 1] })
    const fwd2 = img.forward(params, null, batch({ shape: [4, 2, 3, 1], data: x.data }), ctx)
    expect(fwd2.loss).toBe(fwd.loss)
  })

  it('is rebuilt from its JSON spec (checkpoints, worker threads) into the same model', () => {
    const { obj, params } = init({ visible: 6, hidden: 3, k: 2, binarize: 'threshold', inShape: [2, 3, 1] })
    const rebuilt = objectiveFromSpec(JSON.parse(JSON.stringify(obj.spec)))
    if (E.isLeft(rebuilt)) throw rebuilt.left
    expect(rebuilt.right.spec).toEqual(obj.spec)
    const x: Tensor = { shape: [4, 2, 3, 1], data: Float32Array.from(uniform(key(1), 24)) }
    const ctx = { training: true, key: key(7) }
    const g = (o: typeof rebuilt.right) => o.backward(params, null, batch(x), o.forward(params, null, batch(x), ctx)).grads.W as Tensor
    expect(hashBytes(g(rebuilt.right).data)).toBe(hashBytes(g(obj as unknown as typeof rebuilt.right).data))
    expect(E.isLeft(objectiveFromSpec({ ...obj.spec, hidden: -1 }))).toBe(true)
  })

  it('evaluation mode draws nothing: the result does not depend on the key', () => {
    const { obj, params } = init({ visible: 6, hidden: 3 })
    const x: Tensor = { shape: [4, 6], data: Float32Array.from(uniform(key(1), 24)) }
    const a = obj.forward(params, null, batch(x), { training: false, key: key(1) })
    const b = obj.forward(params, null, batch(x), { training: false, key: key(2) })
    expect(a.loss).toBe(b.loss)
    expect(() => obj.backward(params, null, batch(x), a)).toThrow(/training-mode forward/)
  })

  it('PCD: chains start from the key, continue from the last Gibbs sample, and a short batch leaves the rest', () => {
    const { obj, params, state } = init({ visible: 6, hidden: 3, persistent: true, chains: 4, k: 2 })
    const chains = (state as NonNullable<RbmState>).chains
    expect(chains.shape).toEqual([4, 6])
    expect(chains.data.every((v) => v === 0 || v === 1)).toBe(true)
    const again = obj.init(key(0))
    expect(E.isRight(again) && hashBytes((again.right.state as NonNullable<RbmState>).chains.data)).toBe(hashBytes(chains.data))
    const x: Tensor = { shape: [3, 6], data: Float32Array.from(uniform(key(1), 18)) }
    const ctx = { training: true, key: key(5) }
    const fwd = obj.forward(params, state, batch(x), ctx)
    const next = obj.backward(params, state, batch(x), fwd).state as NonNullable<RbmState>
    const v0 = sampleBinary(x, foldIn(ctx.key, 0))
    const start = { shape: [3, 6], data: chains.data.subarray(0, 18) }
    const ref = contrastiveDivergence(params as unknown as RbmParams, v0, foldIn(ctx.key, 1), 2, start)
    expect([...next.chains.data.subarray(0, 18)]).toEqual([...ref.vk.data])
    expect([...next.chains.data.subarray(18)]).toEqual([...chains.data.subarray(18)])
    expect(next.chains.data).not.toBe(chains.data)
    expect(() => obj.forward(params, state, batch({ shape: [5, 6], data: new Float32Array(30) }), ctx)).toThrow(/at most 4 rows/)
  })
})

describe('training an RBM through the snapshot stream', () => {
  const data = (() => {
    // 40 random binary-ish 12-pixel patterns from 3 prototypes
    const protos = [0, 1, 2].map((c) => Array.from({ length: 12 }, (_, i) => ((i + c) % 3 === 0 ? 0.95 : 0.05)))
    const x = new Float32Array(60 * 12)
    for (let r = 0; r < 60; r++) x.set(protos[r % 3], r * 12)
    return { x: { shape: [60, 12], data: x } }
  })()
  const run = (seed: number, persistent = true) =>
    lastValueFrom(
      trainObjective(rbmObjective({ visible: 12, hidden: 5, persistent, chains: 8 }), momentum(0.05), {
        data: arraySource(data, { batchSize: 8 }),
        epochs: 3,
        seed,
      }).pipe(toArray()),
    )
  const stateHash = (s: Snapshot) => hashParams(s) + hashBytes((s.modelState as NonNullable<RbmState>).chains.data)

  it('PCD chains ride in the snapshots, and a replay with the same seed is bit-identical', async () => {
    const [a, b, c] = await Promise.all([run(11), run(11), run(12)])
    expect(a.length).toBe(3 * 8)
    expect(a.map(stateHash)).toEqual(b.map(stateHash))
    expect(stateHash(a[0])).not.toBe(stateHash(c[0]))
    // the chain state changes as training goes (it is not reset to the data)
    expect(new Set(a.map((s) => hashBytes((s.modelState as NonNullable<RbmState>).chains.data))).size).toBeGreaterThan(10)
    // replaying one step from a snapshot reproduces the next (state included)
    const obj = rbmObjective({ visible: 12, hidden: 5, persistent: true, chains: 8 })
    const s = a[4]
    const x = arraySource(data, { batchSize: 8 })
    const batches = [...(x.epoch(0, s.key, s.position) as Iterable<Batch>)]
    const fwd = obj.forward(s.params, s.modelState as RbmState, batches[0], { training: true, key: forwardKey(s.key, s.step) })
    const back = obj.backward(s.params, s.modelState as RbmState, batches[0], fwd)
    expect(hashBytes((back.state as NonNullable<RbmState>).chains.data)).toBe(
      hashBytes((a[5].modelState as NonNullable<RbmState>).chains.data),
    )
  })

  it('CD-1 on MNIST digits lowers the reconstruction error of held-out digits', async () => {
    const m = loadMnist()
    const train = flattenImages(m.train)
    const pick = (ds: typeof train, n: number, stride: number): Tensor => {
      const x = new Float32Array(n * 784)
      for (let r = 0; r < n; r++) x.set(ds.x.data.subarray(r * stride * 784, (r * stride + 1) * 784), r * 784)
      return { shape: [n, 784], data: x }
    }
    const small = pick(train, 1000, 8)
    const held = pick(flattenImages(m.test), 200, 10)
    const obj = rbmObjective({ visible: 784, hidden: 32, dataMean: visibleMean(small) })
    const snaps = await lastValueFrom(
      trainObjective(obj, momentum(0.05, { momentum: 0.9 }), { data: arraySource({ x: small }, { batchSize: 10 }), epochs: 3, seed: 0 }).pipe(
        toArray(),
      ),
    )
    const init = obj.init(foldIn(key(0), 0))
    if (E.isLeft(init)) throw init.left
    const before = evaluate(obj, init.right.params, { x: held }).loss
    const after = evaluate(obj, snaps[snaps.length - 1].params, { x: held }).loss
    // 66 -> 50 squared pixels per image after 300 steps
    expect(after).toBeLessThan(0.85 * before)
    const mon = rbmMonitor(snaps[snaps.length - 1].params, pick(train, 200, 40), held, key(0))
    expect(mon.reconTest).toBeCloseTo(after, 6)
    expect(mon.pllTrain).toBeLessThan(0)
    expect(mon.freeEnergyGap).toBeCloseTo(mon.freeEnergyTest - mon.freeEnergyTrain, 9)
    const monBefore = rbmMonitor(init.right.params, pick(train, 200, 40), held, key(0))
    expect(mon.pllTest).toBeGreaterThan(monBefore.pllTest)
  }, 30_000)

  it('the CD gradient flows through any optimizer: plain SGD moves W by -lr * grad', async () => {
    const obj = rbmObjective({ visible: 12, hidden: 5, binarize: 'threshold' })
    const [s1] = await lastValueFrom(
      trainObjective(obj, sgd(0.1), { data: arraySource(data, { batchSize: 60, order: 'sequential' }), epochs: 1, seed: 3 }).pipe(toArray()),
    )
    const init = obj.init(foldIn(key(3), 0))
    if (E.isLeft(init)) throw init.left
    const p0 = init.right.params as Params
    const fwd = obj.forward(p0, null, { x: data.x, y: data.x, epoch: 0, position: 0 }, { training: true, key: forwardKey(key(3), 0) })
    const g = obj.backward(p0, null, { x: data.x, y: data.x, epoch: 0, position: 0 }, fwd).grads.W as Tensor
    const W0 = (p0.W as Tensor).data
    const W1 = (s1.params.W as Tensor).data
    for (let i = 0; i < W0.length; i++) expect(W1[i]).toBeCloseTo(W0[i] - 0.1 * g.data[i], 6)
  })
})
