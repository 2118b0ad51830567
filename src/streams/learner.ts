// A learner: predict-then-learn on small batches from a starting snapshot, with private
// working state and immutable snapshots out (online.ts drives it).

import type { Snapshot } from '../core/snapshot.ts'

export interface LearnOutcome {
  /** Loss of the batch before the update (the prequential loss). */
  readonly loss: number
  /** Correct predictions in the batch (made before the update); NaN without classes. */
  readonly hits: number
  readonly skipped?: 'non-finite loss' | 'non-finite gradient'
}

/**
 * Predict-then-learn on batches, from a starting snapshot. A learner owns private
 * working state; `snapshot()` returns an immutable Snapshot of the current state (the
 * same object until the next `learn`).
 */
export interface Learner {
  /** Whether this learner runs the fused batch-1 step (fused-sgd.ts). */
  readonly fused: boolean
  /** Output classes of a classifier (0 otherwise). */
  readonly classes: number
  /** x: k examples, flat (k * features); labels: their classes (classifiers). */
  learn(x: Float32Array, labels: Int32Array | undefined, k: number): LearnOutcome
  snapshot(): Snapshot
}
