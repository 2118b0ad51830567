// What the dashboard shows of one snapshot: per-tensor statistics with a histogram
// (GET /api/runs/{id}/steps/{n}), the first layer's filters as an image, the first test
// samples with their predicted probabilities, and the test-set confusion matrix.

import { GradstreamError } from '../core/errors.ts'
import type { Tensor } from '../core/tensor.ts'
import { size } from '../core/tensor.ts'
import type { PreparedRun } from '../cli/run-config.ts'
import { filterImage, tileGrid } from '../cli/pictures.ts'
import { tensorNorms } from '../cli/replay-command.ts'
import type { GrayImage } from '../io/png.ts'
import { encodePng } from '../io/png.ts'
import { softmaxForward } from '../ops/softmax.ts'
import { evaluate } from '../streams/evaluate.ts'
import { confusionRows } from '../streams/metrics.ts'
import type { Snapshot } from '../streams/snapshot.ts'
import { hashParams } from '../streams/snapshot.ts'

export interface Histogram {
  /** bins + 1 edges from min to max; counts[i] holds values in [edges[i], edges[i+1]) (the last bin is closed). */
  readonly edges: number[]
  readonly counts: number[]
}

export interface TensorView {
  readonly name: string
  readonly shape: readonly number[]
  readonly norm: number
  readonly min: number
  readonly max: number
  readonly histogram: Histogram
}

export interface StepView {
  readonly step: number
  readonly epoch: number
  readonly loss: number | null
  readonly lr: number
  /** The same hash as `gradstream replay DIR --step n --json` (SHA-256 of the parameter bytes). */
  readonly hash: string
  readonly tensors: readonly TensorView[]
}

export const HISTOGRAM_BINS = 30

/** Equal-width bins over [min, max] of values (a constant tensor has one bin). */
export const histogram = (values: ArrayLike<number>, bins = HISTOGRAM_BINS): Histogram & { min: number; max: number } => {
  let min = Infinity
  let max = -Infinity
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v < min) min = v
    if (v > max) max = v
  }
  if (values.length === 0) return { min: 0, max: 0, edges: [0, 0], counts: [0] }
  const n = max > min ? bins : 1
  const width = (max - min) / n
  const edges = Array.from({ length: n + 1 }, (_, i) => (i === n ? max : min + i * width))
  const counts = new Array<number>(n).fill(0)
  for (let i = 0; i < values.length; i++) {
    const b = width > 0 ? Math.min(n - 1, Math.floor((values[i] - min) / width)) : 0
    counts[b]++
  }
  return { min, max, edges, counts }
}

const tensorAt = (s: Snapshot, i: number): Float32Array => {
  const off = s.layout.offsets[i]
  return s.flat.subarray(off, off + size(s.layout.shapes[i]))
}

export const stepView = (s: Snapshot): StepView => {
  const norms = tensorNorms(s)
  return {
    step: s.step,
    epoch: s.epoch,
    loss: Number.isFinite(s.metrics.loss) ? s.metrics.loss : null,
    lr: s.lr,
    hash: hashParams(s),
    tensors: norms.map((t, i) => {
      const { min, max, edges, counts } = histogram(tensorAt(s, i))
      return { ...t, min, max, histogram: { edges, counts } }
    }),
  }
}

/** Whether the run's inputs are images (height, width, channels), so filters can be drawn. */
const isImage = (run: PreparedRun): boolean => run.inShape.length === 3

/**
 * The first weight tensor drawn as images: a conv kernel [kh, kw, C, O] as O x C tiles of
 * kh x kw; a matrix [m, n] over image inputs (dense, RBM, autoencoder) as n tiles (its
 * columns) of the input's height x width. Each tile is scaled to its own range. Undefined
 * for models without image filters (tabular inputs).
 */
export const filtersPicture = (run: PreparedRun, s: Snapshot): GrayImage | undefined => {
  if (!isImage(run)) return undefined
  const i = s.layout.shapes.findIndex((shape) => shape.length >= 2)
  if (i < 0) return undefined
  const shape = s.layout.shapes[i]
  const data = tensorAt(s, i)
  if (shape.length === 4) {
    const [kh, kw, C, O] = shape
    const tiles: Float64Array[] = []
    for (let o = 0; o < O; o++)
      for (let c = 0; c < C; c++) {
        const t = new Float64Array(kh * kw)
        for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) t[y * kw + x] = data[((y * kw + x) * C + c) * O + o]
        let lo = Infinity
        let hi = -Infinity
        for (const v of t) {
          lo = Math.min(lo, v)
          hi = Math.max(hi, v)
        }
        tiles.push(hi > lo ? t.map((v) => (255 * (v - lo)) / (hi - lo)) : t.fill(128))
      }
    return tileGrid(tiles, { tile: [kh, kw], cols: Math.min(16, O * C), scale: Math.max(2, Math.round(48 / Math.max(kh, kw))) })
  }
  const [h, w] = run.inShape
  if (shape.length === 2 && shape[0] === size(run.inShape) && run.inShape[2] === 1 && h === w) return filterImage({ shape, data })
  return undefined
}

/** A PNG data URL of a grayscale image with values 0..1. */
const imageUrl = (values: ArrayLike<number>, h: number, w: number): string => {
  const pixels = Uint8Array.from({ length: h * w }, (_, i) => Math.max(0, Math.min(255, Math.round(255 * values[i]))))
  return `data:image/png;base64,${encodePng({ width: w, height: h, pixels }).toString('base64')}`
}

export interface Prediction {
  readonly index: number
  /** The input as a PNG data URL (image inputs), else null. */
  readonly image: string | null
  readonly label: number
  readonly predicted: number
  readonly probabilities: number[]
}

export interface Predictions {
  readonly step: number
  readonly classes: readonly string[]
  readonly samples: readonly Prediction[]
}

const classifies = (run: PreparedRun): boolean => run.objective.task === 'classification' && run.test.labels !== undefined

/** Why predictions do not apply to the run, or undefined when they do. */
export const notClassifier = (run: PreparedRun): string | undefined =>
  classifies(run) ? undefined : `model ${run.config.model} is not a classifier: it has no predictions or confusion matrix`

/** The first `count` test samples: input, true label, class probabilities (evaluation mode). */
export const predictions = (run: PreparedRun, s: Snapshot, count = 20): Predictions => {
  const why = notClassifier(run)
  if (why !== undefined) throw new GradstreamError(why)
  const N = Math.min(count, run.test.x.shape[0])
  const m = size(run.test.x.shape.slice(1))
  const x: Tensor = { shape: [N, ...run.test.x.shape.slice(1)], data: run.test.x.data.slice(0, N * m) }
  const logits = run.objective.predict(s.params, x)
  const C = logits.shape[1]
  const p = new Float64Array(N * C)
  softmaxForward(p, logits.data, N, C)
  const image = isImage(run) && run.inShape[2] === 1
  return {
    step: s.step,
    classes: run.classes,
    samples: Array.from({ length: N }, (_, i) => {
      const probabilities = Array.from(p.subarray(i * C, (i + 1) * C))
      return {
        index: i,
        image: image ? imageUrl(x.data.subarray(i * m, (i + 1) * m), run.inShape[0], run.inShape[1]) : null,
        label: run.test.labels![i],
        predicted: probabilities.indexOf(Math.max(...probabilities)),
        probabilities,
      }
    }),
  }
}

export interface ConfusionView {
  readonly step: number
  readonly classes: readonly string[]
  /** matrix[true][predicted] over the whole test set. */
  readonly matrix: number[][]
  readonly accuracy: number
  readonly loss: number
  readonly samples: number
}

/** The test-set confusion matrix at the snapshot (evaluation mode, as the epoch reports). */
export const confusion = (run: PreparedRun, s: Snapshot): ConfusionView => {
  const why = notClassifier(run)
  if (why !== undefined) throw new GradstreamError(why)
  const e = evaluate(run.objective, s.params, run.test)
  return {
    step: s.step,
    classes: run.classes,
    matrix: e.confusion === undefined ? [] : confusionRows(e.confusion),
    accuracy: e.accuracy ?? NaN,
    loss: e.loss,
    samples: e.samples,
  }
}
