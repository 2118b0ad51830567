// The replay cache's byte-bounded LRU and the tensor histograms of the step view.

import { describe, expect, it } from 'vitest'
import { ByteLru } from '../../src/server/byte-lru.ts'
import { histogram } from '../../src/server/step-view.ts'

describe('ByteLru', () => {
  it('keeps at most maxBytes, evicting the least recently used first', () => {
    const evicted: string[] = []
    const lru = new ByteLru<string, number>(10, (k) => evicted.push(k))
    lru.set('a', 1, 4)
    lru.set('b', 2, 4)
    expect(lru.get('a')).toBe(1) // a is now the most recent
    lru.set('c', 3, 4) // 12 bytes > 10: b goes
    expect(evicted).toEqual(['b'])
    expect([lru.has('a'), lru.has('b'), lru.has('c')]).toEqual([true, false, true])
    expect(lru.bytes).toBe(8)
    lru.set('d', 4, 11) // larger than the budget: not kept, nothing evicted
    expect(lru.has('d')).toBe(false)
    expect(lru.bytes).toBe(8)
    lru.set('a', 5, 2) // replacing an entry counts its new size only
    expect(lru.bytes).toBe(6)
    expect(lru.peek('a')).toBe(5)
    lru.delete('c')
    expect([lru.size, lru.bytes]).toEqual([1, 2])
  })
})

describe('histogram', () => {
  it('puts every value in one of the equal-width bins between min and max (max in the last)', () => {
    const h = histogram([0, 1, 2, 3, 4, 5, 6, 7, 8, 10], 5)
    expect(h.min).toBe(0)
    expect(h.max).toBe(10)
    expect(h.edges).toEqual([0, 2, 4, 6, 8, 10])
    expect(h.counts).toEqual([2, 2, 2, 2, 2])
  })

  it('gives a constant tensor one bin holding all its values', () => {
    expect(histogram(new Float32Array([0.5, 0.5, 0.5]))).toEqual({ min: 0.5, max: 0.5, edges: [0.5, 0.5], counts: [3] })
  })
})
