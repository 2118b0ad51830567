import { describe, expect, it } from 'vitest'
import { claimedFromTop, claimUnits, maxClaimRows, openClaims, rowUnits, unitRow } from '../../src/parallel/gemm-split.ts'
import { GEMM_CLAIMS, SLOT } from '../../src/parallel/protocol.ts'

/** Every claim of one product, taken in turns: `pattern[i % length]` says whether turn i claims from the bottom. */
const drain = (count: number, threads: number, pattern: readonly boolean[]) => {
  const ctrl = new Int32Array(new SharedArrayBuffer(SLOT * 4))
  openClaims(ctrl, count)
  const top: Array<readonly [number, number]> = []
  const bottom: Array<readonly [number, number]> = []
  for (let i = 0; ; i++) {
    const fromBottom = pattern[i % pattern.length]
    const c = claimUnits(ctrl, threads, fromBottom)
    if (c === null) break
    ;(fromBottom ? bottom : top).push(c)
  }
  return { ctrl, top, bottom }
}

describe('sharing the rows of a GEMM among threads (gemm-split.ts)', () => {
  it('cuts rows into units of 8 whose blocks start at multiples of 8 and hold at least 8 rows', () => {
    expect(rowUnits(37)).toEqual({ unit: 8, count: 4 })
    expect(unitRow(3, rowUnits(37), 37)).toBe(24)
    expect(unitRow(4, rowUnits(37), 37)).toBe(37)
    expect(rowUnits(7)).toEqual({ unit: 8, count: 0 })
    expect(rowUnits(8 * 32767)).toEqual({ unit: 8, count: 32767 })
    expect(rowUnits(8 * 32767 + 1)).toEqual({ unit: 16, count: 16383 })
    for (const M of [8, 9, 15, 16, 17, 100, 513, 4099, 300001]) {
      const u = rowUnits(M)
      expect(u.unit % 8).toBe(0)
      expect(u.count).toBeLessThan(32768)
      for (let a = 0; a < u.count; a++) {
        expect(unitRow(a, u, M) % 8).toBe(0)
        expect(unitRow(a + 1, u, M) - unitRow(a, u, M)).toBeGreaterThanOrEqual(8)
      }
      expect(unitRow(u.count, u, M)).toBe(M)
    }
  })

  it('hands every unit out once, the top upward and the bottom downward, in blocks that shrink to one unit', () => {
    for (const [count, threads] of [[1, 2], [2, 2], [7, 3], [64, 2], [500, 4]])
      for (const pattern of [[false, true], [false, false, true], [true], [false]]) {
        const { ctrl, top, bottom } = drain(count, threads, pattern)
        // contiguous from each end, meeting where the top's claims stop
        top.forEach(([a, b], i) => {
          expect(a).toBe(i === 0 ? 0 : top[i - 1][1])
          expect(b).toBeGreaterThan(a)
        })
        bottom.forEach(([a, b], i) => {
          expect(b).toBe(i === 0 ? count : bottom[i - 1][0])
          expect(b).toBeGreaterThan(a)
        })
        const met = claimedFromTop(ctrl)
        expect(met).toBe(top.length ? top[top.length - 1][1] : 0)
        expect(bottom.length ? bottom[bottom.length - 1][0] : count).toBe(met)
        // guided: each claim is 1 / (2 threads) of what was left (at least one unit)
        const all = [...top, ...bottom].map(([a, b]) => b - a)
        expect(Math.max(...all) * threads * 2).toBeLessThanOrEqual(Math.max(2 * threads, count))
        expect(claimUnits(ctrl, threads, false)).toBeNull()
        expect(claimUnits(ctrl, threads, true)).toBeNull()
      }
    // two threads alternating on 64 units: 16, 12, 9, 6, 5, ... then single units
    const { top, bottom } = drain(64, 2, [false, true])
    expect(top.slice(0, 3)).toEqual([[0, 16], [16, 25], [25, 30]])
    expect(bottom.slice(0, 2)).toEqual([[52, 64], [46, 52]])
    expect(top[top.length - 1][1] - top[top.length - 1][0]).toBe(1)
  })

  it('sizes the scratch for the largest claim, tail included', () => {
    for (const [M, threads, pattern] of [[517, 2, [false, true]], [15, 2, [true]], [8 * 32767 + 15, 3, [true]], [300015, 2, [true]]] as const) {
      const u = rowUnits(M)
      const { top, bottom } = drain(u.count, threads, pattern)
      const rows = [...top, ...bottom].map(([a, b]) => unitRow(b, u, M) - unitRow(a, u, M))
      expect(Math.max(...rows), `M ${M}`).toBeLessThanOrEqual(maxClaimRows(u, threads))
    }
  })

  it('keeps the claim word in one Int32 of slot 0', () => {
    const ctrl = new Int32Array(new SharedArrayBuffer(SLOT * 4))
    openClaims(ctrl, 32767)
    expect(ctrl[GEMM_CLAIMS]).toBe(32767 << 16)
    expect(claimUnits(ctrl, 1, true)).toEqual([16384, 32767])
  })
})
