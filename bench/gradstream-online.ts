// W4's gradstream side: the online operator (src/streams/online.ts) and its learner
// (src/streams/learner.ts), the one step every model and optimizer uses: forward,
// backward and an in-place optimizer update on a private working copy. Each example is predicted with the current parameters before it
// is learned from (prequential); the operator's snapshot events carry the accuracy.
// Snapshots every `warmup` examples mark the start of timing.

import { lastValueFrom, tap } from 'rxjs'
import type { Dataset } from '../src/node.ts'
import { online, sgd } from '../src/node.ts'
import { now } from './clock.ts'
import type { MemorySample } from './memory.ts'
import { sampleMemory } from './memory.ts'
import { initialState, objectiveOf, w4Model } from './gradstream.ts'

export interface OnlineOptions {
  readonly train: Dataset & { readonly labels: Int32Array }
  /** The sample order (the fixed permutation); sample i of the stream is order[i]. */
  readonly order: Int32Array
  /** Updates to run (one per sample), from a fresh model. */
  readonly updates: number
  /** Timing starts after this many updates. */
  readonly warmup: number
  readonly hidden: number
  readonly lr: number
  /** Predict each sample (separate forward + argmax) before learning from it. */
  readonly prequential: boolean
}

export interface OnlineResult {
  /** Seconds taken by updates warmup+1 .. updates. */
  readonly seconds: number
  readonly timedUpdates: number
  /** Prequential hits and predictions (0 / 0 when prequential is false). */
  readonly correct: number
  readonly predicted: number
}

export const gradstreamOnline = async (o: OnlineOptions): Promise<OnlineResult> => {
  if (!(o.updates > o.warmup && o.updates <= o.order.length))
    throw new Error(`gradstreamOnline: expected warmup < updates <= ${o.order.length}, got ${o.warmup} and ${o.updates}`)
  const model = w4Model(o.hidden)
  const objective = objectiveOf(model)
  const s0 = initialState(model, o.lr)
  const S = o.train.x.data.length / o.train.x.shape[0]
  function* samples(): Generator<{ features: Float32Array; label: number }> {
    for (let i = 0; i < o.updates; i++) {
      const j = o.order[i]
      yield { features: o.train.x.data.subarray(j * S, (j + 1) * S) as Float32Array, label: o.train.labels[j] }
    }
  }
  let t0 = o.warmup === 0 ? now() : NaN
  let t1 = NaN
  let accuracy = NaN
  await lastValueFrom(
    online(objective, sgd(o.lr), samples(), { initial: s0, snapshotEvery: o.warmup > 0 ? o.warmup : 100 }).pipe(
      tap((e) => {
        if (e.type !== 'snapshot') throw new Error(`W4: unexpected ${e.type} event`)
        if (e.metrics.examples === o.warmup && !e.final) t0 = now()
        if (e.final) {
          t1 = now()
          accuracy = e.metrics.accuracy
        }
      }),
    ),
  )
  const predicted = o.prequential ? o.updates : 0
  return { seconds: (t1 - t0) / 1000, timedUpdates: o.updates - o.warmup, correct: o.prequential ? Math.round(accuracy * o.updates) : 0, predicted }
}

export interface LongStreamResult {
  readonly records: number
  readonly seconds: number
  /** Memory after every `every` records (after a full GC when available). */
  readonly samples: readonly { readonly records: number; readonly memory: MemorySample }[]
}

/**
 * Memory of a long online run (the 1,000,000 records): the digits cycled through
 * the prequential operator, snapshots every 1,000 records, memory sampled every `every`.
 * It must not grow with the stream.
 */
export const gradstreamLongStream = async (o: Omit<OnlineOptions, 'updates' | 'warmup' | 'prequential'> & { readonly records: number; readonly every: number }): Promise<LongStreamResult> => {
  const model = w4Model(o.hidden)
  const objective = objectiveOf(model)
  const s0 = initialState(model, o.lr)
  const S = o.train.x.data.length / o.train.x.shape[0]
  const N = o.order.length
  function* samples(): Generator<{ features: Float32Array; label: number }> {
    for (let i = 0; i < o.records; i++) {
      const j = o.order[i % N]
      yield { features: o.train.x.data.subarray(j * S, (j + 1) * S) as Float32Array, label: o.train.labels[j] }
    }
  }
  const out: { records: number; memory: MemorySample }[] = [{ records: 0, memory: sampleMemory() }]
  const t0 = now()
  await lastValueFrom(
    online(objective, sgd(o.lr), samples(), { initial: s0, snapshotEvery: 1000 }).pipe(
      tap((e) => {
        if (e.type === 'snapshot' && e.metrics.examples % o.every === 0) out.push({ records: e.metrics.examples, memory: sampleMemory() })
      }),
    ),
  )
  return { records: o.records, seconds: (now() - t0) / 1000, samples: out }
}
