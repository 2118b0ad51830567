// Small synthetic data sets for tests (deterministic, from keys).

import { key, normal, split } from '../src/core/rng.ts'
import type { Dataset } from '../src/streams/source.ts'
import type { Snapshot } from '../src/core/snapshot.ts'
import { leaves } from '../src/core/tree.ts'
import { hashBytes } from '../src/streams/snapshot.ts'

/** C Gaussian blobs in D dimensions, n per class, centres 3 apart: separable. */
export const blobs = (n: number, C = 3, D = 4, seed = 0): Dataset => {
  const [kc, kx] = split(key(seed), 2)
  const centres = normal(kc, C * D, 'float64', 0, 3)
  const z = normal(kx, n * C * D, 'float64', 0, 0.5)
  const x = new Float32Array(n * C * D)
  const labels = new Int32Array(n * C)
  for (let i = 0; i < n * C; i++) {
    const c = i % C
    labels[i] = c
    for (let d = 0; d < D; d++) x[i * D + d] = centres[c * D + d] + z[i * D + d]
  }
  return { x: { shape: [n * C, D], data: x }, labels, classes: C }
}

export { centralDifferences } from '../src/models/gradcheck.ts'

/** Every optimizer slot of a snapshot, tensor by tensor, hashed: `slot.path:sha256 ...`. */
export const slotsHash = (s: Snapshot): string =>
  Object.keys(s.opt.slots)
    .sort()
    .flatMap((slot) => leaves(s.opt.slots[slot]).map(([path, t]) => `${slot}.${path}:${hashBytes(t.data)}`))
    .join(' ')
