import * as E from 'fp-ts/lib/Either.js'
import { from, lastValueFrom, take, tap, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import type { Rejection } from '../../src/io/records.ts'
import { flattenImages, loadMnist } from '../../src/io/mnist.ts'
import { leakyRelu, relu, sigmoid, tanh } from '../../src/models/activations.ts'
import { tiedAutoencoder } from '../../src/models/autoencoder.ts'
import { conv2d } from '../../src/models/conv2d.ts'
import { dense } from '../../src/models/dense.ts'
import { flatten } from '../../src/models/flatten.ts'
import { euclidean, softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { autoencoding, supervised } from '../../src/models/objective.ts'
import type { Optimizer } from '../../src/models/optimizers.ts'
import { adam, momentum, nesterov, sgd } from '../../src/models/optimizers.ts'
import { maxPool2d } from '../../src/models/pool.ts'
import { sequential } from '../../src/models/sequential.ts'
import { mlp } from '../../src/models/zoo/mlp.ts'
import { key, permutation, uniform } from '../../src/core/rng.ts'
import { argmaxRows, size } from '../../src/core/tensor.ts'
import { initialSnapshot } from '../../src/streams/train.ts'
import { trainStep } from '../../src/streams/steps.ts'
import { leaves } from '../../src/core/tree.ts'
import { rrelu } from '../../src/models/rrelu.ts'
import { MeanMonoid, mean } from '../../src/streams/metrics.ts'
import type { OnlineEvent, OnlineExample, OnlineItem, OnlineSnapshotEvent } from '../../src/streams/online.ts'
import { online, onlineIssues, onlineLearner, onlineSnapshots, prequential, ScoreMonoid, slidingWindow } from '../../src/streams/online.ts'
import type { Snapshot } from '../../src/streams/snapshot.ts'
import { hashBytes, hashParams } from '../../src/streams/snapshot.ts'
import { blobs } from '../helpers.ts'

// 600 MNIST digits in the fixed order of the benchmark (~80% zero pixels: exercises the
// sparse first layer), flattened.
const digits = (() => {
  const { train } = loadMnist()
  const flat = flattenImages(train)
  const order = permutation(key(0), 8000)
  return Array.from(order.subarray(0, 600), (i): OnlineExample => ({
    features: flat.x.data.subarray(i * 784, (i + 1) * 784),
    label: flat.labels![i],
  }))
})()

const blobData = (n: number, C = 3, D = 4, seed = 0): OnlineExample[] => {
  const b = blobs(n, C, D, seed)
  const order = permutation(key(seed + 100), n * C)
  return Array.from(order, (i) => ({ features: b.x.data.subarray(i * D, (i + 1) * D), label: b.labels![i] }))
}

const mnistMlp = (): AnyObjective => supervised(mlp({ hidden: [32], init: 'glorot' }), softmaxCrossEntropy(), [28, 28, 1]) as AnyObjective

const run = (objective: AnyObjective, optimizer: Optimizer, data: Iterable<OnlineItem>, options: Parameters<typeof online>[3] = {}) =>
  lastValueFrom(online(objective, optimizer, data, options).pipe(toArray()))

const snapshots = (events: OnlineEvent[]): OnlineSnapshotEvent[] => events.filter((e): e is OnlineSnapshotEvent => e.type === 'snapshot')

/** The parameters and every optimizer slot, hashed. */
const stateHash = (s: Snapshot): string =>
  [hashParams(s), ...Object.keys(s.opt.slots).sort().flatMap((slot) => leaves(s.opt.slots[slot]).map(([p, t]) => `${slot}.${p}:${hashBytes(t.data)}`))].join(' ')

/** The plain step of train() (steps.ts: objective.forward / backward + optimizer.update), one example at a time. */
const reference = (objective: AnyObjective, optimizer: Optimizer, data: readonly OnlineExample[], seed: number, every: number): Snapshot[] => {
  const s0 = initialSnapshot(objective, optimizer, key(seed))
  if (E.isLeft(s0)) throw s0.left
  const step = trainStep(objective, optimizer)
  const C = objective.predict(s0.right.params, { shape: [1, ...objective.inShape], data: new Float32Array(size(objective.inShape)) }).shape[1]
  const out: Snapshot[] = []
  let s = s0.right
  data.forEach((ex, i) => {
    const y = new Float32Array(C)
    y[ex.label!] = 1
    const batch = {
      x: { shape: [1, ...objective.inShape], data: Float32Array.from(ex.features) },
      y: { shape: [1, C], data: y },
      labels: Int32Array.of(ex.label!),
      epoch: s.epoch,
      position: s.position,
    }
    s = step({ snapshot: s, batch })
    if ((i + 1) % every === 0) out.push(s)
  })
  return [...out, s]
}

describe('the learner: one step for every model and optimizer', () => {
  const tinyConv = (): AnyObjective =>
    supervised(sequential(conv2d({ kernelSize: 3, filters: 4 }), relu(), maxPool2d({ pool: 2 }), flatten(), dense(10)), softmaxCrossEntropy(), [28, 28, 1]) as AnyObjective
  const images = digits.slice(0, 120)
  const cases: Array<[string, () => AnyObjective, () => Optimizer, OnlineExample[]]> = [
    ['784-32-10 ReLU, SGD (digits)', mnistMlp, () => sgd(0.01), digits],
    ['784-32-10 ReLU, momentum (digits)', mnistMlp, () => momentum(0.01, { momentum: 0.9 }), digits.slice(0, 300)],
    ['784-32-10 ReLU, Adam (digits)', mnistMlp, () => adam(0.001), digits.slice(0, 300)],
    ['784-32-10 ReLU, SGD with weight decay and a cosine schedule', mnistMlp, () => sgd({ type: 'cosine', lr: 0.05, steps: 300 }, { weightDecay: 1e-3 }), digits.slice(0, 300)],
    [
      '4-16-12-8-3 sigmoid/tanh/leaky, nesterov with weight decay (blobs)',
      () => supervised(sequential(dense(16), sigmoid(), dense(12), tanh(), dense(8), leakyRelu(4), dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective,
      () => nesterov(0.05, { momentum: 0.8, weightDecay: 1e-3 }),
      blobData(100),
    ],
    [
      'RReLU (noise from the step key), Adam with weight decay (blobs)',
      () => supervised(sequential(dense(8), rrelu(), dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective,
      () => adam(0.01, { weightDecay: 1e-2 }),
      blobData(60),
    ],
    ['a conv net (conv 3x3x4, ReLU, max pool, dense), momentum (digits)', tinyConv, () => momentum(0.02), images],
    ['a conv net, Adam (digits)', tinyConv, () => adam(0.002), images],
  ]
  for (const [name, objective, optimizer, data] of cases)
    it(`is bit-identical to the plain forward/backward/update step: ${name}`, async () => {
      const events = snapshots(await run(objective(), optimizer(), data, { snapshotEvery: 50, seed: 3 }))
      const ref = reference(objective(), optimizer(), data, 3, 50)
      expect(events.length).toBe(Math.floor(data.length / 50) + 1)
      expect(events.map((e) => stateHash(e.snapshot))).toEqual(ref.map(stateHash))
      const fields = (s: Snapshot) => [s.step, s.seen, s.position, s.opt.step, s.lr, s.metrics]
      expect(events.map((e) => fields(e.snapshot))).toEqual(ref.map(fields))
      // The run learned something (the comparison is not between two frozen models).
      expect(hashParams(events[0].snapshot)).not.toBe(hashParams(events[events.length - 1].snapshot))
    })

  it('never changes an emitted snapshot: its bytes hash the same after 2,000 more updates', async () => {
    const atEmit: Array<[Snapshot, string]> = []
    const loop = Array.from({ length: 2100 }, (_, i) => digits[i % digits.length])
    await lastValueFrom(
      online(mnistMlp(), momentum(0.01), loop, { snapshotEvery: 100 }).pipe(
        onlineSnapshots(),
        tap((e) => atEmit.push([e.snapshot, stateHash(e.snapshot)])),
      ),
    )
    expect(atEmit.length).toBe(22) // every 100 examples, and the final one
    expect(Object.isFrozen(atEmit[0][0])).toBe(true)
    for (const [s, h] of atEmit) expect(stateHash(s)).toBe(h)
    // Every emitted state is its own (the final event repeats the last one).
    expect(new Set(atEmit.map(([, h]) => h)).size).toBe(21)
    expect(atEmit[21][0]).toBe(atEmit[20][0])
  })

  it('holds an early snapshot unchanged while the same learner keeps updating in place', () => {
    const l = onlineLearner(mnistMlp(), sgd(0.01))
    if (E.isLeft(l)) throw l.left
    const learner = l.right
    const x = new Float32Array(784)
    const lab = new Int32Array(1)
    const feed = (i: number): void => {
      x.set(digits[i % digits.length].features)
      lab[0] = digits[i % digits.length].label!
      learner.learn(x, lab, 1)
    }
    for (let i = 0; i < 10; i++) feed(i)
    const early = learner.snapshot()
    const h = hashParams(early)
    expect(learner.snapshot()).toBe(early) // nothing learned since: the same object
    for (let i = 10; i < 2010; i++) feed(i)
    expect(hashParams(early)).toBe(h)
    expect(hashParams(learner.snapshot())).not.toBe(h)
    expect(learner.snapshot().step).toBe(2010)
  })

  it('can be replayed: any state between emitted snapshots is recomputed bit for bit from the one before', async () => {
    const events = snapshots(await run(mnistMlp(), sgd(0.01), digits, { snapshotEvery: 100, seed: 9 }))
    const at200 = events[1].snapshot
    expect(at200.seen).toBe(200)
    const l = onlineLearner(mnistMlp(), sgd(0.01), { initial: at200 })
    if (E.isLeft(l)) throw l.left
    for (let i = 200; i < 300; i++) l.right.learn(Float32Array.from(digits[i].features), Int32Array.of(digits[i].label!), 1)
    expect(hashParams(l.right.snapshot())).toBe(hashParams(events[2].snapshot))
    expect(l.right.snapshot().step).toBe(300)
  })
})

describe('prequential evaluation', () => {
  it('scores each example with the parameters from before it was learned', async () => {
    const objective = supervised(sequential(dense(8), relu(), dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective
    const data = blobData(20)
    const events = snapshots(await run(objective, sgd(0.2), data, { snapshotEvery: 1, window: 10 }))
    expect(events.length).toBe(61) // one per example, and the final one
    // Recompute every prediction from the snapshot before the example.
    const l = onlineLearner(objective, sgd(0.2))
    if (E.isLeft(l)) throw l.left
    let before = l.right.snapshot()
    const hits: number[] = []
    const losses: number[] = []
    const predicted: number[] = []
    data.forEach((ex, i) => {
      const x = { shape: [1, 4], data: Float32Array.from(ex.features) }
      predicted.push(argmaxRows(objective.predict(before.params, x))[0])
      hits.push(predicted[i] === ex.label ? 1 : 0)
      losses.push(events[i].snapshot.metrics.loss)
      before = events[i].snapshot
    })
    const acc = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length
    expect(events[59].metrics.accuracy).toBeCloseTo(acc(hits), 12)
    expect(events[59].metrics.windowAccuracy).toBeCloseTo(acc(hits.slice(-10)), 12)
    expect(events[59].metrics.windowLoss).toBeCloseTo(acc(losses.slice(-10)), 10)
    expect(events[59].metrics.loss).toBeCloseTo(acc(losses), 10)
    expect(events[59].metrics.windowExamples).toBe(10)
    // Macro F1, written out: the mean over the classes present of 2 TP_c / (predicted_c + actual_c).
    const f1 = (from: number, to: number): number => {
      const scores: number[] = []
      for (let c = 0; c < 3; c++) {
        let tp = 0
        let p = 0
        let a = 0
        for (let i = from; i < to; i++) {
          if (predicted[i] === c) p++
          if (data[i].label === c) a++
          if (predicted[i] === c && data[i].label === c) tp++
        }
        if (p + a > 0) scores.push((2 * tp) / (p + a))
      }
      return scores.reduce((s, v) => s + v, 0) / scores.length
    }
    expect(events[59].metrics.macroF1).toBeCloseTo(f1(0, 60), 12)
    expect(events[59].metrics.windowMacroF1).toBeCloseTo(f1(50, 60), 12)
    expect(events[29].metrics.windowMacroF1).toBeCloseTo(f1(20, 30), 12)
    expect(events[4].metrics.windowExamples).toBe(5)
    expect(acc(hits.slice(-20))).toBeGreaterThan(acc(hits.slice(0, 20))) // it learns as it goes
  })

  it('reaches the W4 level on the digit stream (784-64-10, SGD 0.01, fixed order)', async () => {
    const objective = supervised(mlp({ hidden: [64], init: 'glorot' }), softmaxCrossEntropy(), [28, 28, 1]) as AnyObjective
    const [last] = snapshots(await run(objective, sgd(0.01), digits, { snapshotEvery: 10_000 }))
    expect(last.final).toBe(true)
    expect(last.metrics.examples).toBe(600)
    // Early in the stream the model is still learning: well above chance (0.1), well below 1.
    expect(last.metrics.accuracy).toBeGreaterThan(0.5)
    expect(last.metrics.accuracy).toBeLessThan(0.9)
    expect(last.metrics.windowAccuracy).toBeGreaterThan(last.metrics.accuracy)
  })

  it('the sliding window is exact for any window size (against a direct sum)', () => {
    const values = Array.from({ length: 200 }, (_, i) => ({ loss: { sum: (i * 7919) % 13, count: 1 }, hits: { sum: (i * 31) % 2, count: 1 } }))
    for (const W of [1, 2, 7, 50, 500]) {
      const w = slidingWindow(ScoreMonoid, W)
      values.forEach((v, i) => {
        w.push(v)
        const tail = values.slice(Math.max(0, i + 1 - W), i + 1)
        const direct = tail.reduce(ScoreMonoid.concat, ScoreMonoid.empty)
        expect(w.value()).toEqual(direct)
        expect(w.length).toBe(tail.length)
      })
    }
    // Order is preserved for a non-commutative monoid (string concatenation).
    const s = slidingWindow({ concat: (a: string, b: string) => a + b, empty: '' }, 3)
    for (const c of 'abcdef') s.push(c)
    expect(s.value()).toBe('def')
    expect(mean(MeanMonoid.empty)).toBeNaN()
  })

  it('learns in small batches; the window counts examples', async () => {
    const objective = supervised(sequential(dense(8), relu(), dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective
    const events = snapshots(await run(objective, sgd(0.1), blobData(50), { batchSize: 4, window: 20, snapshotEvery: 40 }))
    expect(events.map((e) => e.metrics.examples)).toEqual([40, 80, 120, 150])
    expect(events[2].metrics.windowExamples).toBe(20) // the last 5 batches of 4
    const last = events[events.length - 1]
    expect(last.snapshot.step).toBe(Math.ceil(150 / 4)) // the last batch holds 2 examples
    expect(last.snapshot.seen).toBe(150)
    expect(last.metrics.windowExamples).toBe(18) // whole batches: 4 + 4 + 4 + 4 + 2
    expect(last.metrics.windowAccuracy).toBeGreaterThan(0.9)
  })
})

describe('dirty data and non-finite updates', () => {
  const objective = () => supervised(sequential(dense(8), relu(), dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective
  const clean = blobData(30)
  const rejection = (line: number, reason: Rejection['reason']): OnlineItem => E.left({ line, reason, detail: 'from the decoder' })
  const dirty: OnlineItem[] = [
    ...clean.slice(0, 10),
    rejection(12, 'invalid json'),
    { features: [1, 2, NaN, 4], label: 0, line: 13 },
    { features: [1, 2, 3], label: 0 },
    { features: [1, 2, 3, 4e39], label: 1 }, // beyond float32: not finite once stored
    { features: [1, 2, 3, 4] }, // no label
    { features: [1, 2, 3, 4], label: 7 }, // the model has 3 outputs
    { features: [1, 2, 3, 4], label: 1.5 },
    null as unknown as OnlineItem, // garbage from an untyped producer
    E.right(clean[10]),
    ...clean.slice(11),
  ]

  it('rejects bad records with index, line and reason; they never reach the parameters', async () => {
    {
      const events = await run(objective(), sgd(0.1), dirty, { snapshotEvery: 1000 })
      const rejected = events.filter((e) => e.type === 'rejected')
      expect(rejected.map((e) => e.type === 'rejected' && [e.index, e.line, e.reason])).toEqual([
        [10, 12, 'invalid json'],
        [11, 13, 'non-finite feature'],
        [12, undefined, 'wrong field count'],
        [13, undefined, 'non-finite feature'],
        [14, undefined, 'missing label'],
        [15, undefined, 'too many classes'],
        [16, undefined, 'invalid label'],
        [17, undefined, 'not an object'],
      ])
      const [last] = snapshots(events)
      expect(last.metrics).toMatchObject({ seen: 98, examples: 90, learned: 90, rejected: 8, skipped: 0 })
      expect(last.metrics.rejectedByReason).toEqual({
        'invalid json': 1,
        'non-finite feature': 2,
        'wrong field count': 1,
        'missing label': 1,
        'too many classes': 1,
        'invalid label': 1,
        'not an object': 1,
      })
      // The same parameters as a run on the clean records alone.
      const [cleanLast] = snapshots(await run(objective(), sgd(0.1), clean, { snapshotEvery: 1000 }))
      expect(hashParams(last.snapshot)).toBe(hashParams(cleanLast.snapshot))
      expect(last.metrics.accuracy).toBe(cleanLast.metrics.accuracy)
    }
  })

  it('skips an update whose loss is not finite, reports the step, and keeps the last good parameters', async () => {
    // First-layer weights all 1: the features 3e38 (finite in float32) sum past float32's
    // range, the logits are infinite and the loss is NaN.
    const params = {
      fc1: { W: { shape: [4, 8], data: new Float32Array(32).fill(1) }, b: { shape: [8], data: new Float32Array(8) } },
      fc2: { W: { shape: [8, 3], data: uniform(key(5), 24, 'float32', -1, 1) as Float32Array }, b: { shape: [3], data: new Float32Array(3) } },
    }
    const data: OnlineItem[] = [...clean.slice(0, 5), { features: [3e38, 3e38, 3e38, 3e38], label: 0, line: 6 }, ...clean.slice(5)]
    {
      const events = await run(objective(), sgd(0.1), data, { params, snapshotEvery: 1 })
      const skipped = events.filter((e) => e.type === 'skipped')
      expect(skipped).toEqual([{ type: 'skipped', step: 5, index: 5, line: 6, reason: 'non-finite loss', loss: NaN }])
      const snaps = snapshots(events)
      expect(hashParams(snaps[5].snapshot)).toBe(hashParams(snaps[4].snapshot))
      expect(snaps[5].snapshot.metrics.skipped).toBe('non-finite loss')
      expect(snaps[5].snapshot.step).toBe(5)
      const last = snaps[snaps.length - 1]
      expect(last.metrics).toMatchObject({ examples: 91, learned: 90, skipped: 1 })
      expect(Number.isFinite(last.metrics.loss)).toBe(true) // the NaN loss is left out of the mean
      const [cleanLast] = snapshots(await run(objective(), sgd(0.1), clean, { params, snapshotEvery: 1000 }))
      expect(hashParams(last.snapshot)).toBe(hashParams(cleanLast.snapshot))
      expect(last.snapshot.step).toBe(90)
    }
  })

  it('skips an update whose gradient is not finite although its loss is', async () => {
    // Linear 2-2-2 net with a large second layer: logits ~1e36 (finite loss), but the
    // first layer's gradient x * (dz W2^T) ~ 1e36 * 1e3 overflows float32.
    const objective2 = supervised(sequential(dense(2), dense(2)), softmaxCrossEntropy(), [2]) as AnyObjective
    const params = {
      fc1: { W: { shape: [2, 2], data: Float32Array.of(1e-3, -1e-3, 2e-3, 1e-3) }, b: { shape: [2], data: new Float32Array(2) } },
      fc2: { W: { shape: [2, 2], data: Float32Array.of(1e3, -1e3, -1e3, 1e3) }, b: { shape: [2], data: new Float32Array(2) } },
    }
    const data: OnlineItem[] = [
      { features: [1, 0], label: 0 },
      { features: [1e36, 1e36], label: 1, line: 2 },
      { features: [0, 1], label: 1 },
    ]
    {
      const events = await run(objective2, sgd(1e-6), data, { params, snapshotEvery: 1 })
      const skipped = events.filter((e) => e.type === 'skipped')
      expect(skipped).toEqual([{ type: 'skipped', step: 1, index: 1, line: 2, reason: 'non-finite gradient', loss: expect.any(Number) }])
      expect(Number.isFinite((skipped[0] as { loss: number }).loss)).toBe(true)
      const snaps = snapshots(events)
      expect(hashParams(snaps[1].snapshot)).toBe(hashParams(snaps[0].snapshot))
      expect(snaps[snaps.length - 1].snapshot.step).toBe(2)
    }
  })
})

describe('sources and backpressure', () => {
  it('pulls an async producer only as fast as it learns: in-flight records stay bounded', async () => {
    let produced = 0
    let maxInFlight = 0
    const data = blobData(200) // 600 examples
    async function* producer(): AsyncGenerator<OnlineExample> {
      // A producer that needs no time per record (>10x faster than learning): only
      // the pull keeps it from running ahead.
      for (const ex of data) {
        produced++
        yield ex
        if (produced % 50 === 0) await new Promise((r) => setImmediate(r))
      }
    }
    const objective = supervised(sequential(dense(64), relu(), dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective
    // Measured at every learned example: records the producer made minus records consumed.
    const events = await lastValueFrom(
      online(objective, sgd(0.1), producer(), { snapshotEvery: 1 }).pipe(
        onlineSnapshots(),
        tap((e) => (maxInFlight = Math.max(maxInFlight, produced - e.metrics.seen))),
        toArray(),
      ),
    )
    expect(events[events.length - 1].metrics.learned).toBe(600)
    expect(produced).toBe(600)
    expect(maxInFlight).toBeLessThanOrEqual(1)
  })

  it('the prequential operator works on any Observable (no backpressure there)', async () => {
    const events = await lastValueFrom(from(blobData(20)).pipe(prequential(supervised(sequential(dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective, sgd(0.1)), toArray()))
    const [last] = snapshots(events)
    expect(last.metrics.examples).toBe(60)
    expect(last.final).toBe(true)
  })

  it('unsubscribing stops the pull and closes an endless source', async () => {
    let closed = false
    let produced = 0
    function* endless(): Generator<OnlineExample> {
      try {
        for (;;) {
          produced++
          yield { features: [produced % 3, 1, 0, 0], label: produced % 3 }
        }
      } finally {
        closed = true
      }
    }
    const events = await lastValueFrom(
      online(supervised(sequential(dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective, sgd(0.1), endless(), { snapshotEvery: 10 }).pipe(
        onlineSnapshots(),
        take(3),
        toArray(),
      ),
    )
    expect(events.map((e) => e.metrics.examples)).toEqual([10, 20, 30])
    await new Promise((r) => setImmediate(r))
    expect(closed).toBe(true)
    expect(produced).toBeLessThanOrEqual(31)
  })

  it('calls the checkpoint writer every N examples with the snapshot at that point', async () => {
    const saved: Array<[number, number]> = []
    const events = await run(supervised(sequential(dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective, sgd(0.1), blobData(25), {
      checkpoint: { every: 20, save: (s, m) => saved.push([s.seen, m.examples]) },
    })
    expect(saved).toEqual([
      [20, 20],
      [40, 40],
      [60, 60],
    ])
    expect(snapshots(events).length).toBe(1)
  })

  it('reports a throwing checkpoint writer on the error channel', async () => {
    const obs = online(supervised(sequential(dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective, sgd(0.1), blobData(10), {
      checkpoint: {
        every: 5,
        save: () => {
          throw new Error('disk full')
        },
      },
    })
    await expect(lastValueFrom(obs)).rejects.toThrow('disk full')
  })

  it('rejects bad options on the error channel, naming them', async () => {
    const obj = supervised(sequential(dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective
    await expect(lastValueFrom(online(obj, sgd(0.1), [], { window: 0 }))).rejects.toThrow('online: expected window to be a positive integer, got 0')
    await expect(lastValueFrom(online(obj, sgd(0.1), [], { batchSize: 1.5 }))).rejects.toThrow(/batchSize to be a positive integer/)
  })
})

describe('every model and optimizer', () => {
  it('a small CNN with Adam learns online from image rows', async () => {
    const objective = supervised(
      sequential(conv2d({ kernelSize: 5, filters: 4 }), relu(), maxPool2d({ pool: 2 }), flatten(), dense(10)),
      softmaxCrossEntropy(),
      [28, 28, 1],
    ) as AnyObjective
    const events = await run(objective, adam(0.002), digits.slice(0, 300), { window: 100 })
    const snaps = snapshots(events)
    const last = snaps[snaps.length - 1]
    expect(last.metrics.learned).toBe(300)
    expect(last.snapshot.opt.slots.m).toBeDefined()
    expect(last.metrics.windowAccuracy).toBeGreaterThan(0.4)
  })

  it('an autoencoder (reconstruction: no labels, loss only) learns online', async () => {
    const objective = autoencoding(tiedAutoencoder({ hidden: 16 }), euclidean('mean'), [784]) as AnyObjective
    const events = await run(objective, sgd(0.05), digits.slice(0, 200).map((d) => ({ features: d.features })), { window: 50 })
    const [first, , last] = snapshots(events)
    expect(last.metrics.examples).toBe(200)
    expect(last.metrics.accuracy).toBeNaN()
    expect(last.metrics.windowLoss).toBeLessThan(first.metrics.windowLoss)
    expect(onlineIssues).toBeTypeOf('function')
  })
})
