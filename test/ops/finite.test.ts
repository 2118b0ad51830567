// The finiteness check before every update: the SIMD probe and its TypeScript twin agree,
// wherever the offending entry sits (vector body or tail) and whatever it is.

import { describe, expect, it } from 'vitest'
import { allFinite, allFiniteSimd, allFiniteTs } from '../../src/ops/finite.ts'
import { key, uniform } from '../../src/core/rng.ts'

describe('allFinite', () => {
  for (const n of [1, 5, 4096, 4099, 235_146]) {
    it(`says true for finite vectors and false for any Inf or NaN, n = ${n}`, () => {
      const x = uniform(key(n), n, 'float32', -3e38, 3e38) as Float32Array
      x[0] = -0
      expect(allFiniteTs(x)).toBe(true)
      expect(allFiniteSimd(x)).toBe(true)
      expect(allFinite(x)).toBe(true)
      for (const at of [0, Math.floor(n / 2), n - 1])
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          const y = x.slice()
          y[at] = bad
          expect(allFiniteTs(y)).toBe(false)
          expect(allFiniteSimd(y)).toBe(false)
          expect(allFinite(y)).toBe(false)
        }
    })
  }

  it('handles float64 vectors (gradient checks) on the TypeScript path', () => {
    expect(allFinite(new Float64Array([1, 2, 1e300]))).toBe(true)
    expect(allFinite(new Float64Array(5000).fill(1).fill(Number.NaN, 4999))).toBe(false)
  })
})
