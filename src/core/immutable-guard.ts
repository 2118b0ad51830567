// The snapshot immutability guard (GRADSTREAM_CHECK_IMMUTABLE=1).
//
// A Snapshot is frozen by immer, but typed arrays cannot be frozen: user code that writes
// `snapshot.params.fc1.W.data[0] = 1` changes the snapshot's bytes, its hash, and every
// replay, checkpoint and fork made from it afterwards. By contract nothing writes to an
// array once it is in a snapshot (DESIGN.md, "Training is a stream"); this guard makes a
// breach loud instead of silent:
//
//   - when a snapshot is made (makeSnapshot), the guard fingerprints its parameter bytes
//     (`flat`, which every tensor of `params` is a view of) and remembers the fingerprint in
//     a WeakMap keyed by that array: copies of the record ({ ...s, evaluation }) share it,
//     and no reference is kept (snapshots are collected as before);
//   - when a snapshot is used again - saved as a checkpoint, replayed or forked from,
//     given to train as `initial` - the fingerprint is recomputed and compared, and a
//     difference throws a GradstreamError naming the step and where it was noticed.
//
// The fingerprint is two 32-bit multiplicative hashes over the arrays' bytes (~0.1 ms for
// 35,000 parameters): not cryptographic, but any write of a different value changes it.
// Off by default (it costs one pass over the parameters per step); on when the process
// starts with GRADSTREAM_CHECK_IMMUTABLE=1 (the test suite sets it in vitest.config.ts),
// or with setImmutabilityCheck(true).

import { GradstreamError } from './errors.ts'

let enabled = ((globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.GRADSTREAM_CHECK_IMMUTABLE ?? '') === '1'

/** Turns the guard on or off (for this process); returns the previous setting. */
export const setImmutabilityCheck = (on: boolean): boolean => {
  const was = enabled
  enabled = on
  return was
}

export const immutabilityCheckEnabled = (): boolean => enabled

const seen = new WeakMap<ArrayBufferView, string>()

interface Guarded {
  readonly flat: ArrayBufferView
  readonly step?: number
}

/** Two 32-bit multiplicative hashes of the bytes of `arrays`, as hex. */
export const fingerprint = (arrays: readonly ArrayBufferView[]): string => {
  let h1 = 0x811c9dc5 | 0
  let h2 = 0x9e3779b9 | 0
  for (const a of arrays) {
    const n4 = a.byteLength >>> 2
    const words = (a.byteOffset & 3) === 0 ? new Int32Array(a.buffer, a.byteOffset, n4) : undefined
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
    if (words !== undefined)
      for (let i = 0; i < n4; i++) {
        const w = words[i]
        h1 = Math.imul(h1 ^ w, 0x01000193)
        h2 = Math.imul(h2 + w, 0x85ebca6b) ^ (h2 >>> 13)
      }
    for (let i = words !== undefined ? n4 * 4 : 0; i < bytes.length; i++) {
      h1 = Math.imul(h1 ^ bytes[i], 0x01000193)
      h2 = Math.imul(h2 + bytes[i], 0x85ebca6b) ^ (h2 >>> 13)
    }
    h1 = Math.imul(h1 ^ a.byteLength, 0x01000193)
  }
  return `${(h1 >>> 0).toString(16).padStart(8, '0')}${(h2 >>> 0).toString(16).padStart(8, '0')}`
}

/** Remembers the fingerprint of a snapshot just made (when the guard is on). */
export const guardSnapshot = <T extends Guarded>(snapshot: T): T => {
  // The first registration is the truth: a later snapshot sharing the array (a fork with
  // new optimizer state) has the same parameters by construction.
  if (enabled && !seen.has(snapshot.flat)) seen.set(snapshot.flat, fingerprint([snapshot.flat]))
  return snapshot
}

/**
 * Throws if a guarded snapshot's arrays changed since it was made. `where` names the use
 * (e.g. "saving a checkpoint"). Snapshots made while the guard was off pass.
 */
export const verifySnapshot = (snapshot: Guarded, where: string): void => {
  if (!enabled) return
  const before = seen.get(snapshot.flat)
  if (before === undefined) return
  if (fingerprint([snapshot.flat]) !== before) {
    throw new GradstreamError(
      `snapshot at step ${String(snapshot.step)} was changed after it was made (found when ${where}): ` +
        'its typed arrays are read-only by contract; copy them (e.g. data.slice()) before writing',
    )
  }
}
