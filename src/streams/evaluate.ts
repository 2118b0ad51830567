// Evaluation on held-out data: loss, accuracy and confusion matrix, accumulated through
// the metric Monoids; and the operator that evaluates a snapshot stream every epoch.

import type { OperatorFunction } from 'rxjs'
import { map } from 'rxjs'
import type { AnyObjective } from '../models/objective.ts'
import type { Params } from '../core/tree.ts'
import { argmaxRows } from '../core/tensor.ts'
import type { Confusion, Mean } from './metrics.ts'
import { accuracyOf, confusionMonoid, confusionOf, mean, MeanMonoid } from './metrics.ts'
import type { Snapshot } from './snapshot.ts'
import type { Dataset } from './source.ts'
import { warmUpKernels } from '../ops/warm-up.ts'
import { gather, numClasses } from './source.ts'

export interface Evaluation {
  /** Mean loss per sample (batch losses weighted by batch size). */
  readonly loss: number
  /** Accuracy and confusion when the data has labels. */
  readonly accuracy?: number
  readonly confusion?: Confusion
  readonly samples: number
}

/** Evaluates parameters on a data set in batches (evaluation mode: no noise). */
export const evaluate = (objective: AnyObjective, params: Params, data: Dataset, batchSize = 500): Evaluation => {
  warmUpKernels()
  const N = data.x.shape[0]
  const classifies = objective.task === 'classification' && data.labels !== undefined
  const C = classifies ? numClasses(data) : 0
  const CM = confusionMonoid(C)
  let loss: Mean = MeanMonoid.empty
  let confusion: Confusion = CM.empty
  const evalCtx = { training: false, key: { k0: 0, k1: 0 } }
  for (let start = 0; start < N; start += batchSize) {
    const idx = Int32Array.from({ length: Math.min(batchSize, N - start) }, (_, i) => start + i)
    const batch = gather(data, idx, 0, 0)
    const fwd = objective.forward(params, null, batch, evalCtx)
    loss = MeanMonoid.concat(loss, { sum: fwd.loss * idx.length, count: idx.length })
    if (classifies && batch.labels) confusion = CM.concat(confusion, confusionOf(C, batch.labels, argmaxRows(fwd.outputs)))
  }
  return classifies
    ? { loss: mean(loss), accuracy: accuracyOf(confusion), confusion, samples: N }
    : { loss: mean(loss), samples: N }
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
    return due ? { ...s, evaluation: evaluate(objective, s.params, data, options.batchSize) } : s
  })
