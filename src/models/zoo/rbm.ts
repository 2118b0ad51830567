// The zoo's RBM: Bernoulli-Bernoulli, 784 visible units for the flattened digits, CD-k
// or persistent CD (models/rbm-objective.ts).

import type { Shape } from '../../core/tensor.ts'
import { size } from '../../core/tensor.ts'
import type { RbmObjective } from '../rbm-objective.ts'
import { rbmObjective } from '../rbm-objective.ts'

export interface RbmZooOptions {
  /** Hidden units (default 128). */
  readonly hidden?: number
  /** Gibbs steps per update (default 1: CD-1). */
  readonly k?: number
  /** Persistent CD with one chain per batch row (default false). */
  readonly persistent?: boolean
  /** The training batch size: the number of persistent chains (default 32). */
  readonly batch?: number
  /** Mean pixel of the training data, for the visible bias (Hinton's guide, sec. 8). */
  readonly dataMean?: ArrayLike<number>
}

export const rbm = (o: RbmZooOptions, inShape: Shape): RbmObjective =>
  rbmObjective({
    visible: size(inShape),
    hidden: o.hidden ?? 128,
    k: o.k ?? 1,
    persistent: o.persistent ?? false,
    chains: o.batch ?? 32,
    dataMean: o.dataMean,
    inShape,
  })
