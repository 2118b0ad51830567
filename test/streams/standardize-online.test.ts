// onlineStandardize(): River's StandardScaler as a layer with state. Its statistics equal
// a direct two-pass computation whatever the batch sizes (Welford / Chan), training
// learns then scales, evaluation scales with the state as it is, the vjp is 1/sd (exact
// in evaluation: gradCheck in Float64), and online it turns a badly scaled stream that a
// plain MLP cannot learn into one it can; checkpoints carry the state, so a resumed run
// ends on the uninterrupted run's bits.

import { lastValueFrom, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { key, normal } from '../../src/core/rng.ts'
import type { Tensor } from '../../src/core/tensor.ts'
import type { Params } from '../../src/core/tree.ts'
import { leaves } from '../../src/core/tree.ts'
import { decodeCheckpoint, encodeCheckpoint } from '../../src/io/checkpoint.ts'
import { gradCheck } from '../../src/models/gradcheck.ts'
import { evalCtx } from '../../src/models/layer.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import { objectiveFromSpec } from '../../src/models/objective-spec.ts'
import { sgd } from '../../src/models/optimizers.ts'
import { sequential } from '../../src/models/sequential.ts'
import type { OnlineStandardizeState } from '../../src/models/standardize-online.ts'
import { onlineStandardize } from '../../src/models/standardize-online.ts'
import { mlp } from '../../src/models/zoo/mlp.ts'
import type { OnlineExample, OnlineSnapshotEvent } from '../../src/streams/online.ts'
import { online } from '../../src/streams/online.ts'
import type { Snapshot } from '../../src/streams/snapshot.ts'
import { hashBytes, hashParams } from '../../src/streams/snapshot.ts'

const S = 3
const rows = (n: number, seed: number): Float64Array => {
  const z = normal(key(seed), n * S, 'float64')
  // badly scaled, offset columns
  for (let i = 0; i < n; i++) {
    z[i * S] = 1000 * z[i * S] + 5000
    z[i * S + 1] = 0.001 * z[i * S + 1] - 3
  }
  return z as Float64Array
}

const fresh = (): OnlineStandardizeState => {
  const r = onlineStandardize().init(key(0), [S])
  if (r._tag === 'Left') throw r.left
  return r.right.state as OnlineStandardizeState
}

/** Feeds x in batches of the given sizes through training forwards; the final state. */
const feed = (x: Float64Array, sizes: readonly number[]): OnlineStandardizeState => {
  const l = onlineStandardize()
  let state = fresh()
  let o = 0
  for (const k of sizes) {
    const r = l.forward({}, { shape: [k, S], data: x.slice(o * S, (o + k) * S) }, { training: true, key: key(0) }, state)
    state = r.state as OnlineStandardizeState
    o += k
  }
  return state
}

const twoPass = (x: Float64Array, n: number): { mean: number[]; variance: number[] } => {
  const mean = Array.from({ length: S }, (_, j) => {
    let s = 0
    for (let i = 0; i < n; i++) s += x[i * S + j]
    return s / n
  })
  const variance = mean.map((m, j) => {
    let s = 0
    for (let i = 0; i < n; i++) s += (x[i * S + j] - m) ** 2
    return s / n
  })
  return { mean, variance }
}

describe('onlineStandardize statistics', () => {
  const x = rows(200, 1)
  const direct = twoPass(x, 200)

  it('equal a two-pass mean and population variance, one record at a time (Welford) or in batches (Chan)', () => {
    for (const sizes of [new Array<number>(200).fill(1), new Array<number>(25).fill(8), [1, 2, 3, 50, 7, 100, 37]]) {
      const s = feed(x, sizes)
      expect(s.count.data[0]).toBe(200)
      for (let j = 0; j < S; j++) {
        expect(Math.abs(s.mean.data[j] - direct.mean[j])).toBeLessThan(1e-9 * Math.max(1, Math.abs(direct.mean[j])))
        expect(Math.abs(s.m2.data[j] / 200 - direct.variance[j])).toBeLessThan(1e-9 * direct.variance[j])
      }
    }
  })

  it('train: learn the batch, then scale with the updated statistics; evaluation: scale with the state as it is', () => {
    const l = onlineStandardize()
    const state = feed(x, [100])
    const batch: Tensor = { shape: [2, S], data: x.slice(100 * S, 102 * S) }
    const e = l.forward({}, batch, evalCtx, state)
    expect(e.state).toBeUndefined()
    const before = twoPass(x, 100)
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < S; j++)
        expect(e.y.data[i * S + j]).toBeCloseTo((batch.data[i * S + j] - before.mean[j]) / Math.sqrt(before.variance[j]), 9)
    const t = l.forward({}, batch, { training: true, key: key(0) }, state)
    const after = twoPass(x, 102)
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < S; j++)
        expect(t.y.data[i * S + j]).toBeCloseTo((batch.data[i * S + j] - after.mean[j]) / Math.sqrt(after.variance[j]), 9)
    // the input state is untouched
    expect((state.count.data as Float64Array)[0]).toBe(100)
  })

  it('scales to 0 before any record and for a constant feature (River\'s safe_div)', () => {
    const l = onlineStandardize()
    const y0 = l.forward({}, { shape: [1, S], data: Float64Array.of(5, 6, 7) }, evalCtx, fresh())
    expect([...y0.y.data]).toEqual([0, 0, 0])
    const t = l.forward({}, { shape: [1, S], data: Float64Array.of(5, 6, 7) }, { training: true, key: key(0) }, fresh())
    expect([...t.y.data]).toEqual([0, 0, 0])
    expect([...(t.state as OnlineStandardizeState).mean.data]).toEqual([5, 6, 7])
  })

  it('passes gradCheck in evaluation (exact), and its training vjp is dy / sd with the statistics as constants', () => {
    const state = feed(x, [50])
    const r = gradCheck(onlineStandardize(), [S], { batch: 4, training: false, state, seed: 2 })
    if (r._tag === 'Left') throw r.left
    expect(r.right.errors.x).toBeLessThan(1e-7)
    expect(r.right.checked).toBe(4 * S)
    const l = onlineStandardize()
    const batch: Tensor = { shape: [1, S], data: x.slice(50 * S, 51 * S) }
    const t = l.forward({}, batch, { training: true, key: key(0) }, state)
    const dy: Tensor = { shape: [1, S], data: Float64Array.of(1, 2, 3) }
    const dx = l.vjp({}, t.saved, dy).dx
    const after = twoPass(x, 51)
    for (let j = 0; j < S; j++) {
      const want = dy.data[j] / Math.sqrt(after.variance[j])
      expect(Math.abs(dx.data[j] - want)).toBeLessThan(1e-12 * Math.abs(want))
    }
  })

  it('says what is wrong in one line', () => {
    const l = onlineStandardize()
    expect(() => l.forward({}, { shape: [2, S], data: new Float32Array(6) }, evalCtx)).toThrow(
      'online_standardize: expected running statistics {count, mean, m2} as state in evaluation, got none',
    )
    expect(() => l.forward({}, { shape: [2, 4], data: new Float32Array(8) }, evalCtx, fresh())).toThrow(
      'online_standardize: expected state count [1], mean [4], m2 [4], got [1], [3], [3]',
    )
  })
})

// ---- online, on a badly scaled stream -------------------------------------------------

// Two classes split by a line through the centre, seen through features at wildly
// different scales and offsets (a price in the thousands, a ratio in thousandths).
const scaledStream = (n: number, seed: number): OnlineExample[] => {
  const z = normal(key(seed), n * 2, 'float64')
  return Array.from({ length: n }, (_, i) => {
    const a = z[2 * i]
    const b = z[2 * i + 1]
    return { features: [1000 * a + 5000, 0.001 * b - 3], label: a + b > 0 ? 1 : 0 }
  })
}

const withScaler = (): AnyObjective =>
  supervised(sequential(onlineStandardize(), mlp({ hidden: [8], classes: 2 })), softmaxCrossEntropy(), [2]) as AnyObjective
const plain = (): AnyObjective => supervised(mlp({ hidden: [8], classes: 2 }), softmaxCrossEntropy(), [2]) as AnyObjective

const finalOf = async (objective: AnyObjective, data: OnlineExample[], initial?: Snapshot): Promise<OnlineSnapshotEvent> => {
  const events = await lastValueFrom(online(objective, sgd(0.05), data, { seed: 1, window: 1000, ...(initial ? { initial } : {}) }).pipe(toArray()))
  const last = events[events.length - 1]
  if (last.type !== 'snapshot' || !last.final) throw new Error('no final snapshot')
  return last
}

const stateHash = (s: Snapshot): string => leaves(s.modelState as Params).map(([p, t]) => `${p}:${hashBytes(t.data)}`).join(',')

describe('onlineStandardize online', () => {
  const data = scaledStream(4000, 7)

  it('learns a badly scaled stream that the same MLP without it cannot (prequential accuracy over the last 1000)', async () => {
    const a = await finalOf(withScaler(), data)
    const b = await finalOf(plain(), data)
    // measured: 0.989 with the scaler, 0.517 without (the raw MLP's steps are dominated by the 5000 column)
    expect(a.metrics.windowAccuracy).toBeGreaterThan(0.95)
    expect(b.metrics.windowAccuracy).toBeLessThan(0.75)
    const st = a.snapshot.modelState as { readonly std1: OnlineStandardizeState }
    expect(st.std1.count.data[0]).toBe(4000)
    expect(Math.abs(st.std1.mean.data[0] - 5000)).toBeLessThan(50)
  })

  it('checkpoints its state: resuming from a decoded checkpoint ends on the same bits as one run', async () => {
    const objective = withScaler()
    const whole = await finalOf(objective, data.slice(0, 1000))
    const half = await finalOf(objective, data.slice(0, 600))
    const bytes = encodeCheckpoint(half.snapshot, { model: objective.spec, optimizer: sgd(0.05).spec })
    const c = decodeCheckpoint(bytes)
    expect(stateHash(c.snapshot)).toBe(stateHash(half.snapshot))
    const rebuilt = objectiveFromSpec(c.model)
    if (rebuilt._tag === 'Left') throw rebuilt.left
    const rest = await finalOf(rebuilt.right, data.slice(600, 1000), c.snapshot)
    expect(hashParams(rest.snapshot)).toBe(hashParams(whole.snapshot))
    expect(stateHash(rest.snapshot)).toBe(stateHash(whole.snapshot))
  })
})
