import { lastValueFrom, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { relu } from '../../src/models/activations.ts'
import { rrelu } from '../../src/models/rrelu.ts'
import { dense } from '../../src/models/dense.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import { supervised } from '../../src/models/objective.ts'
import { momentum } from '../../src/models/optimizers.ts'
import { sequential } from '../../src/models/sequential.ts'
import { key, uniform } from '../../src/core/rng.ts'
import { concatAll } from 'fp-ts/lib/Monoid.js'
import type { ExecutorFactory } from '../../src/streams/shards.ts'
import { computeShard, flatSumMonoid, localExecutor, shardedBackward, shardRanges, weightedSum } from '../../src/streams/shards.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import { arraySource, gather } from '../../src/streams/source.ts'
import type { TrainConfig } from '../../src/streams/train.ts'
import { initialSnapshot, train } from '../../src/streams/train.ts'
import { workerThreads } from '../../src/parallel/threads.ts'
import { blobs } from '../helpers.ts'

const data = blobs(40, 3, 6, 4)

describe('microbatch shards', () => {
  it('splits rows into near-equal shards, larger first', () => {
    expect(shardRanges(10, 3)).toEqual([[0, 4], [4, 7], [7, 10]])
    expect(shardRanges(32, 2)).toEqual([[0, 16], [16, 32]])
    expect(shardRanges(2, 4)).toEqual([[0, 1], [1, 2], [2, 2], [2, 2]])
    expect(() => shardRanges(4, 0)).toThrow('microbatches: expected a positive integer, got 0')
  })

  it('combines shard gradients into the full-batch mean gradient', () => {
    const net = sequential(dense(8), relu(), dense(3))
    const obj = supervised(net, softmaxCrossEntropy(), [6])
    const snap = initialSnapshot(obj, momentum(0.1), key(1))
    if (snap._tag === 'Left') throw snap.left
    const batch = gather(data, Int32Array.from({ length: 30 }, (_, i) => i * 4), 0, 0)
    const whole = computeShard(obj, snap.right.flat, snap.right.layout, { shard: 0, batch, key: key(0) })
    for (const shards of [2, 3, 7]) {
      const r = shardedBackward(obj, localExecutor(), shards)({ snapshot: snap.right, batch })
      expect(r.loss).toBeCloseTo(whole.loss, 6)
      let worst = 0
      for (let i = 0; i < r.grads.length; i++) worst = Math.max(worst, Math.abs(r.grads[i] - whole.grads[i]))
      expect(worst).toBeLessThan(1e-6)
      expect(r.outputs.shape).toEqual([30, 3])
    }
  })

  it('reduces shard gradients in one pass exactly as the sum Monoid folds them', () => {
    const n = 1000
    const parts = [0, 1, 2].map((s) => uniform(key(s), n, 'float32', -3, 3) as Float32Array)
    const weights = [0.4, 0.35, 0.25]
    const scaledParts = parts.map((g, s) => Float32Array.from(g, (v) => weights[s] * v))
    const folded = concatAll(flatSumMonoid(n))(scaledParts)
    expect(weightedSum(parts, weights, n)).toEqual(folded)
    expect(weightedSum(parts, [1, 1, 1], n)).toEqual(concatAll(flatSumMonoid(n))(parts))
  })

  it('gives bit-identical runs for 1, 2 and 3 threads (RReLU noise and shuffling included)', async () => {
    const run = (threads: number) =>
      lastValueFrom(
        train(sequential(dense(16), rrelu(), dense(3)), softmaxCrossEntropy(), momentum(0.05), {
          data: arraySource(data, { batchSize: 12 }),
          epochs: 2,
          seed: 9,
          microbatches: 3,
          threads,
          executor: workerThreads,
        }).pipe(toArray()),
      ).then((ss) => ss.map(hashParams))
    const one = await run(1)
    expect(one.length).toBe(20)
    expect(await run(2)).toEqual(one)
    expect(await run(3)).toEqual(one)
  })

  it('trains on one thread, with a notice and the same bits, when threads > 1 come without an executor or with one that cannot start', async () => {
    const run = (threads: number, extra: Partial<TrainConfig>) =>
      lastValueFrom(
        train(sequential(dense(8), relu(), dense(3)), softmaxCrossEntropy(), momentum(0.05), {
          data: arraySource(data, { batchSize: 12 }),
          epochs: 2,
          seed: 4,
          microbatches: 2,
          threads,
          ...extra,
        }).pipe(toArray()),
      ).then((ss) => ss.map(hashParams))
    const one = await run(1, {})
    expect(one.length).toBe(20)
    const notices: string[] = []
    expect(await run(2, { notice: (l) => notices.push(l) })).toEqual(one)
    const unavailable: ExecutorFactory = async () => ({ unavailable: 'no workers in this test' })
    expect(await run(3, { executor: unavailable, notice: (l) => notices.push(l) })).toEqual(one)
    expect(notices).toEqual([
      "gradstream: training on one thread instead of 2: no executor was given (the Node entry's train passes worker threads, the browser entry's Web Workers) (same bits, threads never change them)",
      'gradstream: training on one thread instead of 3: no workers in this test (same bits, threads never change them)',
    ])
  })
})
