// The microbatch reduction's term, out = (first ? 0 : out) + fl32(w g): the SIMD kernel
// (kernels.wat `wadd`) and its TypeScript twin give the same bits as the reference fold
// (each w g stored in a Float32Array, then added), and flag a non-finite term; so does the
// pair of terms in one pass (`wadd2`, weightedAdd2Ts), which the shard reduction uses.

import { describe, expect, it } from 'vitest'
import { weightedAdd2Simd, weightedAdd2Ts, weightedAddSimd, weightedAddTs } from '../../src/ops/weighted-add.ts'
import { key, uniform } from '../../src/core/rng.ts'

const sameBits = (a: Float32Array, b: Float32Array): boolean =>
  a.length === b.length && a.every((v, i) => Object.is(v, b[i]))

/** The fold's arithmetic, written out plainly. */
const reference = (parts: readonly Float32Array[], weights: readonly number[], n: number): Float32Array => {
  const acc = new Float32Array(n)
  parts.forEach((g, s) => {
    const term = new Float32Array(n)
    for (let i = 0; i < n; i++) term[i] = weights[s] * g[i]
    for (let i = 0; i < n; i++) acc[i] = (s === 0 ? 0 : acc[i]) + term[i]
  })
  return acc
}

const vector = (seed: number, n: number): Float32Array => {
  const u = uniform(key(seed), n, 'float32', -3, 3)
  const g = new Float32Array(n)
  for (let i = 0; i < n; i++) g[i] = u[i] * 10 ** ((i % 7) - 3)
  // signed zeros and exact values: 0 + (-0) must come out +0 on the first term
  g[0] = -0
  if (n > 5) g[5] = 0
  return g
}

describe('weightedAdd (SIMD kernel and TypeScript twin)', () => {
  for (const n of [1, 3, 4, 1023, 1024, 1027, 4099, 235_146]) {
    it(`matches the reference fold bit for bit, n = ${n}`, () => {
      const weights = [22 / 64, 21 / 64, 21 / 64, 1, 1 / 3]
      const parts = weights.map((_, s) => vector(s + 1, n))
      const want = reference(parts, weights, n)
      for (const add of [weightedAddSimd, weightedAddTs]) {
        const out = new Float32Array(n).fill(7) // garbage the first term must ignore
        parts.forEach((g, s) => expect(add(out, g, weights[s], s === 0)).toBe(0))
        expect(sameBits(out, want)).toBe(true)
      }
      expect(Object.is(want[0], 0)).toBe(true)
    })
  }

  it('reads only the first out.length entries of g', () => {
    const g = vector(9, 2000)
    const a = new Float32Array(1500)
    const b = new Float32Array(1500)
    weightedAddSimd(a, g, 0.5, true)
    weightedAddTs(b, g, 0.5, true)
    expect(sameBits(a, b)).toBe(true)
    expect(a[1499]).toBe(Math.fround(0.5 * g[1499]))
  })

  it('returns NaN when a term is not finite, including a product that overflows float32', () => {
    for (const n of [6, 4096]) {
      for (const [bad, w] of [[Number.NaN, 0.5], [Number.POSITIVE_INFINITY, 0.5], [3e38, 4]] as const) {
        for (const at of [0, n - 1]) {
          const g = vector(3, n)
          g[at] = bad
          for (const add of [weightedAddSimd, weightedAddTs]) {
            const out = new Float32Array(n)
            expect(add(out, vector(4, n), 0.25, true)).toBe(0)
            expect(Number.isNaN(add(out, g, w, false))).toBe(true)
          }
        }
      }
    }
  })

  for (const n of [1, 3, 4, 1023, 1024, 1027, 4099, 70_001, 235_146]) {
    it(`in pairs (wadd2), matches the reference fold bit for bit, n = ${n}`, () => {
      const weights = [22 / 64, 21 / 64, 21 / 64, 1, 1 / 3]
      const parts = weights.map((_, s) => vector(s + 1, n))
      const want = reference(parts, weights, n)
      for (const [add2, add] of [[weightedAdd2Simd, weightedAddSimd], [weightedAdd2Ts, weightedAddTs]] as const) {
        const out = new Float32Array(n).fill(7)
        expect(add2(out, parts[0], parts[1], weights[0], weights[1], true)).toBe(0)
        expect(add2(out, parts[2], parts[3], weights[2], weights[3], false)).toBe(0)
        expect(add(out, parts[4], weights[4], false)).toBe(0)
        expect(sameBits(out, want)).toBe(true)
      }
    })
  }

  it('in pairs, returns NaN when either term is not finite, and not when two finite terms sum past float32', () => {
    for (const n of [6, 4096]) {
      for (const [bad, w] of [[Number.NaN, 0.5], [Number.NEGATIVE_INFINITY, 0.5], [3e38, 4]] as const)
        for (const which of [0, 1])
          for (const at of [0, n - 1]) {
            const g = vector(3, n)
            g[at] = bad
            const [ga, gb] = which === 0 ? [g, vector(4, n)] : [vector(4, n), g]
            for (const add2 of [weightedAdd2Simd, weightedAdd2Ts]) expect(Number.isNaN(add2(new Float32Array(n), ga, gb, w, w, true))).toBe(true)
          }
      // 3e38 + 3e38 overflows the sum, not a term: the probe judges the terms, as wadd does
      const big = new Float32Array(n).fill(3e38)
      for (const add2 of [weightedAdd2Simd, weightedAdd2Ts]) {
        const out = new Float32Array(n)
        expect(add2(out, big, big, 1, 1, true)).toBe(0)
        expect(out.every((v) => v === Number.POSITIVE_INFINITY)).toBe(true)
      }
    }
  })
})
