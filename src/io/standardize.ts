// Feature scaling fitted on training rows and applied, unchanged, to every later input
// (test split, evaluation files, records to predict): x' = (x - offset) / scale per feature.
//
//   'standard'  offset = mean, scale = standard deviation (population, 1 when a feature is
//               constant): inputs of mean 0 and variance 1 for networks (MLPs)
//   'minmax'    offset = min, scale = max - min (1 when constant): inputs in [0, 1] on the
//               training rows, for models whose visible units are probabilities (the RBM's
//               Bernoulli units, the autoencoder's sigmoid reconstruction)
//   'range'     one min and max over every feature (the same offset and scale for all):
//               pixel intensities, which share one scale, into [0, 1]
//
// Sums are carried in double precision in row order, so a fit is the same bits on every
// machine; the fitted numbers are plain doubles that survive JSON exactly (run directories
// and checkpoint metadata store them, and evaluation never refits).

import { GradstreamError } from '../core/errors.ts'
import type { Tensor } from '../core/tensor.ts'
import { size } from '../core/tensor.ts'

export type ScalingKind = 'standard' | 'minmax' | 'range'
export const SCALING_KINDS: readonly ScalingKind[] = ['standard', 'minmax', 'range']

export interface Scaling {
  readonly kind: ScalingKind
  readonly offset: readonly number[]
  readonly scale: readonly number[]
}

/** Rows [N, ...] as N x F, checked. */
const dims = (x: Tensor, what: string, minRows: number): { N: number; F: number } => {
  const N = x.shape[0]
  const F = size(x.shape.slice(1))
  if (x.shape.length < 2 || !(N >= minRows) || F < 1)
    throw new GradstreamError(`${what}: expected rows [N, F] with N >= ${minRows}, got shape [${x.shape.join(', ')}]`)
  return { N, F }
}

/** Fits a scaling of the given kind on the rows of x [N, F]. */
export const fitScaling = (x: Tensor, kind: ScalingKind): Scaling => {
  const { N, F } = dims(x, 'fitScaling', 1)
  const d = x.data
  const offset = new Array<number>(F).fill(0)
  const scale = new Array<number>(F).fill(0)
  if (kind === 'standard') {
    for (let i = 0; i < N; i++) for (let f = 0; f < F; f++) offset[f] += d[i * F + f] / N
    for (let i = 0; i < N; i++) for (let f = 0; f < F; f++) scale[f] += (d[i * F + f] - offset[f]) ** 2 / N
    for (let f = 0; f < F; f++) scale[f] = Math.sqrt(scale[f]) || 1
  } else {
    const max = new Array<number>(F).fill(-Infinity)
    offset.fill(Infinity)
    for (let i = 0; i < N; i++)
      for (let f = 0; f < F; f++) {
        const v = d[i * F + f]
        if (v < offset[f]) offset[f] = v
        if (v > max[f]) max[f] = v
      }
    for (let f = 0; f < F; f++) scale[f] = max[f] - offset[f] || 1
    if (kind === 'range') {
      const lo = Math.min(...offset)
      const hi = Math.max(...max)
      offset.fill(lo)
      scale.fill(hi - lo || 1)
    }
  }
  return { kind, offset, scale }
}

/** Scales the rows of x [N, F] in place (x must be an array the caller owns). */
export const scaleInPlace = (x: Tensor, s: Scaling): void => {
  const { F } = dims(x, 'scaling', 0)
  if (F !== s.offset.length)
    throw new GradstreamError(`scaling: expected rows of ${s.offset.length} features (as fitted), got ${F}`)
  const d = x.data
  for (let i = 0; i < d.length; i++) d[i] = (d[i] - s.offset[i % F]) / s.scale[i % F]
}

/** The rows of x [N, F] scaled, in a new tensor of the same dtype. */
export const applyScaling = (x: Tensor, s: Scaling): Tensor => {
  const out: Tensor = { shape: x.shape, data: x.data.slice() }
  scaleInPlace(out, s)
  return out
}

/** A scaling read back from JSON (config.json, checkpoint metadata): checked, never trusted. */
export const scalingFromJson = (v: unknown, where: string): Scaling => {
  const bad = (what: string): never => {
    throw new GradstreamError(`${where}: expected ${what}`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('a scaling object {kind, offset, scale}')
  const o = v as Record<string, unknown>
  if (!SCALING_KINDS.includes(o.kind as ScalingKind)) bad(`"kind" to be one of ${SCALING_KINDS.join(', ')}`)
  const nums = (k: string, ok: (n: number) => boolean): number[] => {
    const a = o[k]
    return Array.isArray(a) && a.length > 0 && a.every((n) => typeof n === 'number' && Number.isFinite(n) && ok(n))
      ? (a as number[])
      : bad(`"${k}" to be a non-empty array of finite numbers${k === 'scale' ? ' > 0' : ''}`)
  }
  const offset = nums('offset', () => true)
  const scale = nums('scale', (n) => n > 0)
  if (offset.length !== scale.length) bad('"offset" and "scale" of the same length')
  return { kind: o.kind as ScalingKind, offset, scale }
}
