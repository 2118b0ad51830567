import { describe, expect, it } from 'vitest'
import { dense } from '../../src/models/dense.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import { sgd } from '../../src/models/optimizers.ts'
import { sequential } from '../../src/models/sequential.ts'
import { gemm } from '../../src/ops/gemm.ts'
import { WorkerPool } from '../../src/parallel/pool.ts'
import { kernelBackend, setKernelBackend } from '../../src/ops/backend.ts'
import { key, uniform } from '../../src/core/rng.ts'
import { initialSnapshot } from '../../src/streams/train.ts'
import { gather } from '../../src/streams/source.ts'
import type { ShardResult, ShardTask } from '../../src/streams/shards.ts'
import { computeShard, shardOf, shardRanges, weightedSum } from '../../src/streams/shards.ts'
import { relu } from '../../src/models/activations.ts'
import { blobs } from '../helpers.ts'

/**
 * The reduced-step tests' model and batch: 30 inputs, 64 hidden, 2,179 parameters (so the
 * reduction ranges take both the SIMD (>= 1024 entries) and the scalar path of
 * weightedAdd, cut at multiples of 16), and a batch of 50 rows.
 */
const reducedCase = () => {
  const obj = supervised(sequential(dense(64), relu(), dense(3)), softmaxCrossEntropy(), [30]) as AnyObjective
  const snap = initialSnapshot(obj, sgd(0.1), key(2))
  if (snap._tag === 'Left') throw snap.left
  const batch = gather(blobs(20, 3, 30, 5), Int32Array.from({ length: 50 }, (_, i) => i), 0, 0)
  return { obj, flat: snap.right.flat, layout: snap.right.layout, batch }
}

describe('worker pool', () => {
  it.each([
    [2, 'simd'],
    [3, 'simd'],
    [2, 'ts'],
  ] as const)('splits a GEMM by rows on %i threads with results identical to one call (%s backend)', async (threads, backend) => {
    const before = kernelBackend()
    setKernelBackend(backend)
    const pool = await WorkerPool.create({ threads, objective: null, layout: null })
    try {
      // [12, 16, 300] and [9, 16, 600]: 8-row blocks leave a tail of 4 and 1 rows, which
      // would take gemm's direct path (rounded once) where a whole call takes the packed
      // one (stored after each 256-deep slab): K > 256 shows the difference.
      for (const [M, N, K] of [[37, 29, 300], [128, 128, 128], [5, 3, 2], [12, 16, 300], [9, 16, 600], [20, 9, 257], [300, 70, 520], [517, 33, 64]]) {
        const A = uniform(key(M), M * K, 'float32', -1, 1) as Float32Array
        const B = uniform(key(N), K * N, 'float32', -1, 1) as Float32Array
        const want = new Float32Array(M * N)
        const got = new Float32Array(M * N)
        gemm(want, A, B, M, N, K)
        pool.gemm(got, A, B, M, N, K)
        expect(got).toEqual(want)
      }
    } finally {
      await pool.terminate()
      setKernelBackend(before)
    }
  })

  it('reports an error thrown in a worker as an error of the step', async () => {
    const data = blobs(10, 3, 4, 1)
    const obj = supervised(sequential(dense(5), dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective
    const snap = initialSnapshot(obj, sgd(0.1), key(0))
    if (snap._tag === 'Left') throw snap.left
    const pool = await WorkerPool.create({ threads: 2, objective: obj, layout: snap.right.layout })
    try {
      const good = gather(data, Int32Array.from([0, 1, 2, 3]), 0, 0)
      const grads: Float32Array[] = []
      pool.run(
        obj,
        snap.right.flat,
        snap.right.layout,
        [
          { shard: 0, batch: good, key: key(1) },
          { shard: 1, batch: good, key: key(1) },
        ],
        (i, r) => (grads[i] = r.grads.slice()),
      )
      expect(grads[1]).toEqual(grads[0])
      // A target of the wrong width: the worker's loss rejects it.
      const bad = { ...good, y: { shape: [4, 2], data: new Float32Array(8) } }
      expect(() =>
        pool.run(
          obj,
          snap.right.flat,
          snap.right.layout,
          [
            { shard: 0, batch: good, key: key(1) },
            { shard: 1, batch: bad, key: key(1) },
          ],
          () => undefined,
        ),
      ).toThrow(/worker 1: softmax_cross_entropy: expected a target of shape \[4, 3\]/)
    } finally {
      await pool.terminate()
    }
  })

  it('reduces one shard per thread across the threads with the bits of the one-thread sum, and recovers from a failed shard', async () => {
    const { obj, flat, layout, batch } = reducedCase()
    for (const threads of [2, 3]) {
      const tasks: ShardTask[] = shardRanges(50, threads).map(([r0, r1], s) => ({ shard: s, batch: shardOf(batch, r0, r1), key: key(s) }))
      const weights = tasks.map((t) => t.batch.x.shape[0] / 50)
      const want = tasks.map((t) => computeShard(obj, flat, layout, t))
      const pool = await WorkerPool.create({ threads, objective: obj, layout })
      try {
        const seen: ShardResult[] = []
        const step = (f: Float32Array, ts: readonly ShardTask[]) =>
          pool.runReduced(obj, f, layout, ts, weights, (i, r) => (seen[i] = { ...r, outputs: { ...r.outputs, data: r.outputs.data.slice() } }))
        const r = step(flat, tasks)
        expect(r).not.toBeNull()
        expect(r?.grads).toEqual(weightedSum(want.map((w) => w.grads), weights, layout.size))
        expect(r?.probe).toBe(0)
        expect(seen.map((x) => x.loss)).toEqual(want.map((w) => w.loss))
        expect(seen.map((x) => x.outputs)).toEqual(want.map((w) => w.outputs))
        // Fewer tasks than threads: not reduced here (the caller runs them).
        expect(pool.runReduced(obj, flat, layout, tasks.slice(1), weights, () => undefined)).toBeNull()
        // A non-finite parameter: the probe says so.
        const nan = flat.slice()
        nan[layout.size - 1] = NaN
        expect(step(nan, tasks)?.probe).toBeNaN()
        // A failed shard, the last worker's or this thread's: the step fails with its
        // error, and the next step gives the same bits as before (no thread left waiting).
        const bad = (t: ShardTask): ShardTask => ({ ...t, batch: { ...t.batch, y: { shape: [t.batch.x.shape[0], 2], data: new Float32Array(2 * t.batch.x.shape[0]) } } })
        expect(() => step(flat, tasks.map((t, i) => (i === threads - 1 ? bad(t) : t)))).toThrow(
          new RegExp(`shard ${threads - 1}: softmax_cross_entropy: expected a target of shape`),
        )
        expect(() => step(flat, tasks.map((t, i) => (i === 0 ? bad(t) : t)))).toThrow(/^softmax_cross_entropy: expected a target of shape/)
        expect(step(flat, tasks)?.grads).toEqual(weightedSum(want.map((w) => w.grads), weights, layout.size))
      } finally {
        await pool.terminate()
      }
    }
  })

  it('finishes a reduced step without a worker that wakes late, with the same bits, and a late worker harms nothing', async () => {
    // lateMs: each worker sleeps 1 s on waking for a step; timeoutMs 1 s: a step that
    // waited for a sleeping worker would fail, so each step below is all the main thread's.
    const { obj, flat, layout, batch } = reducedCase()
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
    for (const threads of [2, 3]) {
      const tasks: ShardTask[] = shardRanges(50, threads).map(([r0, r1], s) => ({ shard: s, batch: shardOf(batch, r0, r1), key: key(s) }))
      const weights = tasks.map((t) => t.batch.x.shape[0] / 50)
      const want = tasks.map((t) => computeShard(obj, flat, layout, t))
      const sum = weightedSum(want.map((w) => w.grads), weights, layout.size)
      const pool = await WorkerPool.create({ threads, objective: obj, layout, lateMs: 1000, timeoutMs: 1000 })
      try {
        const check = (f: Float32Array = flat) => {
          const losses: number[] = []
          const r = pool.runReduced(obj, f, layout, tasks, weights, (i, x) => (losses[i] = x.loss))
          expect(r?.grads).toEqual(sum)
          expect(r?.probe).toBe(0)
          expect(losses).toEqual(want.map((w) => w.loss))
        }
        for (let i = 0; i < 5; i++) check()
        // The workers wake now, their step long over: they claim nothing, write nothing.
        await sleep(1500)
        check()
        // A GEMM takes the workers out of their steps (once awake), then steps resume.
        await sleep(1500)
        const A = uniform(key(7), 37 * 40, 'float32', -1, 1) as Float32Array
        const B = uniform(key(8), 40 * 9, 'float32', -1, 1) as Float32Array
        const C = new Float32Array(37 * 9)
        const D = new Float32Array(37 * 9)
        gemm(C, A, B, 37, 9, 40)
        pool.gemm(D, A, B, 37, 9, 40)
        expect(D).toEqual(C)
        check()
      } finally {
        await pool.terminate()
      }
    }
  })

  it('fails to start, with the reason, when a worker cannot rebuild the model', async () => {
    const obj = supervised(sequential(dense(5)), softmaxCrossEntropy(), [4]) as AnyObjective
    const broken = { ...obj, spec: { ...obj.spec, kind: 'no-such-kind' } }
    await expect(WorkerPool.create({ threads: 2, objective: broken, layout: null, timeoutMs: 20_000 })).rejects.toThrow(
      /worker 1 failed: model spec: expected "kind" to be one of/,
    )
  })
})
