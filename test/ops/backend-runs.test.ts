// Whole training runs on each kernel backend: a CNN (convolutions always take the SIMD
// kernels on 'simd') and an MLP wide enough for the wasm GEMM, sharded over worker threads.
// The result depends on the backend, never on the thread count; workers use the main
// thread's backend (each with its own module instance).

import { lastValueFrom, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { key, split, uniform } from '../../src/core/rng.ts'
import { relu } from '../../src/models/activations.ts'
import { conv2d } from '../../src/models/conv2d.ts'
import { dense } from '../../src/models/dense.ts'
import { flatten } from '../../src/models/flatten.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import { momentum } from '../../src/models/optimizers.ts'
import { maxPool2d } from '../../src/models/pool.ts'
import { sequential } from '../../src/models/sequential.ts'
import type { KernelBackend } from '../../src/ops/backend.ts'
import { kernelBackend, setKernelBackend } from '../../src/ops/backend.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import type { Dataset } from '../../src/streams/source.ts'
import { arraySource } from '../../src/streams/source.ts'
import { train } from '../../src/parallel/threads.ts'

/** 96 random 10 x 10 images, 30% blank pixels, 4 classes by which quadrant is brightest. */
const images = (): Dataset => {
  const [kx, kz] = split(key(5), 2)
  const n = 96
  const x = uniform(kx, n * 100, 'float32', 0, 1) as Float32Array
  const z = uniform(kz, n * 100, 'float32', 0, 1)
  for (let i = 0; i < x.length; i++) if (z[i] < 0.3) x[i] = 0
  const labels = new Int32Array(n)
  for (let s = 0; s < n; s++) {
    const q = [0, 0, 0, 0]
    for (let h = 0; h < 10; h++) for (let w = 0; w < 10; w++) q[(h < 5 ? 0 : 2) + (w < 5 ? 0 : 1)] += x[s * 100 + h * 10 + w]
    labels[s] = q.indexOf(Math.max(...q))
  }
  return { x: { shape: [n, 10, 10, 1], data: x }, labels, classes: 4 }
}

const run = async (backend: KernelBackend, threads: number, cnn: boolean): Promise<string[]> => {
  const before = kernelBackend()
  setKernelBackend(backend)
  try {
    const net = cnn
      ? sequential(conv2d({ kernelSize: 3, filters: 8 }), relu(), maxPool2d({ pool: 2 }), conv2d({ kernelSize: 3, filters: 12, padding: 'same' }), relu(), flatten(), dense(24), relu(), dense(4))
      : sequential(flatten(), dense(96), relu(), dense(48), relu(), dense(4))
    const snaps = await lastValueFrom(
      train(net, softmaxCrossEntropy(), momentum(0.05), {
        data: arraySource(images(), { batchSize: 24 }),
        epochs: 2,
        seed: 3,
        microbatches: 3,
        threads,
      }).pipe(toArray()),
    )
    return snaps.map(hashParams)
  } finally {
    setKernelBackend(before)
  }
}

describe('training runs on each kernel backend', () => {
  for (const cnn of [true, false])
    it(`${cnn ? 'a CNN' : 'an MLP'} on the SIMD backend: bit-identical for 1, 2 and 3 threads`, async () => {
      const one = await run('simd', 1, cnn)
      expect(one.length).toBe(8)
      expect(await run('simd', 2, cnn)).toEqual(one)
      expect(await run('simd', 3, cnn)).toEqual(one)
      // the TypeScript backend rounds differently (double sums), and its workers follow it
      const ts = await run('ts', 1, cnn)
      expect(ts[ts.length - 1]).not.toBe(one[one.length - 1])
      expect(await run('ts', 2, cnn)).toEqual(ts)
    })
})
