// Rolling prequential metrics: known values by hand, windows equal to recomputing over
// the last W values, and macro F1 against its definition.

import { from, lastValueFrom, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { key, uniform } from '../../src/core/rng.ts'
import {
  accuracyOfScore, classScore, classScoreMonoid, logLossOf, macroF1, mae, RegressionMonoid, regressionScore, rmse, rolling,
} from '../../src/streams/rolling-metrics.ts'

describe('regression scores', () => {
  it('MAE and RMSE of known errors', () => {
    const s = regressionScore([1, 2, 3, 4], [1, 0, 6, 4]) // errors 0, 2, -3, 0
    expect(mae(s)).toBe(5 / 4)
    expect(rmse(s)).toBe(Math.sqrt(13 / 4))
    expect(mae(RegressionMonoid.empty)).toBeNaN()
    expect(() => regressionScore([1], [1, 2])).toThrow('regressionScore: expected as many predictions as targets, got 1 and 2')
  })

  it('a window of W equals the score of the last W examples, at every step', async () => {
    const u = uniform(key(3), 400, 'float64')
    const scores = Array.from({ length: 200 }, (_, i) => regressionScore([u[2 * i]], [u[2 * i + 1]]))
    const out = await lastValueFrom(from(scores).pipe(rolling(RegressionMonoid, 25), toArray()))
    for (const i of [0, 10, 24, 25, 120, 199]) {
      const last = scores.slice(Math.max(0, i - 24), i + 1)
      const direct = last.reduce((a, b) => RegressionMonoid.concat(a, b), RegressionMonoid.empty)
      expect(out[i].count).toBe(last.length)
      expect(mae(out[i])).toBeCloseTo(mae(direct), 12)
      expect(rmse(out[i])).toBeCloseTo(rmse(direct), 12)
    }
  })
})

describe('classification scores', () => {
  const M = classScoreMonoid(3)
  // label, predicted, p(label)
  const rows: [number, number, number][] = [[0, 0, 0.9], [0, 1, 0.2], [1, 1, 0.6], [2, 1, 0.1], [2, 2, 0.7], [1, 1, 0.8]]
  const all = rows.map(([l, p, q]) => classScore(3, l, p, q)).reduce((a, b) => M.concat(a, b), M.empty)

  it('accuracy, log loss and macro F1 of a known confusion', () => {
    expect(accuracyOfScore(all)).toBe(4 / 6)
    expect(logLossOf(all)).toBeCloseTo(-(Math.log(0.9) + Math.log(0.2) + Math.log(0.6) + Math.log(0.1) + Math.log(0.7) + Math.log(0.8)) / 6, 14)
    // class 0: TP 1, predicted 1, actual 2 -> 2/3; class 1: TP 2, predicted 4, actual 2 -> 4/6; class 2: TP 1, predicted 1, actual 2 -> 2/3
    expect(macroF1(all)).toBeCloseTo((2 / 3 + 4 / 6 + 2 / 3) / 3, 14)
  })

  it('leaves absent classes out of macro F1, and clips a sure miss', () => {
    const s = classScore(4, 1, 1, 0)
    expect(macroF1(s)).toBe(1)
    expect(logLossOf(s)).toBeCloseTo(-Math.log(1e-15), 10)
    expect(() => classScore(3, 3, 0, 0.5)).toThrow('classScore: expected a label in 0..2, got 3')
  })

  it('rolls over the whole stream without a window', async () => {
    const out = await lastValueFrom(from(rows.map(([l, p, q]) => classScore(3, l, p, q))).pipe(rolling(M), toArray()))
    expect(out.length).toBe(6)
    expect(out[5]).toEqual(all)
    expect(accuracyOfScore(out[1])).toBe(1 / 2)
  })
})
