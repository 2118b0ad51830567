// The data types every layer above shares: a minibatch, an in-memory data set, and a
// source of minibatches (DESIGN.md, Layout: core holds the shared types). The code
// that makes and consumes them lives higher up (io/ reads data sets, streams/ pulls
// batches, models/ computes on them).

import type { Key } from './rng.ts'
import type { Shape, Tensor } from './tensor.ts'

/** A minibatch: inputs, targets, and where it came from. */
export interface Batch {
  /** Inputs [B, ...sample]. */
  readonly x: Tensor
  /** Targets: one-hot or soft rows [B, C] for classifiers, any tensor for regression. */
  readonly y: Tensor
  /** Class indices when the task is classification (for accuracy and confusion). */
  readonly labels?: Int32Array
  /** Epoch (0-based) and batch number within it: enough to recompute the batch. */
  readonly epoch: number
  readonly position: number
}

/** An in-memory data set: inputs [N, ...], and labels (classification) or targets. */
export interface Dataset {
  readonly x: Tensor
  /** Class index per sample. */
  readonly labels?: Int32Array
  /** Number of classes (for one-hot targets); default max(label) + 1. */
  readonly classes?: number
  /** Explicit targets [N, ...] (regression, soft labels); overrides one-hot labels. */
  readonly targets?: Tensor
  /** Class names, if the labels came from strings. */
  readonly classNames?: readonly string[]
}

export interface BatchSource {
  /** Per-sample input shape. */
  readonly sampleShape: Shape
  /** Batches per epoch, when known (arrays), for progress and ETA. */
  readonly batchesPerEpoch?: number
  /** Samples per epoch, when known. */
  readonly samplesPerEpoch?: number
  /** The batches of epoch `epoch`, starting at batch `from` (for resuming mid-epoch). */
  epoch(epoch: number, key: Key, from?: number): Iterable<Batch> | AsyncIterable<Batch>
}
