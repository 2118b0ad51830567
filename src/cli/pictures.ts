// Pictures of a trained RBM or autoencoder, written into the run directory:
//   filters.png          one tile per hidden unit j: column j of W [m, n] as a 28x28
//                        image, scaled to its own min (black) .. max (white)
//   reconstructions.png  test digits, each input beside its reconstruction (pixel
//                        values 0..1 as black..white, not rescaled), two per class

import { join } from 'node:path'
import { GradstreamError } from '../core/errors.ts'
import type { GrayImage } from '../io/png.ts'
import { writePng } from '../io/png.ts'
import type { AnyObjective } from '../models/objective.ts'
import type { Dataset } from '../streams/source.ts'
import type { F, Tensor } from '../core/tensor.ts'
import { showShape, size } from '../core/tensor.ts'
import type { Params } from '../core/tree.ts'
import { getLeaf } from '../core/tree.ts'

/** Separator between tiles. */
const GAP_GRAY = 96

export interface TileLayout {
  /** Tile height and width in values (before scaling). */
  readonly tile: readonly [number, number]
  readonly cols: number
  /** Pixels between tiles (before scaling; default 1), and the magnification (default 2). */
  readonly gap?: number
  readonly scale?: number
}

/**
 * A grid of tiles. `tiles[t]` holds tile t's h*w values, row-major, already mapped to
 * 0..255 (numbers outside are clamped).
 */
export const tileGrid = (tiles: readonly ArrayLike<number>[], layout: TileLayout): GrayImage => {
  const [h, w] = layout.tile
  const gap = layout.gap ?? 1
  const s = layout.scale ?? 2
  const cols = Math.max(1, Math.min(layout.cols, tiles.length))
  const rowsOfTiles = Math.max(1, Math.ceil(tiles.length / cols))
  const W = (cols * (w + gap) + gap) * s
  const H = (rowsOfTiles * (h + gap) + gap) * s
  const pixels = new Uint8Array(W * H).fill(GAP_GRAY)
  tiles.forEach((t, k) => {
    if (t.length !== h * w) throw new GradstreamError(`pictures: expected tiles of ${h}x${w} values, got ${t.length}`)
    const x0 = gap + (k % cols) * (w + gap)
    const y0 = gap + Math.floor(k / cols) * (h + gap)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const v = Math.max(0, Math.min(255, Math.round(t[y * w + x])))
        for (let dy = 0; dy < s; dy++) pixels.fill(v, ((y0 + y) * s + dy) * W + (x0 + x) * s, ((y0 + y) * s + dy) * W + (x0 + x + 1) * s)
      }
  })
  return { width: W, height: H, pixels }
}

/** The image shape of m values: 28x28 digits, any square, else one row. */
export const tileShape = (m: number): [number, number] => {
  const r = Math.round(Math.sqrt(m))
  return r * r === m ? [r, r] : [1, m]
}

/** Columns for n tiles: the power of two at or above sqrt(n) (128 -> 16 x 8, 64 -> 8 x 8). */
const gridCols = (n: number): number => Math.min(n, 2 ** Math.ceil(Math.log2(Math.max(1, Math.sqrt(n)))))

/** Tile j is column j of W [m, n], scaled to its own min .. max (a flat column is mid-gray). */
export const filterImage = (W: Tensor, scale = 2): GrayImage => {
  if (W.shape.length !== 2) throw new GradstreamError(`pictures: expected filters W of shape [m, n], got ${showShape(W.shape)}`)
  const [m, n] = W.shape
  const tiles = Array.from({ length: n }, (_, j) => {
    const col = new Float64Array(m)
    for (let i = 0; i < m; i++) col[i] = W.data[i * n + j]
    let lo = Infinity
    let hi = -Infinity
    for (const v of col) {
      lo = Math.min(lo, v)
      hi = Math.max(hi, v)
    }
    return hi > lo ? col.map((v) => (255 * (v - lo)) / (hi - lo)) : col.fill(128)
  })
  return tileGrid(tiles, { tile: tileShape(m), cols: gridCols(n), scale })
}

const rowOf = (data: F, r: number, m: number): Float64Array => Float64Array.from(data.subarray(r * m, (r + 1) * m), (v) => 255 * v)

/** Input r beside reconstruction r, `perRow` pairs per row; values 0..1 shown as black..white. */
export const reconstructionImage = (inputs: Tensor, reconstructions: Tensor, perRow = 10, scale = 2): GrayImage => {
  const B = inputs.shape[0]
  const m = size(inputs.shape.slice(1))
  if (reconstructions.data.length !== B * m)
    throw new GradstreamError(
      `pictures: expected ${B} reconstructions of ${m} values, got shape ${showShape(reconstructions.shape)}`,
    )
  const tiles: Float64Array[] = []
  for (let r = 0; r < B; r++) tiles.push(rowOf(inputs.data, r, m), rowOf(reconstructions.data, r, m))
  return tileGrid(tiles, { tile: tileShape(m), cols: 2 * perRow, scale })
}

/** The first `perClass` samples of each class (or the first 20 samples if unlabelled). */
export const showcase = (ds: Dataset, perClass = 2): Tensor => {
  const N = ds.x.shape[0]
  const m = size(ds.x.shape.slice(1))
  let idx: number[]
  if (ds.labels) {
    const counts = new Map<number, number>()
    idx = []
    for (let i = 0; i < N; i++) {
      const c = counts.get(ds.labels[i]) ?? 0
      if (c < perClass) idx.push(i)
      counts.set(ds.labels[i], c + 1)
    }
    idx.sort((a, b) => ds.labels![a] - ds.labels![b] || a - b)
  } else idx = Array.from({ length: Math.min(N, 20) }, (_, i) => i)
  const x = new Float32Array(idx.length * m)
  idx.forEach((j, r) => x.set(ds.x.data.subarray(j * m, (j + 1) * m), r * m))
  return { shape: [idx.length, ...ds.x.shape.slice(1)], data: x }
}

/** Writes filters.png (W of the parameters) and reconstructions.png (of `data`) into dir. */
export const writePictures = (
  dir: string,
  objective: AnyObjective,
  params: Params,
  data: Dataset,
): { readonly filters: string; readonly reconstructions: string } => {
  const W = getLeaf(params, 'W')
  if (W === undefined) throw new GradstreamError('pictures: expected parameters with a weight matrix W (an RBM or an autoencoder)')
  const filters = join(dir, 'filters.png')
  const reconstructions = join(dir, 'reconstructions.png')
  writePng(filters, filterImage(W))
  const x = showcase(data)
  const perRow = data.labels ? Math.max(1, Math.ceil(x.shape[0] / 2)) : 10
  writePng(reconstructions, reconstructionImage(x, objective.predict(params, x), perRow))
  return { filters, reconstructions }
}
