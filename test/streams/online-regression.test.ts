// Online regression: a closed-form stream y = w.x + b learned prequentially with the
// Euclidean loss; the learner converges to w and b, the rolling MAE falls below a bound,
// and the MAE / RMSE the Monoids report equal a direct computation from the predictions
// each snapshot would make.

import { lastValueFrom, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { key, normal } from '../../src/core/rng.ts'
import { dense } from '../../src/models/dense.ts'
import { euclidean } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import { sgd } from '../../src/models/optimizers.ts'
import { sequential } from '../../src/models/sequential.ts'
import { onlineStandardize } from '../../src/models/standardize-online.ts'
import { adwin } from '../../src/streams/drift-adwin.ts'
import type { OnlineEvent, OnlineExample, OnlineSnapshotEvent } from '../../src/streams/online.ts'
import { online } from '../../src/streams/online.ts'

const W = [2, -1, 0.5]
const B = 1

const linear = (n: number, seed: number, w = W, b = B): OnlineExample[] => {
  const z = normal(key(seed), 3 * n, 'float64')
  return Array.from({ length: n }, (_, i) => {
    const x = [z[3 * i], z[3 * i + 1], z[3 * i + 2]]
    return { features: x, target: w[0] * x[0] + w[1] * x[1] + w[2] * x[2] + b }
  })
}

const objective = (): AnyObjective => supervised(sequential(dense(1)), euclidean('mean'), [3]) as AnyObjective
const snaps = (es: OnlineEvent[]) => es.filter((e): e is OnlineSnapshotEvent => e.type === 'snapshot')

describe('online regression', () => {
  it('converges on y = w.x + b: the parameters reach w and b, the window MAE falls below 1e-3', async () => {
    const es = await lastValueFrom(online(objective(), sgd(0.05), linear(3000, 1), { seed: 2, window: 500 }).pipe(toArray()))
    const last = snaps(es).at(-1)!
    const p = last.snapshot.params as unknown as { fc1: { W: { data: Float32Array }; b: { data: Float32Array } } }
    for (let i = 0; i < 3; i++) expect(Math.abs(p.fc1.W.data[i] - W[i])).toBeLessThan(1e-4)
    expect(Math.abs(p.fc1.b.data[0] - B)).toBeLessThan(1e-4)
    expect(last.metrics.windowMae).toBeLessThan(1e-3)
    expect(last.metrics.windowRmse).toBeLessThan(1e-3)
    // early on the errors are large: the cumulative MAE is dominated by them
    expect(last.metrics.mae).toBeGreaterThan(10 * last.metrics.windowMae)
    expect(Number.isNaN(last.metrics.accuracy)).toBe(true)
    expect(last.metrics.learned).toBe(3000)
  })

  it('reports the MAE and RMSE of the predictions made before each update (a direct computation)', async () => {
    const data = linear(300, 3)
    const obj = objective()
    for (const batchSize of [1, 4]) {
      const es = await lastValueFrom(online(obj, sgd(0.05), data, { seed: 2, window: 100, snapshotEvery: batchSize, batchSize }).pipe(toArray()))
      const ss = snaps(es)
      // the prediction of example i comes from the snapshot before its batch
      let abs = 0
      let sq = 0
      let wAbs = 0
      let wSq = 0
      let before = (await lastValueFrom(online(obj, sgd(0.05), [], { seed: 2 }).pipe(toArray())))[0] as OnlineSnapshotEvent
      for (let i = 0, s = 0; i < data.length; i += batchSize, s++) {
        for (let j = i; j < Math.min(i + batchSize, data.length); j++) {
          const x = Float32Array.from(data[j].features)
          const y = obj.predict(before.snapshot.params, { shape: [1, 3], data: x }).data[0]
          const e = y - Math.fround(data[j].target as number)
          abs += Math.abs(e)
          sq += e * e
          if (j >= data.length - 100) {
            wAbs += Math.abs(e)
            wSq += e * e
          }
        }
        before = ss[s]
      }
      const m = ss.at(-1)!.metrics
      // to float32 rounding: a batch's outputs and a batch-1 prediction may differ in the last bit
      const close = (a: number, b: number) => expect(Math.abs(a - b), `${a} vs ${b}`).toBeLessThan(1e-6 * b)
      close(m.mae, abs / data.length)
      close(m.rmse, Math.sqrt(sq / data.length))
      close(m.windowMae, wAbs / 100)
      close(m.windowRmse, Math.sqrt(wSq / 100))
    }
  })

  it('rejects a missing or non-finite target, and learns on', async () => {
    const data: OnlineExample[] = [...linear(5, 4), { features: [1, 2, 3] }, { features: [1, 2, 3], target: NaN }, { features: [1, 2, 3], target: [1, 2] }]
    const es = await lastValueFrom(online(objective(), sgd(0.05), data).pipe(toArray()))
    const reasons = es.flatMap((e) => (e.type === 'rejected' ? [e.reason] : []))
    expect(reasons).toEqual(['missing label', 'invalid label', 'wrong field count'])
    expect(snaps(es).at(-1)!.metrics.learned).toBe(5)
  })

  it('with standardisation and an ADWIN reset on a change of w, the MAE after the change recovers', async () => {
    const changed = [...linear(2000, 5), ...linear(2000, 6, [-2, 1, 3], -1)]
    const obj = supervised(sequential(onlineStandardize(), dense(1)), euclidean('mean'), [3]) as AnyObjective
    const es = await lastValueFrom(online(obj, sgd(0.02), changed, { seed: 1, window: 200, drift: { detector: () => adwin(), onDrift: 'reset' } }).pipe(toArray()))
    const last = snaps(es).at(-1)!
    expect(es.some((e) => e.type === 'drift' && e.step > 2000 && e.step < 2300)).toBe(true)
    expect(last.metrics.windowMae).toBeLessThan(0.05)
  })
})
