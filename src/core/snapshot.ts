// The Snapshot record: the immutable state of a training run after a step (DESIGN.md,
// "Training is a stream"). It is a shared type (streams/ makes snapshots, io/ saves and
// loads them, the CLI prints them), so it lives in the bottom layer; the key derivation
// and hashing that go with it are in streams/snapshot.ts.
//
// All parameters live in one Float32Array (`flat`) and `params` is a tree of views into
// it, so a snapshot is one copy, and hashing, saving and the optimizer are single passes.
// The record is frozen by immer; the typed arrays cannot be frozen, so they are
// immutable by discipline: nothing writes to an array after it is placed in a snapshot
// (tested by hashing bytes before and after further steps).

import { freeze } from 'immer'
import type { OptState } from './opt-state.ts'
import type { Key } from './rng.ts'
import type { Layout, Params } from './tree.ts'
import { unravel } from './tree.ts'

export interface StepMetrics {
  /** Loss of the batch this step trained on (NaN for the initial snapshot). */
  readonly loss: number
  /** Fraction of the batch classified correctly, when the batch has labels. */
  readonly accuracy?: number
  /** Samples in the batch. */
  readonly samples: number
  /** Set when the update was skipped (non-finite loss or gradient); params are unchanged. */
  readonly skipped?: string
}

export interface Snapshot {
  /** Updates applied so far (0 = freshly initialised). */
  readonly step: number
  /** Epoch of the last batch (0-based), and batches of that epoch consumed so far. */
  readonly epoch: number
  readonly position: number
  /** True when the last batch was the final one of its epoch. */
  readonly endOfEpoch: boolean
  /** Samples seen since the start of the run. */
  readonly seen: number
  readonly params: Params
  readonly flat: Float32Array
  readonly layout: Layout
  /** Optimizer state; each slot is a tree shaped like `params` (per tensor). */
  readonly opt: OptState
  /** Model state beyond parameters (e.g. an RBM's persistent chains), or null. */
  readonly modelState: unknown
  /** The run key (constant through a run). */
  readonly key: Key
  /** Learning rate used by the step that produced this snapshot. */
  readonly lr: number
  readonly metrics: StepMetrics
}

/** Freezes the record (not the typed arrays) and returns it. */
export const makeSnapshot = (s: Omit<Snapshot, 'params'> & { params?: Params }): Snapshot =>
  freeze({ ...s, params: s.params ?? unravel(s.layout, s.flat) }, true) as Snapshot
