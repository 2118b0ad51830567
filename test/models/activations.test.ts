import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { leakyRelu, lecunTanh, relu, sigmoid, tanh } from '../../src/models/activations.ts'
import { gradCheck } from '../../src/models/gradcheck.ts'
import { evalCtx } from '../../src/models/layer.ts'
import { prelu } from '../../src/models/prelu.ts'
import { rrelu } from '../../src/models/rrelu.ts'
import { softmax } from '../../src/models/softmax.ts'
import { key } from '../../src/core/rng.ts'
import { fromArray } from '../../src/core/tensor.ts'

const shapes = [[7], [3, 4], [2, 3, 5]]

describe('activations pass gradCheck', () => {
  const layers = {
    sigmoid: sigmoid(),
    tanh: tanh(),
    lecun_tanh: lecunTanh(),
    relu: relu(),
    leaky_relu: leakyRelu(5),
    prelu: prelu(),
    rrelu_train: rrelu({ lower: 3, upper: 8 }),
    softmax: softmax(),
  }
  for (const [name, layer] of Object.entries(layers))
    for (const [i, shape] of shapes.entries())
      it(`${name} on [B, ${shape.join(', ')}]`, () => {
        const r = gradCheck(layer, shape, { batch: 3, seed: i })
        expect(E.isRight(r)).toBe(true)
        if (E.isRight(r)) expect(r.right.worst).toBeLessThan(1e-6)
      })

  it('rrelu in evaluation mode', () => {
    const r = gradCheck(rrelu({ lower: 3, upper: 8 }), [10], { training: false })
    expect(E.isRight(r) && r.right.worst).toBeLessThan(1e-6)
  })
})

describe('activation values', () => {
  const x = fromArray([1, 5], [-2, -0, 0, 1e-3, 3], 'float64')
  it('relu has derivative 0 at 0 (the vectors decide over cnn-layers-softmax eq 10)', () => {
    const l = relu()
    const { y, saved } = l.forward({}, x, evalCtx)
    expect(Array.from(y.data)).toEqual([0, 0, 0, 1e-3, 3])
    const { dx } = l.vjp({}, saved, fromArray([1, 5], [1, 1, 1, 1, 1], 'float64'))
    expect(Array.from(dx.data)).toEqual([0, 0, 0, 1, 1])
  })
  it('leaky relu divides by a on the negative side and has slope 1/a at 0', () => {
    const l = leakyRelu(4)
    const { y, saved } = l.forward({}, x, evalCtx)
    expect(Array.from(y.data)).toEqual([-0.5, -0, 0, 1e-3, 3])
    expect(Array.from(l.vjp({}, saved, fromArray([1, 5], [1, 1, 1, 1, 1], 'float64')).dx.data)).toEqual([0.25, 0.25, 0.25, 1, 1])
  })
  it('LeCun tanh is 1.7159 tanh(0.6666 z) with the true derivative', () => {
    const l = lecunTanh()
    const z = fromArray([1, 1], [0.5], 'float64')
    const { y, saved } = l.forward({}, z, evalCtx)
    expect(y.data[0]).toBeCloseTo(1.7159 * Math.tanh(0.6666 * 0.5), 14)
    const t = Math.tanh(0.3333)
    expect(l.vjp({}, saved, fromArray([1, 1], [1], 'float64')).dx.data[0]).toBeCloseTo(1.7159 * 0.6666 * (1 - t * t), 14)
  })
  it('rrelu draws its slopes from the key: same key, same output; evaluation uses (l+u)/2', () => {
    const l = rrelu({ lower: 3, upper: 8 })
    const neg = fromArray([1, 1000], Array.from({ length: 1000 }, () => -1), 'float64')
    const a = l.forward({}, neg, { training: true, key: key(5) }).y
    const b = l.forward({}, neg, { training: true, key: key(5) }).y
    const c = l.forward({}, neg, { training: true, key: key(6) }).y
    expect(a.data).toEqual(b.data)
    expect(a.data).not.toEqual(c.data)
    for (const v of a.data) expect(-1 / v).toBeGreaterThanOrEqual(3), expect(-1 / v).toBeLessThan(8)
    expect(l.forward({}, neg, evalCtx).y.data[0]).toBeCloseTo(-1 / 5.5, 14)
  })
  it('softmax rows sum to 1 even for logits near 800', () => {
    const { y } = softmax().forward({}, fromArray([2, 3], [800, 799, -800, 1, 2, 3], 'float64'), evalCtx)
    expect(y.data[0] + y.data[1] + y.data[2]).toBeCloseTo(1, 14)
    expect(y.data[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 12)
  })
})

describe('activation errors', () => {
  it('rejects a bad leaky slope, a bad rrelu range and a wrong dy', () => {
    const e1 = leakyRelu(0.5).init(key(0), [3])
    expect(E.isLeft(e1) && e1.left.message).toMatch(/leaky_relu: expected a to be a number > 1.*got 0.5/)
    const e2 = leakyRelu(NaN).init(key(0), [3])
    expect(E.isLeft(e2) && e2.left.message).toMatch(/got NaN/)
    const e3 = rrelu({ lower: 5, upper: 3 }).init(key(0), [3])
    expect(E.isLeft(e3) && e3.left.message).toMatch(/upper to be a number >= lower \(5\), got 3/)
    const l = sigmoid()
    const { saved } = l.forward({}, fromArray([2, 3], [1, 2, 3, 4, 5, 6]), evalCtx)
    expect(() => l.vjp({}, saved, fromArray([3, 2], [1, 2, 3, 4, 5, 6]))).toThrow(/sigmoid: expected dy of shape \[2, 3\].*got \[3, 2\]/)
    const p = prelu()
    const init = p.init(key(0), [4])
    if (E.isLeft(init)) throw init.left
    expect(() => p.forward(init.right.params, fromArray([1, 3], [1, 2, 3]), evalCtx)).toThrow(/prelu: expected input of shape \[B, \.\.\., 4\].*got \[1, 3\]/)
  })
})
