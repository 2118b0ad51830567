import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { relu, sigmoid } from '../../src/models/activations.ts'
import { dense } from '../../src/models/dense.ts'
import { gradCheck } from '../../src/models/gradcheck.ts'
import type { AnyLayer } from '../../src/models/layer.ts'
import { evalCtx } from '../../src/models/layer.ts'
import { flatten } from '../../src/models/flatten.ts'
import { sequential } from '../../src/models/sequential.ts'
import { key } from '../../src/core/rng.ts'
import { fromArray } from '../../src/core/tensor.ts'
import { castTree } from '../../src/core/tree.ts'

describe('dense', () => {
  for (const [I, O, B] of [[1, 1, 1], [5, 3, 4], [17, 9, 2], [40, 33, 7]])
    it(`passes gradCheck for ${I} -> ${O}, batch ${B}`, () => {
      const r = gradCheck(dense(O), [I], { batch: B, seed: I })
      expect(E.isRight(r) && r.right.worst).toBeLessThan(1e-7)
    })

  it('computes x W + b', () => {
    const l = dense(2)
    const p = { W: fromArray([3, 2], [1, 2, 3, 4, 5, 6], 'float64'), b: fromArray([2], [0.5, -1], 'float64') }
    const { y } = l.forward(p, fromArray([1, 3], [1, 0, -1], 'float64'), evalCtx)
    expect(Array.from(y.data)).toEqual([1 - 5 + 0.5, 2 - 6 - 1])
  })

  it('draws Glorot-uniform weights from the key and zero biases', () => {
    const a = dense(50).init(key(1), [200])
    const b = dense(50).init(key(1), [200])
    if (E.isLeft(a) || E.isLeft(b)) throw new Error('init failed')
    expect(a.right.params.W.data).toEqual(b.right.params.W.data)
    const r = Math.sqrt(6 / 250)
    let mx = 0
    for (const w of a.right.params.W.data) mx = Math.max(mx, Math.abs(w))
    expect(mx).toBeLessThanOrEqual(r)
    expect(mx).toBeGreaterThan(0.95 * r)
    expect(a.right.params.b.data.every((v) => v === 0)).toBe(true)
    expect(a.right.outShape).toEqual([50])
  })

  it('reports bad units, rank and input width', () => {
    const bad = dense(-3).init(key(0), [4])
    expect(E.isLeft(bad) && bad.left.message).toBe('dense: expected units to be a positive integer, got -3')
    const nan = dense(NaN).init(key(0), [4])
    expect(E.isLeft(nan) && nan.left.message).toMatch(/got NaN/)
    const rank = dense(3).init(key(0), [28, 28, 1])
    expect(E.isLeft(rank) && rank.left.message).toMatch(/dense: expected a per-sample input of rank 1.*got rank 3 \[28, 28, 1\]/)
    const l = dense(2)
    const init = l.init(key(0), [3])
    if (E.isLeft(init)) throw init.left
    expect(() => l.forward(init.right.params, fromArray([1, 4], [1, 2, 3, 4]), evalCtx)).toThrow(
      'dense: expected input of shape [B, 3], got [1, 4]',
    )
  })
})

describe('sequential', () => {
  it('chains forward, runs vjp backwards and passes gradCheck', () => {
    const net = sequential(dense(7), relu(), dense(5), sigmoid(), dense(3))
    const r = gradCheck(net, [6], { batch: 4, seed: 3 })
    expect(E.isRight(r) && r.right.worst).toBeLessThan(1e-7)
    if (E.isRight(r)) expect(Object.keys(r.right.errors)).toEqual(['x', 'fc1.W', 'fc1.b', 'fc2.W', 'fc2.b', 'fc3.W', 'fc3.b'])
  })

  it('names children per kind and nests', () => {
    const inner = sequential(dense(4), relu())
    const net = sequential(dense(8), relu(), inner, ['head', dense(2)])
    expect(net.children.map((c) => c.name)).toEqual(['fc1', 'relu1', 'block1', 'head'])
    const init = net.init(key(0), [3])
    if (E.isLeft(init)) throw init.left
    expect(init.right.outShape).toEqual([2])
    expect(Object.keys(init.right.params)).toEqual(['fc1', 'block1', 'head'])
    const r = gradCheck(net, [3], { seed: 9 })
    expect(E.isRight(r) && r.right.worst).toBeLessThan(1e-7)
  })

  it('names the failing child in init errors and forward errors', () => {
    const net = sequential(dense(8), relu(), dense(0))
    const e = net.init(key(0), [3])
    expect(E.isLeft(e) && e.left.message).toBe('fc2 (dense): expected units to be a positive integer, got 0')
    const ok = sequential(dense(2))
    const init = ok.init(key(0), [3])
    if (E.isLeft(init)) throw init.left
    expect(() => ok.forward(init.right.params, fromArray([2, 2], [1, 2, 3, 4]), evalCtx)).toThrow(
      'fc1 (dense): expected input of shape [B, 3], got [2, 2]',
    )
    expect(() => sequential(['a', dense(1)], ['a', dense(2)])).toThrow(/distinct child names, got a twice/)
  })

  it('computes input gradients of the leading layers only when dx is read', () => {
    let calls = 0
    const f = flatten()
    const counting: AnyLayer = { ...f, vjp: (p, s, dy) => ((calls += 1), f.vjp(p, s as readonly number[], dy)) }
    const net = sequential(counting, dense(3), relu(), dense(2))
    const init = net.init(key(0), [2, 2, 1])
    if (E.isLeft(init)) throw init.left
    const p = castTree(init.right.params, 'float64')
    const x = fromArray([2, 2, 2, 1], [1, 2, 3, 4, 5, 6, 7, 8], 'float64')
    const { saved } = net.forward(p, x, evalCtx)
    const r = net.vjp(p, saved, fromArray([2, 2], [1, -1, 0.5, 2], 'float64'))
    expect(Object.keys(r.dparams)).toEqual(['fc1', 'fc2'])
    expect(calls).toBe(0)
    expect(r.dx.shape).toEqual([2, 2, 2, 1])
    expect(calls).toBe(1)
    expect(r.dx).toBe(r.dx)
    expect(calls).toBe(1)
    // A dy of the wrong shape still fails at once.
    expect(() => net.vjp(p, saved, fromArray([2, 3], [1, 2, 3, 4, 5, 6], 'float64'))).toThrow(/fc2 \(dense\): expected dy of shape \[2, 2\]/)
  })

})
