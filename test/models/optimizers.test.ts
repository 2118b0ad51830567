import { describe, expect, it } from 'vitest'
import { adam, momentum, nesterov, sgd } from '../../src/models/optimizers.ts'
import { cosineDecay, exponentialDecay, stepDecay } from '../../src/models/schedule.ts'
import { fromArray } from '../../src/core/tensor.ts'
import { getLeaf } from '../../src/core/tree.ts'

const p = { w: fromArray([2], [1, -2], 'float64') }
const g = { w: fromArray([2], [0.5, 0.25], 'float64') }
const w = (t: typeof p) => Array.from(getLeaf(t, 'w')!.data)

describe('optimizers', () => {
  it('sgd with L2 weight decay', () => {
    const o = sgd(0.1, { weightDecay: 0.01 })
    const r = o.update(p, g, o.init(p))
    expect(w(r.params as typeof p)).toEqual([1 - 0.1 * (0.5 + 0.01), -2 - 0.1 * (0.25 - 0.02)])
    expect(r.state.step).toBe(1)
    expect(w(p)).toEqual([1, -2])
  })

  it('momentum and nesterov over two steps (PyTorch convention)', () => {
    const m = momentum(0.1, { momentum: 0.9 })
    const s1 = m.update(p, g, m.init(p))
    const s2 = m.update(s1.params, g, s1.state)
    // v1 = g, v2 = 0.9 g + g = 1.9 g; p2 = p - 0.1 (g + 1.9 g)
    expect(w(s2.params as typeof p)[0]).toBeCloseTo(1 - 0.1 * 2.9 * 0.5, 14)
    const n = nesterov(0.1, { momentum: 0.9 })
    const n1 = n.update(p, g, n.init(p))
    // first step: v = g, p -= lr (g + 0.9 g)
    expect(w(n1.params as typeof p)[0]).toBeCloseTo(1 - 0.1 * 1.9 * 0.5, 14)
  })

  it('adam first step moves each weight by lr against the gradient sign', () => {
    const a = adam(0.01)
    const r = a.update(p, g, a.init(p))
    expect(w(r.params as typeof p)[0]).toBeCloseTo(1 - 0.01, 6)
    expect(w(r.params as typeof p)[1]).toBeCloseTo(-2 - 0.01, 6)
  })

  it('follows a schedule by step', () => {
    const o = sgd({ type: 'step', lr: 1, every: 2, gamma: 0.5 })
    expect([0, 1, 2, 3, 4].map(o.lr)).toEqual([1, 1, 0.5, 0.5, 0.25])
    expect(exponentialDecay(1, 0.5)(3)).toBe(0.125)
    expect(stepDecay(2, 10, 0.1)(25)).toBeCloseTo(0.02, 14)
    const c = cosineDecay(1, 100)
    expect(c(0)).toBe(1)
    expect(c(50)).toBeCloseTo(0.5, 14)
    expect(c(100)).toBeCloseTo(0, 14)
    expect(cosineDecay(1, 100, 0, 10)(4)).toBeCloseTo(0.5, 14)
  })

  it('rejects bad hyperparameters with a message naming them', () => {
    expect(() => sgd(-1)).toThrow('sgd: expected lr to be a positive number, got -1')
    expect(() => momentum(0.1, { momentum: 1.5 })).toThrow('momentum: expected momentum to be in [0, 1), got 1.5')
    expect(() => adam(0.1, { eps: NaN })).toThrow('adam: expected eps to be a positive number, got NaN')
    const o = sgd(0.1)
    expect(() => o.update(p, { w: fromArray([3], [1, 2, 3]) }, o.init(p))).toThrow('sgd: expected grads w of shape [2], got [3]')
  })
})
