// Delayed labels: with labelDelay N, example j is predicted on arrival with the
// parameters learned from examples 0 .. j-N-1 (the labels that have arrived), and
// learned when its label arrives; the metrics score the arrival predictions. Checked
// against a hand-computed schedule from an undelayed run's snapshots.

import { lastValueFrom, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { key, normal, permutation } from '../../src/core/rng.ts'
import { argmaxRows } from '../../src/core/tensor.ts'
import { dense } from '../../src/models/dense.ts'
import { euclidean, softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import { sgd } from '../../src/models/optimizers.ts'
import { sequential } from '../../src/models/sequential.ts'
import { mlp } from '../../src/models/zoo/mlp.ts'
import type { OnlineEvent, OnlineExample, OnlineItem, OnlineOptions, OnlineSnapshotEvent } from '../../src/streams/online.ts'
import { online } from '../../src/streams/online.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import type { Snapshot } from '../../src/streams/snapshot.ts'
import { blobs } from '../helpers.ts'

const snaps = (es: OnlineEvent[]) => es.filter((e): e is OnlineSnapshotEvent => e.type === 'snapshot')
const run = (obj: AnyObjective, data: OnlineExample[], options: OnlineOptions) =>
  lastValueFrom(online(obj, sgd(0.1), data, { seed: 4, snapshotEvery: 1, ...options }).pipe(toArray()))

/** Snapshot after learning j examples (undelayed), for j = 0 .. n. */
const schedule = async (obj: AnyObjective, data: OnlineExample[]): Promise<Snapshot[]> => {
  const s0 = snaps(await run(obj, [], {}))[0].snapshot
  return [s0, ...snaps(await run(obj, data, {})).filter((e) => !e.final).map((e) => e.snapshot)]
}

describe('online() with delayed labels', () => {
  const b = blobs(10, 3, 4, 8)
  const order = permutation(key(1), 30)
  const data: OnlineExample[] = Array.from(order, (i) => ({ features: b.x.data.subarray(i * 4, i * 4 + 4), label: b.labels![i] }))
  const classifier = (): AnyObjective => supervised(mlp({ hidden: [6], classes: 3 }), softmaxCrossEntropy(), [4]) as AnyObjective

  it('delay 0 is the undelayed run, event for event', async () => {
    const obj = classifier()
    const a = await run(obj, data, {})
    const z = await run(obj, data, { labelDelay: 0 })
    expect(z.map((e) => e.type)).toEqual(a.map((e) => e.type))
    expect(snaps(z).map((e) => hashParams(e.snapshot))).toEqual(snaps(a).map((e) => hashParams(e.snapshot)))
  })

  it.each([1, 3, 7])('delay %i: arrival predictions from the parameters of the labels arrived so far; everything learned in order', async (N) => {
    const obj = classifier()
    const after = await schedule(obj, data)
    let hits = 0
    for (let j = 0; j < data.length; j++) {
      const s = after[Math.max(0, j - N)]
      const pred = argmaxRows(obj.predict(s.params, { shape: [1, 4], data: Float32Array.from(data[j].features) }))[0]
      if (pred === data[j].label) hits++
    }
    const es = await run(obj, data, { labelDelay: N })
    const last = snaps(es).at(-1)!
    expect(last.metrics.learned).toBe(data.length)
    expect(last.metrics.examples).toBe(data.length)
    expect(last.metrics.accuracy).toBe(hits / data.length)
    // learned in arrival order: the same parameters as the undelayed run
    expect(hashParams(last.snapshot)).toBe(hashParams(after[data.length]))
    // before the end, N labels are still waiting: the snapshot at arrival j has learned j - N
    const mid = snaps(es).filter((e) => !e.final)
    expect(mid[0].snapshot.step).toBe(1)
    expect(mid.length).toBe(data.length)
  })

  it('a regressor\'s MAE / RMSE score the arrival predictions', async () => {
    const z = normal(key(2), 40 * 2, 'float64')
    const lin: OnlineExample[] = Array.from({ length: 40 }, (_, i) => ({ features: [z[2 * i], z[2 * i + 1]], target: 3 * z[2 * i] - z[2 * i + 1] + 0.5 }))
    const obj = supervised(sequential(dense(1)), euclidean('mean'), [2]) as AnyObjective
    const N = 5
    const after = await schedule(obj, lin)
    let abs = 0
    let sq = 0
    for (let j = 0; j < lin.length; j++) {
      const y = obj.predict(after[Math.max(0, j - N)].params, { shape: [1, 2], data: Float32Array.from(lin[j].features) }).data[0]
      const e = y - Math.fround(lin[j].target as number)
      abs += Math.abs(e)
      sq += e * e
    }
    const m = snaps(await run(obj, lin, { labelDelay: N })).at(-1)!.metrics
    expect(Math.abs(m.mae - abs / lin.length)).toBeLessThan(1e-6 * m.mae)
    expect(Math.abs(m.rmse - Math.sqrt(sq / lin.length))).toBeLessThan(1e-6 * m.rmse)
  })

  it('refuses a negative delay in one line', async () => {
    await expect(run(classifier(), data, { labelDelay: -1 })).rejects.toThrow('online: expected labelDelay to be an integer >= 0, got -1')
  })
})

describe('online() with labels joined by record id', () => {
  const b = blobs(8, 3, 4, 9)
  const order = permutation(key(2), 24)
  const data: OnlineExample[] = Array.from(order, (i, j) => ({ features: b.x.data.subarray(i * 4, i * 4 + 4), label: b.labels![i], id: `r${j}` }))
  const classifier = (): AnyObjective => supervised(mlp({ hidden: [6], classes: 3 }), softmaxCrossEntropy(), [4]) as AnyObjective

  it('predicts each record on arrival and learns it when its label item arrives, in label order', async () => {
    const obj = classifier()
    // records arrive in order; their labels come in pairs, reversed, after the pair's records
    // (and one label names no record, one record never gets its label)
    const items: OnlineItem[] = []
    const learnOrder: number[] = []
    for (let j = 0; j < data.length; j += 2) {
      items.push({ features: data[j].features, id: data[j].id }, { features: data[j + 1].features, id: data[j + 1].id })
      if (j + 1 < data.length - 1) {
        items.push({ labelFor: `r${j + 1}`, label: data[j + 1].label }, { labelFor: `r${j}`, label: data[j].label })
        learnOrder.push(j + 1, j)
      }
    }
    items.push({ labelFor: 'nobody', label: 0 }, { labelFor: `r${data.length - 2}`, label: data[data.length - 2].label })
    learnOrder.push(data.length - 2)
    const es = await lastValueFrom(online(obj, sgd(0.1), items, { seed: 4, snapshotEvery: 1, joinLabels: true }).pipe(toArray()))
    // the reference: an undelayed run over the examples in label order
    const inOrder = learnOrder.map((j) => data[j])
    const after = await schedule(obj, inOrder)
    // example j is predicted on arrival, after the labels that came before it
    const labelsBefore = (j: number): number => {
      let n = 0
      for (const it of items) {
        if ('id' in it && it.id === `r${j}`) return n
        if ('labelFor' in it && it.labelFor !== 'nobody') n++
      }
      return n
    }
    let hits = 0
    for (const j of learnOrder) {
      const s = after[labelsBefore(j)]
      const pred = argmaxRows(obj.predict(s.params, { shape: [1, 4], data: Float32Array.from(data[j].features) }))[0]
      if (pred === data[j].label) hits++
    }
    const last = snaps(es).at(-1)!
    expect(last.metrics.learned).toBe(learnOrder.length)
    expect(last.metrics.waiting).toBe(1)
    expect(last.metrics.unmatchedLabels).toBe(1)
    expect(last.metrics.accuracy).toBe(hits / learnOrder.length)
    expect(hashParams(last.snapshot)).toBe(hashParams(after[learnOrder.length]))
  })

  it('rejects a record without an id, and refuses labelDelay with joinLabels', async () => {
    const es = await lastValueFrom(online(classifier(), sgd(0.1), [{ features: [1, 2, 3, 4], label: 0 }], { joinLabels: true }).pipe(toArray()))
    expect(es[0]).toMatchObject({ type: 'rejected', reason: 'missing field', detail: 'expected an id (a string or a number) to join its label by' })
    await expect(run(classifier(), data, { labelDelay: 2, joinLabels: true })).rejects.toThrow('online: expected labelDelay or joinLabels, not both')
  })
})
