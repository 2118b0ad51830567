import { lastValueFrom, take, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { batchNorm } from '../../src/models/batch-norm.ts'
import { relu } from '../../src/models/activations.ts'
import { dense } from '../../src/models/dense.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import { momentum } from '../../src/models/optimizers.ts'
import { sequential } from '../../src/models/sequential.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import { arraySource } from '../../src/streams/source.ts'
import type { ExecutorFactory } from '../../src/streams/shards.ts'
import { train } from '../../src/streams/train.ts'
import { keptWorkerThreads, workerThreads } from '../../src/parallel/threads.ts'
import { blobs } from '../helpers.ts'

const data = blobs(60, 3, 6, 7)
const run = (executor: ExecutorFactory, hidden = 16, seed = 5, steps = Infinity, epochs = 2) =>
  lastValueFrom(
    train(sequential(dense(hidden), batchNorm(), relu(), dense(3)), softmaxCrossEntropy(), momentum(0.05), {
      data: arraySource(data, { batchSize: 12 }),
      epochs,
      seed,
      microbatches: 2,
      threads: 2,
      executor,
    }).pipe(take(steps), toArray()),
  ).then((ss) => ss.map(hashParams))

describe('worker threads kept across runs (keptWorkerThreads)', () => {
  it('serves several runs of one model with one pool, with the bits of fresh threads, and starts another for another model', async () => {
    const kept = keptWorkerThreads()
    try {
      const fresh = await run(workerThreads)
      expect(fresh.length).toBe(30)
      // a warm-up cut short, then whole runs: every one has the bits of fresh threads
      expect(await run(kept.executor, 16, 5, 3)).toEqual(fresh.slice(0, 3))
      expect(await run(kept.executor)).toEqual(fresh)
      expect(await run(kept.executor)).toEqual(fresh)
      expect(kept.started).toBe(1)
      // another seed is another run of the same model: same threads
      expect(await run(kept.executor, 16, 6)).toEqual(await run(workerThreads, 16, 6))
      expect(kept.started).toBe(1)
      // another model: a new pool
      expect(await run(kept.executor, 8)).toEqual(await run(workerThreads, 8))
      expect(kept.started).toBe(2)
    } finally {
      await kept.close()
    }
    // closed: the next run starts threads again
    expect(await run(kept.executor, 8)).toEqual(await run(workerThreads, 8))
    expect(kept.started).toBe(3)
    await kept.close()
  })

  it('refuses a second run while one is training on the kept threads', async () => {
    const kept = keptWorkerThreads()
    try {
      const first = run(kept.executor, 16, 5, Infinity, 200)
      // the first run's threads are started (and taken) before the second asks
      while (kept.started === 0) await new Promise((r) => setTimeout(r, 5))
      await expect(run(kept.executor)).rejects.toThrow('keptWorkerThreads: expected one run at a time, got a second run while one is training')
      expect((await first).length).toBe(3000)
      expect(kept.started).toBe(1)
    } finally {
      await kept.close()
    }
  })
})
