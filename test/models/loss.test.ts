import { describe, expect, it } from 'vitest'
import { euclidean, softmaxCrossEntropy } from '../../src/models/loss.ts'
import { key, normal, uniform } from '../../src/core/rng.ts'
import { fromArray } from '../../src/core/tensor.ts'
import { centralDifferences } from '../helpers.ts'

describe('losses', () => {
  it('softmax cross-entropy: batch mean, gradient (p - t) / B, against finite differences', () => {
    const B = 4, C = 5
    const x = { shape: [B, C], data: normal(key(1), B * C, 'float64', 0, 3) }
    const raw = uniform(key(2), B * C, 'float64')
    const t = new Float64Array(B * C)
    for (let b = 0; b < B; b++) {
      let s = 0
      for (let c = 0; c < C; c++) s += raw[b * C + c]
      for (let c = 0; c < C; c++) t[b * C + c] = raw[b * C + c] / s
    }
    const target = { shape: [B, C], data: t }
    const L = softmaxCrossEntropy()
    const r = L.forward(x, target)
    const g = L.vjp(r.saved, 2)
    const num = centralDifferences(() => 2 * L.forward(x, target).loss, x.data as Float64Array)
    for (let i = 0; i < num.length; i++) expect(g.data[i]).toBeCloseTo(num[i], 8)
    // Known value: uniform logits give log C.
    const u = L.forward(fromArray([1, 4], [0, 0, 0, 0], 'float64'), fromArray([1, 4], [0, 1, 0, 0], 'float64'))
    expect(u.loss).toBeCloseTo(Math.log(4), 14)
  })

  it('softmax cross-entropy stays finite when a target class underflows', () => {
    const L = softmaxCrossEntropy()
    const r = L.forward(fromArray([1, 3], [800, 0, -800], 'float64'), fromArray([1, 3], [0, 0, 1], 'float64'))
    expect(r.loss).toBeCloseTo(1600, 9)
  })

  it('euclidean: 1/2 sum (x - t)^2, mean divides by the batch size', () => {
    const x = fromArray([2, 3], [1, 2, 3, 4, 5, 6], 'float64')
    const t = fromArray([2, 3], [0, 2, 3, 4, 5, 9], 'float64')
    expect(euclidean('sum').forward(x, t).loss).toBe(0.5 * (1 + 9))
    expect(euclidean('mean').forward(x, t).loss).toBe((0.5 * (1 + 9)) / 2)
    const L = euclidean('mean')
    const g = L.vjp(L.forward(x, t).saved)
    expect(Array.from(g.data)).toEqual([0.5, 0, 0, 0, 0, -1.5])
  })

  it('names the expected and actual target shapes', () => {
    expect(() => softmaxCrossEntropy().forward(fromArray([2, 3], [1, 2, 3, 4, 5, 6]), fromArray([2, 2], [1, 0, 0, 1]))).toThrow(
      'softmax_cross_entropy: expected a target of shape [2, 3] (the prediction\'s), got [2, 2]',
    )
  })
})
