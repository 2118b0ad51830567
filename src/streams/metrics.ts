// Running metrics as Monoids (fp-ts): a metric over many batches is a fold with concat,
// so accumulating over batches, windows or workers is the same code.

import type { Monoid } from 'fp-ts/lib/Monoid.js'
import { concatAll } from 'fp-ts/lib/Monoid.js'

/** A sum and a count; the mean is sum / count. */
export interface Mean {
  readonly sum: number
  readonly count: number
}

export const MeanMonoid: Monoid<Mean> = {
  concat: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
  empty: { sum: 0, count: 0 },
}

export const mean = (m: Mean): number => (m.count === 0 ? NaN : m.sum / m.count)

/** A confusion matrix: counts[true][predicted], flattened C x C. */
export interface Confusion {
  readonly classes: number
  readonly counts: readonly number[]
}

export const confusionMonoid = (classes: number): Monoid<Confusion> => ({
  concat: (a, b) => ({ classes, counts: a.counts.map((v, i) => v + b.counts[i]) }),
  empty: { classes, counts: new Array<number>(classes * classes).fill(0) },
})

/** The confusion of one batch of predictions. */
export const confusionOf = (classes: number, labels: ArrayLike<number>, predicted: ArrayLike<number>): Confusion => {
  const counts = new Array<number>(classes * classes).fill(0)
  for (let i = 0; i < labels.length; i++) counts[labels[i] * classes + predicted[i]]++
  return { classes, counts }
}

export const accuracyOf = (c: Confusion): number => {
  let hit = 0
  let all = 0
  for (let t = 0; t < c.classes; t++)
    for (let p = 0; p < c.classes; p++) {
      const v = c.counts[t * c.classes + p]
      all += v
      if (t === p) hit += v
    }
  return all === 0 ? NaN : hit / all
}

/** Rows of the matrix, for printing. */
export const confusionRows = (c: Confusion): number[][] =>
  Array.from({ length: c.classes }, (_, t) => c.counts.slice(t * c.classes, (t + 1) * c.classes))

export { concatAll }
