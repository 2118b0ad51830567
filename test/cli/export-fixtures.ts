// Checkpoints of untrained networks for export tests (no training needed to check layouts).

import * as E from 'fp-ts/lib/Either.js'
import { key, normal } from '../../src/core/rng.ts'
import { saveCheckpoint } from '../../src/io/checkpoint-file.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { sgd } from '../../src/models/optimizers.ts'
import { initialSnapshot } from '../../src/streams/train.ts'

/** A checkpoint of `objective` at init, with every bias-like tensor (b, beta, a) made non-trivial. */
export const checkpointOf = (objective: AnyObjective, path: string, seed: number): void => {
  const optimizer = sgd(0.1)
  const s = initialSnapshot(objective, optimizer, key(seed))
  if (E.isLeft(s)) throw s.left
  const snap = s.right
  snap.layout.names.forEach((name, i) => {
    if (!/\.(b|beta|a)$/.test(name)) return
    const off = snap.layout.offsets[i]
    const n = snap.layout.shapes[i].reduce((a, b) => a * b, 1)
    const r = normal(key(seed + i), n, 'float32', 0, 0.5)
    for (let j = 0; j < n; j++) snap.flat[off + j] = /\.a$/.test(name) ? 2 + Math.abs(r[j]) * 4 : r[j]
  })
  saveCheckpoint(path, snap, { model: objective.spec, optimizer: optimizer.spec })
}

