// W4's gradstream side in one function, so it can switch to the dedicated online /
// prequential operator (src/streams/online.ts, in progress) by changing this file only.
//
// Today it runs the ordinary training stream at batch size 1: train(...) over
// arraySource(train, { batchSize: 1, order }), one snapshot per update. Prequential
// prediction uses a separate forward pass: each snapshot (parameters after s updates) is
// emitted before the stream pulls sample s, so predicting order[s] from it in the
// subscriber is "predict, then learn". Sample 0 is predicted from the initial snapshot.

import { lastValueFrom, take, tap } from 'rxjs'
import type { Dataset, Params } from '../src/index.ts'
import { argmaxRows, arraySource, sgd, softmaxCrossEntropy, train } from '../src/index.ts'
import { now } from './clock.ts'
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
  const optimizer = sgd(o.lr)
  const s0 = initialState(model, o.lr)
  const S = o.train.x.data.length / o.train.x.shape[0]
  let correct = 0
  let predicted = 0
  const predict = (params: Params, i: number): void => {
    const j = o.order[i]
    const x = { shape: [1, ...o.train.x.shape.slice(1)], data: o.train.x.data.subarray(j * S, (j + 1) * S) }
    if (argmaxRows(objective.predict(params, x))[0] === o.train.labels[j]) correct++
    predicted++
  }
  if (o.prequential) predict(s0.params, 0)
  let t0 = o.warmup === 0 ? now() : NaN
  let t1 = NaN
  await lastValueFrom(
    train(model, softmaxCrossEntropy(), optimizer, {
      data: arraySource(o.train, { batchSize: 1, order: o.order }),
      epochs: 1,
      initial: s0,
    }).pipe(
      take(o.updates),
      tap((s) => {
        if (s.step === o.warmup) t0 = now()
        if (s.step === o.updates) t1 = now()
        if (o.prequential && s.step < o.updates) predict(s.params, s.step)
      }),
    ),
  )
  return { seconds: (t1 - t0) / 1000, timedUpdates: o.updates - o.warmup, correct, predicted }
}
