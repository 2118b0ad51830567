// What `gradstream train` prints at the end of each epoch, per task:
//   classification   train loss, test loss, test accuracy
//   rbm              reconstruction error on training and test digits, pseudo-log-likelihood
//                    on both, and the free-energy gap mean F(test) - mean F(train) (Hinton's
//                    guide, sec. 6: it grows when the RBM overfits)
//   other            train and test loss, and for autoencoders the reconstruction error
//                    (squared error summed over pixels, mean over images: 2 x the
//                    euclidean('mean') loss)
// Training-set numbers are measured in evaluation mode on a fixed subset (every k-th
// sample, as many as the test set up to 2,000) so that they compare with the test set's.

import { key } from '../core/rng.ts'
import type { AnyObjective } from '../models/objective.ts'
import { rbmMonitor } from '../models/rbm-objective.ts'
import type { Evaluated } from '../streams/evaluate.ts'
import { evaluate } from '../streams/evaluate.ts'
import type { Dataset } from '../streams/source.ts'
import { gather } from '../streams/source.ts'
import type { Tensor } from '../core/tensor.ts'

export type Monitor = { readonly [metric: string]: number }

export interface EpochReport {
  /** The epoch's line (without "epoch e/E: " and the time) and the numbers behind it. */
  readonly describe: (s: Evaluated, trainLoss: number) => { readonly text: string; readonly monitor?: Monitor }
  /** The final result for the last line: "test accuracy 98.10%", "test reconstruction error 19.07". */
  readonly final: (last: { readonly testAccuracy: number; readonly testLoss: number; readonly monitor?: Monitor } | undefined) => string
}

const MONITOR_SAMPLES = 2000
/** The pseudo-log-likelihood flips the same units every epoch. */
const MONITOR_KEY = key(0)

/** Every k-th sample of ds, n of them. */
const subset = (ds: Dataset, n: number): Tensor => {
  const N = ds.x.shape[0]
  const count = Math.min(n, N)
  const stride = N / count
  return gather({ x: ds.x }, Int32Array.from({ length: count }, (_, i) => Math.floor(i * stride)), 0, 0).x
}

const pct = (v: number): string => `${(100 * v).toFixed(2)}%`
const f2 = (v: number): string => v.toFixed(2)

export const epochReport = (objective: AnyObjective, train: Dataset, test: Dataset): EpochReport => {
  if (objective.task === 'classification')
    return {
      describe: (s, trainLoss) => ({
        text: `train loss ${trainLoss.toFixed(4)}, test loss ${(s.evaluation?.loss ?? NaN).toFixed(4)}, test accuracy ${pct(s.evaluation?.accuracy ?? NaN)}`,
      }),
      final: (last) => `test accuracy ${pct(last?.testAccuracy ?? NaN)}`,
    }
  const n = Math.min(MONITOR_SAMPLES, test.x.shape[0])
  const trainX = subset(train, n)
  const testX = subset(test, n)
  const finalRecon: EpochReport['final'] = (last) => `test reconstruction error ${f2(last?.monitor?.reconTest ?? NaN)}`
  if (objective.spec.kind === 'rbm')
    return {
      describe: (s) => {
        const m = rbmMonitor(s.params, trainX, testX, MONITOR_KEY)
        return {
          text:
            `reconstruction error train ${f2(m.reconTrain)} / test ${f2(m.reconTest)}, ` +
            `pseudo-log-likelihood train ${f2(m.pllTrain)} / test ${f2(m.pllTest)}, ` +
            `free-energy gap ${m.freeEnergyGap >= 0 ? '+' : ''}${f2(m.freeEnergyGap)}`,
          monitor: { ...m },
        }
      },
      final: finalRecon,
    }
  // The loss of the objective (of the inner one when images are read as vectors).
  const spec = objective.spec.kind === 'flattened' ? (objective.spec.objective as typeof objective.spec) : objective.spec
  const loss = spec.loss as { readonly type?: unknown; readonly reduction?: unknown } | undefined
  if (objective.task === 'reconstruction' && loss?.type === 'euclidean' && loss.reduction === 'mean') {
    // euclidean('mean'): loss = 1/2 sum (r - x)^2 / B, half the reconstruction error.
    const scale = 2
    return {
      describe: (s, trainLoss) => {
        const reconTrain = scale * evaluate(objective, s.params, { x: trainX }).loss
        const reconTest = scale * (s.evaluation?.loss ?? NaN)
        return {
          text: `train loss ${trainLoss.toFixed(4)}, test loss ${(s.evaluation?.loss ?? NaN).toFixed(4)}, reconstruction error train ${f2(reconTrain)} / test ${f2(reconTest)}`,
          monitor: { reconTrain, reconTest },
        }
      },
      final: finalRecon,
    }
  }
  return {
    describe: (s, trainLoss) => ({ text: `train loss ${trainLoss.toFixed(4)}, test loss ${(s.evaluation?.loss ?? NaN).toFixed(4)}` }),
    final: (last) => `test loss ${(last?.testLoss ?? NaN).toFixed(4)}`,
  }
}
