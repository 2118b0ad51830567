// Snapshots: the immutable state of a training run after a step (DESIGN.md, "Training is
// a stream"). All parameters live in one Float32Array (`flat`) and `params` is a tree
// of views into it, so a snapshot is one copy, and hashing, saving and the optimizer
// are single passes. The record is frozen by immer; the typed arrays cannot be frozen,
// so they are immutable by discipline: nothing writes to an array after it is placed in
// a snapshot (tested by hashing bytes before and after further steps).
//
// Keys. The run key `key` never changes; every draw derives from it:
//   init                 foldIn(key, 0)
//   shuffle of epoch e   foldIn(foldIn(key, 1), e)
//   step s               foldIn(foldIn(key, 2), s), then per use:
//     forward noise        foldIn(stepKey, 0)    (RReLU slopes, denoising masks; shard i of
//                                                 a sharded step: foldIn(that, i))
//     model sampling       foldIn(stepKey, 2)    (RBM Gibbs chains)
//   augmentation of batch (e, p)  foldIn(foldIn(foldIn(key, 3), e), p)   (streams/augment.ts:
//                        keyed by the batch's coordinates, so a replayed batch is the same)

import { createHash } from 'node:crypto'
import { freeze } from 'immer'
import type { Key } from '../core/rng.ts'
import { foldIn } from '../core/rng.ts'
import type { OptState } from '../models/optimizers.ts'
import type { Layout, Params } from '../core/tree.ts'
import { unravel } from '../core/tree.ts'
import { guardSnapshot } from './immutable-guard.ts'

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
  /** Optimizer state; its slots hold flat buffers shaped like `flat` (leaf `all`). */
  readonly opt: OptState
  /** Model state beyond parameters (e.g. an RBM's persistent chains), or null. */
  readonly modelState: unknown
  /** The run key (constant through a run). */
  readonly key: Key
  /** Learning rate used by the step that produced this snapshot. */
  readonly lr: number
  readonly metrics: StepMetrics
}

export const KEY_INIT = 0
export const KEY_SHUFFLE = 1
export const KEY_STEP = 2

export const initKey = (k: Key): Key => foldIn(k, KEY_INIT)
export const shuffleKey = (k: Key, epoch: number): Key => foldIn(foldIn(k, KEY_SHUFFLE), epoch)
export const stepKey = (k: Key, step: number): Key => foldIn(foldIn(k, KEY_STEP), step)
export const forwardKey = (k: Key, step: number): Key => foldIn(stepKey(k, step), 0)
export const augmentKey = (k: Key, step: number): Key => foldIn(stepKey(k, step), 1)
export const samplingKey = (k: Key, step: number): Key => foldIn(stepKey(k, step), 2)

/** Freezes the record (not the typed arrays) and returns it. */
export const makeSnapshot = (s: Omit<Snapshot, 'params'> & { params?: Params }): Snapshot =>
  guardSnapshot(freeze({ ...s, params: s.params ?? unravel(s.layout, s.flat) }, true) as Snapshot)

/** SHA-256 of the raw little-endian parameter bytes, as hex: the identity of a state. */
export const hashBytes = (data: ArrayBufferView): string =>
  createHash('sha256').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex')

export const hashParams = (s: Pick<Snapshot, 'flat'>): string => hashBytes(s.flat)
