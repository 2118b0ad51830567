import { describe, expect, it } from 'vitest'
import { adam, momentum, nesterov, optimizerFromSpec, sgd } from '../../src/models/optimizers.ts'
import type { Optimizer } from '../../src/models/optimizers.ts'
import type { Params } from '../../src/core/tree.ts'
import { cosineDecay, exponentialDecay, stepDecay } from '../../src/models/schedule.ts'
import { fromArray } from '../../src/core/tensor.ts'
import { getLeaf, leaves } from '../../src/core/tree.ts'

const p = { w: fromArray([2], [1, -2], 'float64') }
const g = { w: fromArray([2], [0.5, 0.25], 'float64') }
const w = (t: typeof p) => Array.from(getLeaf(t, 'w')!.data)

describe('optimizers', () => {
  it('sgd with L2 weight decay', () => {
    const o = sgd(0.1, { weightDecay: 0.01, decay: 'all' })
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

  // Weight decay per tensor, against PyTorch's formulas written out in float64 (one step,
  // then a second from the first's state): torch.optim.SGD / SGD(momentum, nesterov) /
  // Adam with weight_decay add wd * p to the gradient (L2; Adam's is not AdamW's decoupled
  // decay). By default only tensors of rank >= 2 decay: here fc.W, not fc.b nor the scale.
  describe('weight decay per tensor (closed form, two steps)', () => {
    const tree = (): Params => ({
      fc: { W: fromArray([2, 2], [0.5, -1, 2, 0.25], 'float64'), b: fromArray([2], [0.1, -0.2], 'float64') },
      norm: { scale: fromArray([2], [1, 1.5], 'float64') },
    })
    const grads = (k: number): Params => ({
      fc: { W: fromArray([2, 2], [0.3 * k, -0.1, 0.2, 0.05 * k], 'float64'), b: fromArray([2], [-0.4, 0.6 * k], 'float64') },
      norm: { scale: fromArray([2], [0.2, -0.3 * k], 'float64') },
    })
    const lr = 0.1
    const wd = 0.05
    const flat = (t: Params): number[] => leaves(t).flatMap(([, x]) => Array.from(x.data))
    /** Which of the flat entries decay: the 4 of fc.W (leaves are in key order: fc.W, fc.b, norm.scale). */
    const decayed = [true, true, true, true, false, false, false, false]

    /** Two steps of a closed-form rule over the flat entries (state carried by the closure). */
    const expected = (rule: (p: number, g: number, i: number, t: number) => number, mask = decayed): number[] => {
      let p = flat(tree())
      for (const t of [1, 2]) {
        const g = flat(grads(t))
        p = p.map((pi, i) => rule(pi, g[i] + (mask[i] ? wd * pi : 0), i, t))
      }
      return p
    }
    const twoSteps = (o: Optimizer): number[] => {
      const s1 = o.update(tree(), grads(1), o.init(tree()))
      const s2 = o.update(s1.params, grads(2), s1.state)
      return flat(s2.params)
    }
    const close = (a: number[], b: number[]): void => a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 14))

    it('sgd: p <- p - lr (g + wd p), weights only', () => {
      close(twoSteps(sgd(lr, { weightDecay: wd })), expected((p, g) => p - lr * g))
    })

    it('momentum and nesterov: v <- mu v + (g + wd p); p <- p - lr v (nesterov: p - lr (g + wd p + mu v))', () => {
      const mu = 0.9
      const run = (nest: boolean) => {
        const v = new Array<number>(8).fill(0)
        return expected((p, g, i) => {
          v[i] = mu * v[i] + g
          return p - lr * (nest ? g + mu * v[i] : v[i])
        })
      }
      close(twoSteps(momentum(lr, { momentum: mu, weightDecay: wd })), run(false))
      close(twoSteps(nesterov(lr, { momentum: mu, weightDecay: wd })), run(true))
    })

    it("adam: torch.optim.Adam's L2 decay (g' = g + wd p through the moments), not AdamW's", () => {
      const [b1, b2, eps] = [0.9, 0.999, 1e-8]
      const m = new Array<number>(8).fill(0)
      const v = new Array<number>(8).fill(0)
      const want = expected((p, g, i, t) => {
        m[i] = b1 * m[i] + (1 - b1) * g
        v[i] = b2 * v[i] + (1 - b2) * g * g
        return p - (lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps)
      })
      close(twoSteps(adam(lr, { weightDecay: wd })), want)
      // AdamW would shrink p by lr * wd * p outside the moments: a different first step.
      const adamW = 0.5 * (1 - lr * wd) - lr * Math.sign(0.3)
      expect(Math.abs(flat(adam(lr, { weightDecay: wd }).update(tree(), grads(1), adam(lr).init(tree())).params)[0] - adamW)).toBeGreaterThan(1e-4)
    })

    it("the mask is overridable: 'all', or a list of paths; and checkpoints keep it (spec)", () => {
      close(twoSteps(sgd(lr, { weightDecay: wd, decay: 'all' })), expected((p, g) => p - lr * g, new Array<boolean>(8).fill(true)))
      const only = [false, false, false, false, false, false, true, true] // norm.scale only
      const o = sgd(lr, { weightDecay: wd, decay: ['norm.scale'] })
      close(twoSteps(o), expected((p, g) => p - lr * g, only))
      close(twoSteps(optimizerFromSpec(JSON.parse(JSON.stringify(o.spec)))), expected((p, g) => p - lr * g, only))
      expect(o.decays('fc.W', [2, 2])).toBe(false)
      expect(sgd(lr).decays('fc.W', [2, 2])).toBe(true)
      expect(sgd(lr).decays('fc.b', [2])).toBe(false)
      expect(() => sgd(lr, { decay: 'biases' as never })).toThrow(`sgd: expected decay to be 'weights', 'all' or a list of parameter paths, got "biases"`)
    })

    it('updateInto writes the same bits in place as update does into fresh arrays', () => {
      for (const o of [sgd(lr, { weightDecay: wd }), sgd(lr), momentum(lr, { weightDecay: wd }), adam(lr, { weightDecay: wd })]) {
        const pure = o.update(tree(), grads(1), o.init(tree()))
        const work = tree()
        const st = o.init(work)
        const next = o.updateInto({ params: work, slots: st.slots }, work, grads(1), st)
        expect(flat(work)).toEqual(flat(pure.params))
        expect(next.step).toBe(1)
        for (const slot of Object.keys(pure.state.slots)) expect(flat(next.slots[slot])).toEqual(flat(pure.state.slots[slot]))
      }
    })
  })
})
