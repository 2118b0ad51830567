// Prequential metrics as fp-ts Monoids (like ScoreMonoid in online.ts), for whole
// streams (a fold with concat) and sliding windows (online.ts's slidingWindow: exact,
// no subtraction, so no drift over long streams):
//
//   regression      RegressionScore: sum |e|, sum e^2, count -> MAE, RMSE
//   classification  ClassScore: per-class true positives, predictions and labels, the
//                   summed log loss and the count -> accuracy, log loss, macro F1
//
// Macro F1 is the mean over the classes present (as a label or a prediction) of
// F1_c = 2 TP_c / (predicted_c + actual_c), River's and scikit-learn's definition with
// absent classes left out.

import type { Monoid } from 'fp-ts/lib/Monoid.js'
import type { OperatorFunction } from 'rxjs'
import { Observable } from 'rxjs'
import { GradstreamError } from '../core/errors.ts'
import { slidingWindow } from './sliding-window.ts'

// ---- regression ------------------------------------------------------------------------

export interface RegressionScore {
  readonly absSum: number
  readonly sqSum: number
  readonly count: number
}

export const RegressionMonoid: Monoid<RegressionScore> = {
  concat: (a, b) => ({ absSum: a.absSum + b.absSum, sqSum: a.sqSum + b.sqSum, count: a.count + b.count }),
  empty: { absSum: 0, sqSum: 0, count: 0 },
}

/** The score of predictions against targets (all outputs of all rows count). */
export const regressionScore = (predicted: ArrayLike<number>, target: ArrayLike<number>): RegressionScore => {
  if (predicted.length !== target.length)
    throw new GradstreamError(`regressionScore: expected as many predictions as targets, got ${predicted.length} and ${target.length}`)
  let absSum = 0
  let sqSum = 0
  for (let i = 0; i < predicted.length; i++) {
    const e = predicted[i] - target[i]
    absSum += Math.abs(e)
    sqSum += e * e
  }
  return { absSum, sqSum, count: predicted.length }
}

export const mae = (s: RegressionScore): number => (s.count === 0 ? NaN : s.absSum / s.count)
export const rmse = (s: RegressionScore): number => (s.count === 0 ? NaN : Math.sqrt(s.sqSum / s.count))

// ---- classification --------------------------------------------------------------------

export interface ClassScore {
  /** Per class: correct predictions of it, predictions of it, examples labelled it. */
  readonly truePositives: readonly number[]
  readonly predicted: readonly number[]
  readonly actual: readonly number[]
  /** Summed -log p(label). */
  readonly logLoss: number
  readonly count: number
}

/** The per-class counts macro F1 is computed from (a ClassScore without its loss and count). */
export type ClassCounts = Pick<ClassScore, 'truePositives' | 'predicted' | 'actual'>

/** The sum of two ClassCounts over the same classes (e.g. a checkpoint's and a process's). */
export const addClassCounts = (a: ClassCounts, b: ClassCounts): ClassCounts => {
  const add = (x: readonly number[], y: readonly number[]): number[] => x.map((v, i) => v + y[i])
  return { truePositives: add(a.truePositives, b.truePositives), predicted: add(a.predicted, b.predicted), actual: add(a.actual, b.actual) }
}

export const classScoreMonoid = (classes: number): Monoid<ClassScore> => {
  if (!(Number.isInteger(classes) && classes >= 1)) throw new GradstreamError(`classScoreMonoid: expected a positive number of classes, got ${classes}`)
  const zeros = (): number[] => new Array<number>(classes).fill(0)
  const add = (a: readonly number[], b: readonly number[]): number[] => a.map((v, i) => v + b[i])
  return {
    concat: (a, b) => ({
      truePositives: add(a.truePositives, b.truePositives),
      predicted: add(a.predicted, b.predicted),
      actual: add(a.actual, b.actual),
      logLoss: a.logLoss + b.logLoss,
      count: a.count + b.count,
    }),
    empty: { truePositives: zeros(), predicted: zeros(), actual: zeros(), logLoss: 0, count: 0 },
  }
}

/** Log probabilities are clipped at this (River's and scikit-learn's 1e-15), so one sure miss is finite. */
const P_MIN = 1e-15

/** The score of one example: its label, the predicted class, and p(label) under the model. */
export const classScore = (classes: number, label: number, predicted: number, pLabel: number): ClassScore => {
  if (!(Number.isInteger(label) && label >= 0 && label < classes)) throw new GradstreamError(`classScore: expected a label in 0..${classes - 1}, got ${label}`)
  if (!(Number.isInteger(predicted) && predicted >= 0 && predicted < classes))
    throw new GradstreamError(`classScore: expected a predicted class in 0..${classes - 1}, got ${predicted}`)
  const one = (i: number): number[] => Array.from({ length: classes }, (_, c) => (c === i ? 1 : 0))
  return {
    truePositives: label === predicted ? one(label) : new Array<number>(classes).fill(0),
    predicted: one(predicted),
    actual: one(label),
    logLoss: -Math.log(Math.min(1, Math.max(P_MIN, pLabel))),
    count: 1,
  }
}

/**
 * The score of a batch of n examples: their labels and predicted classes, and the summed
 * -log p(label) (the batch's cross-entropy times n, as the prequential loss has it).
 */
export const classScoreOfBatch = (classes: number, labels: ArrayLike<number>, predicted: ArrayLike<number>, n: number, logLossSum: number): ClassScore => {
  const truePositives = new Array<number>(classes).fill(0)
  const byPrediction = new Array<number>(classes).fill(0)
  const actual = new Array<number>(classes).fill(0)
  for (let i = 0; i < n; i++) {
    const l = labels[i]
    const p = predicted[i]
    if (!(Number.isInteger(l) && l >= 0 && l < classes && Number.isInteger(p) && p >= 0 && p < classes))
      throw new GradstreamError(`classScoreOfBatch: expected labels and predictions in 0..${classes - 1}, got ${l} and ${p}`)
    actual[l]++
    byPrediction[p]++
    if (l === p) truePositives[l]++
  }
  return { truePositives, predicted: byPrediction, actual, logLoss: logLossSum, count: n }
}

export const accuracyOfScore = (s: ClassScore): number => (s.count === 0 ? NaN : s.truePositives.reduce((a, b) => a + b, 0) / s.count)
export const logLossOf = (s: ClassScore): number => (s.count === 0 ? NaN : s.logLoss / s.count)
export const macroF1 = (s: ClassCounts): number => {
  let sum = 0
  let present = 0
  for (let c = 0; c < s.actual.length; c++) {
    const d = s.predicted[c] + s.actual[c]
    if (d === 0) continue
    sum += (2 * s.truePositives[c]) / d
    present++
  }
  return present === 0 ? NaN : sum / present
}

// ---- over a stream ---------------------------------------------------------------------

/** The concat of the last `window` values (all values so far, without a window) after each value. */
export const rolling =
  <A>(M: Monoid<A>, window?: number): OperatorFunction<A, A> =>
  (source) =>
    new Observable<A>((subscriber) => {
      const w = window === undefined ? undefined : slidingWindow(M, window)
      let total = M.empty
      return source.subscribe({
        next: (a) => {
          if (w === undefined) {
            total = M.concat(total, a)
            subscriber.next(total)
          } else {
            w.push(a)
            subscriber.next(w.value())
          }
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      })
    })
