import { describe, expect, it } from 'vitest'
import { bits, foldIn, key, keyFromHex, keyToHex, normal, permutation, split, threefry2x32, uniform } from '../../src/core/rng.ts'

describe('rng', () => {
  it('matches the Random123 known-answer vectors for Threefry-2x32-20', () => {
    expect(threefry2x32({ k0: 0, k1: 0 }, 0, 0)).toEqual([0x6b200159, 0x99ba4efe])
    expect(threefry2x32({ k0: 0xffffffff, k1: 0xffffffff }, 0xffffffff, 0xffffffff)).toEqual([0x1cb996fc, 0xbb002be7])
    expect(threefry2x32({ k0: 0x13198a2e, k1: 0x03707344 }, 0x243f6a88, 0x85a308d3)).toEqual([0xc4923a9c, 0x483df7a0])
  })

  it('is a pure function of the key', () => {
    const k = key(42)
    expect(Array.from(uniform(k, 10))).toEqual(Array.from(uniform(key(42), 10)))
    expect(Array.from(bits(k, 5))).toEqual(Array.from(bits(k, 6).subarray(0, 5)))
    const [a, b] = split(k)
    expect(a).toEqual(foldIn(k, 0))
    expect(a).not.toEqual(b)
    expect(keyFromHex(keyToHex(k))).toEqual(k)
  })

  it('draws uniforms in [lo, hi) with the right moments', () => {
    const u = uniform(key(1), 100_000, 'float64', 3, 8)
    let s = 0
    let mn = Infinity
    let mx = -Infinity
    for (const v of u) {
      s += v
      mn = Math.min(mn, v)
      mx = Math.max(mx, v)
    }
    expect(mn).toBeGreaterThanOrEqual(3)
    expect(mx).toBeLessThan(8)
    expect(s / u.length).toBeCloseTo(5.5, 1)
  })

  it('draws normals with mean 0 and variance 1', () => {
    const z = normal(key(2), 100_001, 'float64')
    let s = 0
    let s2 = 0
    for (const v of z) {
      s += v
      s2 += v * v
    }
    expect(Math.abs(s / z.length)).toBeLessThan(0.01)
    expect(s2 / z.length).toBeCloseTo(1, 1)
  })

  it('makes permutations that hold every index once', () => {
    const p = permutation(key(3), 1000)
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i))
    expect(Array.from(p)).not.toEqual(Array.from({ length: 1000 }, (_, i) => i))
  })

  it('rejects a bad seed and a bad hex key with a clear message', () => {
    expect(() => key(-1)).toThrow(/non-negative safe integer, got -1/)
    expect(() => key(1.5)).toThrow(/got 1.5/)
    expect(() => keyFromHex('xyz')).toThrow(/16 hex digits/)
  })
})
