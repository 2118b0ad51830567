// The SIMD GEMM (gemm-simd.ts on kernels.wat's mm): bit for bit the scalar float32 twin
// gemmF32 (the backend's documented summation order), within 1e-5 relative of the
// double-precision reference, independent of how rows are split, and pure.

import { describe, expect, it } from 'vitest'
import { key, split, uniform } from '../../src/core/rng.ts'
import { withKernelBackend } from '../../src/ops/backend.ts'
import { gemm, gemmReference } from '../../src/ops/gemm.ts'
import { gemmF32, gemmSimd } from '../../src/ops/gemm-simd.ts'
import { wasmMemoryBytes } from '../../src/ops/wasm/instance.ts'

const sameBits = (a: Float32Array, b: Float32Array): boolean =>
  a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0

const relErr = (got: ArrayLike<number>, want: ArrayLike<number>): number => {
  let d = 0
  let m = 1e-30
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]))
    m = Math.max(m, Math.abs(want[i]))
  }
  return d / m
}

const operands = (M: number, N: number, K: number, seed: number) => {
  const [ka, kb, kc] = split(key(seed), 3)
  return {
    A: uniform(ka, M * K, 'float32', -1, 1) as Float32Array,
    B: uniform(kb, K * N, 'float32', -1, 1) as Float32Array,
    C0: uniform(kc, M * N, 'float32', -1, 1) as Float32Array,
  }
}

describe('gemm on the SIMD backend', () => {
  // Edge tiles in both directions, one and several 256-deep slabs, thin and tiny products
  // (the tiny ones take the scalar path: the same arithmetic).
  const sizes: Array<[number, number, number]> = [
    [1, 1, 1], [3, 5, 7], [4, 8, 16], [5, 9, 300], [17, 13, 256], [33, 65, 513], [48, 32, 300], [64, 10, 784], [1, 100, 784], [128, 16, 25], [7, 3, 1000],
    // (from 32 rows and more than 8 columns a row-major B is packed into panels first: packsB)
    // more rows than one packed block (PACK_ROWS = 1024), ending in a partial block of four
    [1031, 9, 260],
  ]
  for (const [M, N, K] of sizes)
    it(`equals the float32 twin bit for bit and the double reference to 1e-5: ${M}x${N}x${K}`, () => {
      const { A, B, C0 } = operands(M, N, K, M * 7919 + N * 31 + K)
      for (const transA of [false, true])
        for (const transB of [false, true])
          for (const acc of [false, true]) {
            const got = C0.slice()
            const twin = C0.slice()
            const ref = Float64Array.from(C0)
            gemmSimd(got, A, B, M, N, K, transA, transB, acc)
            gemmF32(twin, A, B, M, N, K, transA, transB, acc)
            gemmReference(ref, A, B, M, N, K, transA, transB, acc)
            expect(sameBits(got, twin), `transA=${transA} transB=${transB} acc=${acc}`).toBe(true)
            expect(relErr(got, ref)).toBeLessThan(1e-5)
          }
    })

  it('is what gemm runs on float32 operands when the backend is simd', () => {
    const { A, B } = operands(40, 24, 300, 5)
    const viaGemm = new Float32Array(40 * 24)
    const direct = new Float32Array(40 * 24)
    withKernelBackend('simd', () => gemm(viaGemm, A, B, 40, 24, 300))
    gemmSimd(direct, A, B, 40, 24, 300)
    expect(sameBits(viaGemm, direct)).toBe(true)
    const ts = new Float32Array(40 * 24)
    withKernelBackend('ts', () => gemm(ts, A, B, 40, 24, 300))
    expect(sameBits(ts, direct)).toBe(false) // double sums: a different rounding
    expect(relErr(ts, direct)).toBeLessThan(1e-5)
  })

  it('gives every row the same bits whichever block of rows it is computed in', () => {
    const M = 37, N = 29, K = 600
    const { A, B } = operands(M, N, K, 11)
    const whole = new Float32Array(M * N)
    gemmSimd(whole, A, B, M, N, K)
    for (const cuts of [[1], [3, 20], [4, 8, 12, 33], [5, 6, 7, 36]]) {
      const parts = new Float32Array(M * N)
      const edges = [0, ...cuts, M]
      for (let e = 0; e + 1 < edges.length; e++) {
        const [r0, r1] = [edges[e], edges[e + 1]]
        gemmSimd(parts.subarray(r0 * N, r1 * N), A.subarray(r0 * K, r1 * K), B, r1 - r0, N, K)
      }
      expect(sameBits(parts, whole), `cuts ${cuts}`).toBe(true)
    }
  })

  it('leaves its operands untouched, and a result is never overwritten by a later call', () => {
    const { A, B } = operands(50, 70, 60, 3)
    const a0 = A.slice(), b0 = B.slice()
    const first = new Float32Array(50 * 70)
    gemmSimd(first, A, B, 50, 70, 60)
    const kept = first.slice()
    const other = operands(50, 70, 60, 4)
    gemmSimd(new Float32Array(50 * 70), other.A, other.B, 50, 70, 60)
    expect(sameBits(A, a0) && sameBits(B, b0)).toBe(true)
    expect(sameBits(first, kept)).toBe(true)
  })

  it('does not grow its memory when the same shapes come again', () => {
    const { A, B } = operands(64, 256, 784, 6)
    const C = new Float32Array(64 * 256)
    gemmSimd(C, A, B, 64, 256, 784)
    const size = wasmMemoryBytes()
    expect(size).toBeGreaterThan(0)
    for (let i = 0; i < 5; i++) gemmSimd(C, A, B, 64, 256, 784, i % 2 === 0, false, i % 3 === 0)
    expect(wasmMemoryBytes()).toBe(size)
  })

  it('treats K = 0 as an empty sum', () => {
    const C = new Float32Array([1, 2, 3, 4])
    gemmSimd(C, new Float32Array(0), new Float32Array(0), 2, 2, 0)
    expect(Array.from(C)).toEqual([0, 0, 0, 0])
  })
})
