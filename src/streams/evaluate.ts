// Evaluation on held-out data: loss, accuracy and confusion matrix, accumulated through
// the metric Monoids; and the operator that evaluates a snapshot stream every epoch.

import type { OperatorFunction } from 'rxjs'
import { map } from 'rxjs'
import type { AnyObjective } from '../models/objective.ts'
import type { Params } from '../core/tree.ts'
import { argmaxRows } from '../core/tensor.ts'
import type { Confusion, Mean } from './metrics.ts'
import { accuracyOf, mean, MeanMonoid } from './metrics.ts'
import type { Snapshot } from './snapshot.ts'
import type { Dataset } from './source.ts'
import { gather, numClasses } from './source.ts'

export interface Evaluation {
  /** Mean loss per sample (batch losses weighted by batch size). */
  readonly loss: number
  /** Accuracy and confusion when the data has labels. */
  readonly accuracy?: number
  readonly confusion?: Confusion
  /** Why there is no confusion matrix although there is an accuracy (too many classes). */
  readonly confusionSkipped?: string
  readonly samples: number
}

/**
 * Above this many classes no confusion matrix is kept: it has classes^2 counts (10,000
 * classes: 10^8 numbers, 800 MB), while accuracy needs only a hit count. Memory stays
 * bounded by the model and the batch whatever the number of classes (issue 12).
 */
export const MAX_CONFUSION_CLASSES = 1000

/**
 * Evaluates parameters on a data set in batches (evaluation mode: no noise), with the
 * model state (a snapshot's modelState: batch norm's running statistics) when it has one.
 */
export const evaluate = (objective: AnyObjective, params: Params, data: Dataset, batchSize = 500, state: unknown = null): Evaluation => {
  const N = data.x.shape[0]
  const classifies = objective.task === 'classification' && data.labels !== undefined
  const C = classifies ? numClasses(data) : 0
  const keepConfusion = classifies && C <= MAX_CONFUSION_CLASSES
  // One matrix for the whole evaluation, counted into in place (a fold whose accumulator
  // is private to this call), not one C x C array per batch.
  const counts = keepConfusion ? new Float64Array(C * C) : undefined
  let hits = 0
  let loss: Mean = MeanMonoid.empty
  const evalCtx = { training: false, key: { k0: 0, k1: 0 } }
  for (let start = 0; start < N; start += batchSize) {
    const idx = Int32Array.from({ length: Math.min(batchSize, N - start) }, (_, i) => start + i)
    const batch = gather(data, idx, 0, 0)
    const fwd = objective.forward(params, state, batch, evalCtx)
    loss = MeanMonoid.concat(loss, { sum: fwd.loss * idx.length, count: idx.length })
    if (classifies && batch.labels) {
      const predicted = argmaxRows(fwd.outputs)
      for (let i = 0; i < predicted.length; i++) {
        const t = batch.labels[i]
        if (t === predicted[i]) hits++
        if (counts !== undefined) counts[t * C + predicted[i]]++
      }
    }
  }
  if (!classifies) return { loss: mean(loss), samples: N }
  const accuracy = N === 0 ? NaN : hits / N
  if (counts === undefined)
    return { loss: mean(loss), accuracy, samples: N, confusionSkipped: `${C} classes: no confusion matrix above ${MAX_CONFUSION_CLASSES}` }
  const confusion: Confusion = { classes: C, counts: Array.from(counts) }
  return { loss: mean(loss), accuracy: accuracyOf(confusion), confusion, samples: N }
}

export type Evaluated = Snapshot & { readonly evaluation?: Evaluation }

/**
 * Adds `evaluation` to every end-of-epoch snapshot (and, with `every`, to every
 * `every`-th step); other snapshots pass through unchanged.
 */
export const evaluateEvery = (
  objective: AnyObjective,
  data: Dataset,
  options: { readonly every?: number; readonly batchSize?: number } = {},
): OperatorFunction<Snapshot, Evaluated> =>
  map((s: Snapshot): Evaluated => {
    const due = s.endOfEpoch || (options.every !== undefined && s.step > 0 && s.step % options.every === 0)
    return due ? { ...s, evaluation: evaluate(objective, s.params, data, options.batchSize, s.modelState) } : s
  })
