import { describe, expect, it } from 'vitest'
import { flattenImages, loadMnist } from '../../src/io/mnist.ts'

describe('mnist', () => {
  it('loads the package digits with the fixed 8,000 / 2,000 split', () => {
    const m = loadMnist()
    expect(m.counts).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978])
    expect(m.train.x.shape).toEqual([8000, 28, 28, 1])
    expect(m.test.x.shape).toEqual([2000, 28, 28, 1])
    // Train: 800 per class in digit order; test: the remainder, digit order.
    expect(m.train.labels![0]).toBe(0)
    expect(m.train.labels![799]).toBe(0)
    expect(m.train.labels![800]).toBe(1)
    expect(m.train.labels![7999]).toBe(9)
    const testCounts = new Array(10).fill(0)
    for (const l of m.test.labels!) testCounts[l]++
    expect(testCounts).toEqual([201, 327, 191, 232, 180, 63, 214, 270, 144, 178])
    let mn = Infinity, mx = -Infinity
    for (const v of m.train.x.data) { mn = Math.min(mn, v); mx = Math.max(mx, v) }
    expect(mn).toBe(0)
    expect(mx).toBeCloseTo(1, 5)
    expect(flattenImages(m.test).x.shape).toEqual([2000, 784])
  })
})
