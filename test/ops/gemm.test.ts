import { describe, expect, it } from 'vitest'
import { gemm, gemmReference, gemmTs } from '../../src/ops/gemm.ts'
import { key, split, uniform } from '../../src/core/rng.ts'

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let d = 0
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]))
  return d
}

describe('gemm', () => {
  // Sizes straddle the packed path's tile (4x4) and depth block (256), and the
  // direct path for thin products.
  const sizes: Array<[number, number, number]> = [
    [1, 1, 1], [1, 10, 784], [3, 5, 7], [4, 4, 4], [5, 7, 9], [13, 17, 300], [64, 3, 5], [33, 65, 513], [128, 10, 2],
  ]
  for (const [M, N, K] of sizes)
    for (const transA of [false, true])
      for (const transB of [false, true])
        it(`matches the triple loop for ${M}x${N}x${K} transA=${transA} transB=${transB}`, () => {
          const [ka, kb, kc] = split(key(M * 1000 + N * 10 + K), 3)
          const A = uniform(ka, M * K, 'float64', -1, 1)
          const B = uniform(kb, K * N, 'float64', -1, 1)
          const C0 = uniform(kc, M * N, 'float64', -1, 1)
          for (const acc of [false, true]) {
            const got = Float64Array.from(C0)
            const want = Float64Array.from(C0)
            gemm(got, A, B, M, N, K, transA, transB, acc)
            gemmReference(want, A, B, M, N, K, transA, transB, acc)
            expect(maxDiff(got, want)).toBeLessThan(1e-12 * K)
          }
        })

  it('works on Float32 storage with double accumulation', () => {
    const M = 37, N = 29, K = 600
    const A = uniform(key(1), M * K, 'float32', -1, 1)
    const B = uniform(key(2), K * N, 'float32', -1, 1)
    const got = new Float32Array(M * N)
    const want = new Float64Array(M * N)
    gemmTs(got, A, B, M, N, K)
    gemmReference(want, A, B, M, N, K)
    expect(maxDiff(got, want)).toBeLessThan(1e-5)
  })

  it('leaves its operands untouched', () => {
    const A = uniform(key(3), 50 * 60, 'float32')
    const B = uniform(key(4), 60 * 70, 'float32')
    const a0 = Float32Array.from(A), b0 = Float32Array.from(B)
    gemm(new Float32Array(50 * 70), A, B, 50, 70, 60)
    expect(A).toEqual(a0)
    expect(B).toEqual(b0)
  })

  it('treats K = 0 as an empty sum', () => {
    const C = new Float64Array([1, 2, 3, 4])
    gemm(C, new Float64Array(0), new Float64Array(0), 2, 2, 0)
    expect(Array.from(C)).toEqual([0, 0, 0, 0])
  })
})
