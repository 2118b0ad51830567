// The dense SGD step p' = fl32(p - lr (g + wd p)): the SIMD kernel (kernels.wat `sgd`,
// ops/sgd-simd.ts) gives its TypeScript twin's bits (sgdStepTs, ops/optim.ts) and the
// expression's, written out below, element by element: signed zeros, float32 underflow
// and overflow, weight decay, lengths that are not a multiple of 4 or span chunks.

import { describe, expect, it } from 'vitest'
import { sgdStep, sgdStepTs } from '../../src/ops/optim.ts'
import { sgdStepSimd } from '../../src/ops/sgd-simd.ts'
import { withKernelBackend } from '../../src/ops/backend.ts'
import { key, uniform } from '../../src/core/rng.ts'

const sameBits = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]))

/** The step's expression, rounded once to float32 per element. */
const reference = (p: Float32Array, g: Float32Array, n: number, lr: number, wd: number): Float32Array => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.fround(p[i] - lr * (g[i] + wd * p[i]))
  return out
}

const vector = (seed: number, n: number): Float32Array => {
  const u = uniform(key(seed), n, 'float32', -3, 3)
  const v = new Float32Array(n)
  for (let i = 0; i < n; i++) v[i] = u[i] * 10 ** ((i % 9) - 4)
  return v
}

// Edge pairs (p, g) placed at the start of the vectors: signed zeros, subnormals and
// results that underflow to (signed) zero, results near float32's max that stay finite.
const EDGES: readonly (readonly [number, number])[] = [
  [-0, 0],
  [0, -0],
  [-0, -0],
  [0, 0],
  [1.4e-45, 1e-45],
  [-1.4e-45, 0],
  [1e-40, 2e-40],
  [-3e-39, -1e-38],
  [1.17549435e-38, 1.17549435e-38],
  [3.4e38, 3e36],
  [-3.4e38, -3e36],
]

const withEdges = (p: Float32Array, g: Float32Array): void => {
  EDGES.forEach(([a, b], i) => {
    if (i < p.length) {
      p[i] = a
      g[i] = b
    }
  })
}

describe('sgd step (SIMD kernel and TypeScript twin)', () => {
  for (const n of [1, 3, 4, 5, 11, 1023, 1024, 1027, 65_539, 235_146]) {
    for (const [lr, wd] of [[0.05, 0], [0.1, 5e-4], [0.7, 0.3]] as const) {
      it(`matches the expression bit for bit, n = ${n}, lr ${lr}, wd ${wd}`, () => {
        const p = vector(2 * n + 1, n)
        const g = vector(2 * n + 2, n)
        withEdges(p, g)
        const want = reference(p, g, n, lr, wd)
        const simd = new Float32Array(n).fill(7)
        const ts = new Float32Array(n).fill(7)
        expect(sgdStepSimd(simd, p, g, n, lr, wd)).toBe(1)
        expect(sgdStepTs(ts, p, g, n, lr, wd)).toBe(1)
        expect(sameBits(simd, want)).toBe(true)
        expect(sameBits(ts, want)).toBe(true)
        // in place gives the same
        const q = p.slice()
        expect(sgdStepSimd(q, q, g, n, lr, wd)).toBe(1)
        expect(sameBits(q, want)).toBe(true)
      })
    }
  }

  it('keeps the signs of zeros as the expression does', () => {
    const p = Float32Array.of(-0, 0, -0, 0, -0)
    const g = Float32Array.of(0, -0, -0, 0, -0)
    const out = new Float32Array(5)
    expect(sgdStepSimd(out, p, g, 5, 0.5, 0)).toBe(1)
    // -0 - lr (0 + 0 (-0)) = -0 - 0 = -0; 0 - lr (-0 + 0) = +0; -0 - lr (-0 + -0) = +0
    expect([...out].map((v) => Object.is(v, -0))).toEqual([true, false, false, false, false])
    expect(sameBits(out, reference(p, g, 5, 0.5, 0))).toBe(true)
  })

  it('underflows to the subnormals and zero as float32 rounding does', () => {
    const p = Float32Array.of(1.4e-45, 3e-45, 1e-39, -1e-39, 2e-38)
    const g = Float32Array.of(2.8e-45, 5e-45, 1.5e-39, -2.5e-39, 1e-38)
    const out = new Float32Array(5)
    expect(sgdStepSimd(out, p, g, 5, 0.5, 0)).toBe(1)
    expect(sameBits(out, reference(p, g, 5, 0.5, 0))).toBe(true)
    expect(Object.is(out[0], 0)).toBe(true) // 1.4e-45 - 0.5 (2.8e-45) is exactly 0
    expect(out[2]).toBe(Math.fround(1e-39 - 0.5 * Math.fround(1.5e-39)))
  })

  it('reports a value that is not finite as stored, including an overflow of float32, on every lane and the tail', () => {
    for (const n of [6, 4096, 4099]) {
      for (const at of [0, 1, 2, 3, n - 1]) {
        for (const [a, b, lr, wd] of [
          [3e38, -1e38, 10, 0], // finite in float64, inf in float32
          [Number.POSITIVE_INFINITY, 0, 0.1, 0], // inf - lr (0 + 0 inf) = NaN
          [1, Number.NaN, 0.1, 0],
          [3e38, 0, 1, -4], // weight decay overflowing
        ] as const) {
          const p = vector(n, n)
          const g = vector(n + 1, n)
          p[at] = a
          g[at] = b
          const simd = new Float32Array(n)
          const ts = new Float32Array(n)
          expect(sgdStepSimd(simd, p, g, n, lr, wd)).toBe(0)
          expect(sgdStepTs(ts, p, g, n, lr, wd)).toBe(0)
          expect(sameBits(simd, ts)).toBe(true)
          expect(Number.isFinite(simd[at])).toBe(false)
        }
      }
    }
  })

  it('reads only the first n entries and writes only the first n of pOut', () => {
    const p = vector(5, 3000)
    const g = vector(6, 3000)
    const out = new Float32Array(3000).fill(9)
    expect(sgdStepSimd(out, p, g, 2001, 0.2, 0.01)).toBe(1)
    expect(sameBits(out.subarray(0, 2001), reference(p, g, 2001, 0.2, 0.01))).toBe(true)
    expect(out.subarray(2001).every((v) => v === 9)).toBe(true)
  })

  it('sgdStep takes the kernel on the SIMD backend and the twin on the TypeScript one, with the same bits', () => {
    const n = 70_001
    const p = vector(11, n)
    const g = vector(12, n)
    const a = new Float32Array(n)
    const b = new Float32Array(n)
    expect(withKernelBackend('simd', () => sgdStep(a, p, g, n, 0.05, 1e-4))).toBe(1)
    expect(withKernelBackend('ts', () => sgdStep(b, p, g, n, 0.05, 1e-4))).toBe(1)
    expect(sameBits(a, b)).toBe(true)
    expect(sameBits(a, reference(p, g, n, 0.05, 1e-4))).toBe(true)
    // float64 buffers keep the twin (no rounding to float32)
    const p64 = Float64Array.from(p)
    const o64 = new Float64Array(n)
    expect(withKernelBackend('simd', () => sgdStep(o64, p64, Float64Array.from(g), n, 0.05, 0))).toBe(1)
    expect(o64[3]).toBe(p64[3] - 0.05 * (g[3] + 0 * p64[3]))
  })
})
