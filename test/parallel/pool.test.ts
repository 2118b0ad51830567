import { describe, expect, it } from 'vitest'
import { dense } from '../../src/models/dense.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import { sgd } from '../../src/models/optimizers.ts'
import { sequential } from '../../src/models/sequential.ts'
import { gemm } from '../../src/ops/gemm.ts'
import { WorkerPool } from '../../src/parallel/pool.ts'
import { key, uniform } from '../../src/core/rng.ts'
import { initialSnapshot } from '../../src/streams/train.ts'
import { gather } from '../../src/streams/source.ts'
import { blobs } from '../helpers.ts'

describe('worker pool', () => {
  it('splits a GEMM by rows with results identical to one call', async () => {
    const pool = await WorkerPool.create({ threads: 2, objective: null, layout: null })
    try {
      for (const [M, N, K] of [[37, 29, 300], [128, 128, 128], [5, 3, 2]]) {
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

  it('fails to start, with the reason, when a worker cannot rebuild the model', async () => {
    const obj = supervised(sequential(dense(5)), softmaxCrossEntropy(), [4]) as AnyObjective
    const broken = { ...obj, spec: { ...obj.spec, kind: 'no-such-kind' } }
    await expect(WorkerPool.create({ threads: 2, objective: broken, layout: null, timeoutMs: 20_000 })).rejects.toThrow(
      /worker 1 failed: model spec: expected "kind" to be one of/,
    )
  })
})
