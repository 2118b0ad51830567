// Data augmentation as operators on the minibatch stream. Draws come from the run key
// and the batch's coordinates (epoch, position), so a replayed batch is augmented
// exactly as it was the first time, whatever happened before it.

import type { MonoTypeOperatorFunction } from 'rxjs'
import { map } from 'rxjs'
import { GradstreamError } from '../core/errors.ts'
import type { Batch } from '../models/objective.ts'
import type { Key } from '../core/rng.ts'
import { bits, foldIn, intBelow } from '../core/rng.ts'
import type { F } from '../core/tensor.ts'
import { showShape } from '../core/tensor.ts'

const AUGMENT = 3

/** The key for augmenting batch (epoch, position) of a run. */
export const batchAugmentKey = (key: Key, epoch: number, position: number): Key =>
  foldIn(foldIn(foldIn(key, AUGMENT), epoch), position)

// out[b, i, j, c] = x[b, i - dy_b, j - dx_b, c], zero outside the image.
export function shiftImages(out: F, x: F, shifts: Int32Array, B: number, H: number, W: number, C: number): void {
  out.fill(0)
  for (let b = 0; b < B; b++) {
    const dy = shifts[2 * b]
    const dx = shifts[2 * b + 1]
    const base = b * H * W * C
    for (let i = Math.max(0, dy); i < Math.min(H, H + dy); i++) {
      const src = base + ((i - dy) * W + Math.max(0, -dx)) * C
      const dst = base + (i * W + Math.max(0, dx)) * C
      const len = (W - Math.abs(dx)) * C
      for (let k = 0; k < len; k++) out[dst + k] = x[src + k]
    }
  }
}

/**
 * Random translations of NHWC images by up to `maxShift` pixels in each direction
 * (uniform integers in [-maxShift, maxShift] per image and axis), zero fill.
 */
export const randomShift = (maxShift: number, key: Key): MonoTypeOperatorFunction<Batch> => {
  if (!(Number.isInteger(maxShift) && maxShift >= 0))
    throw new GradstreamError(`randomShift: expected maxShift to be a non-negative integer, got ${maxShift}`)
  return map((batch: Batch): Batch => {
    if (maxShift === 0) return batch
    const s = batch.x.shape
    if (s.length !== 4) throw new GradstreamError(`randomShift: expected NHWC images [B, H, W, C], got ${showShape(s)}`)
    const [B, H, W, C] = s
    const w = bits(batchAugmentKey(key, batch.epoch, batch.position), 2 * B)
    const shifts = Int32Array.from(w, (v) => intBelow(v, 2 * maxShift + 1) - maxShift)
    const out = new Float32Array(batch.x.data.length)
    shiftImages(out, batch.x.data, shifts, B, H, W, C)
    const x = { shape: s, data: out }
    // An autoencoder's target is its input: keep them the same tensor.
    return { ...batch, x, y: batch.y === batch.x ? x : batch.y }
  })
}
