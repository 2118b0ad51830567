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

import type { Key } from '../core/rng.ts'
import { foldIn } from '../core/rng.ts'
import { sha256Hex } from '../core/sha256.ts'
import type { Snapshot } from '../core/snapshot.ts'

export type { Snapshot, StepMetrics } from '../core/snapshot.ts'
export { makeSnapshot } from '../core/snapshot.ts'

export const KEY_INIT = 0
export const KEY_SHUFFLE = 1
export const KEY_STEP = 2

export const initKey = (k: Key): Key => foldIn(k, KEY_INIT)
export const shuffleKey = (k: Key, epoch: number): Key => foldIn(foldIn(k, KEY_SHUFFLE), epoch)
export const stepKey = (k: Key, step: number): Key => foldIn(foldIn(k, KEY_STEP), step)
export const forwardKey = (k: Key, step: number): Key => foldIn(stepKey(k, step), 0)
export const augmentKey = (k: Key, step: number): Key => foldIn(stepKey(k, step), 1)
export const samplingKey = (k: Key, step: number): Key => foldIn(stepKey(k, step), 2)

/** SHA-256 of the raw little-endian parameter bytes, as hex: the identity of a state. */
export const hashBytes = (data: ArrayBufferView): string => sha256Hex(data)

export const hashParams = (s: Pick<Snapshot, 'flat'>): string => hashBytes(s.flat)
