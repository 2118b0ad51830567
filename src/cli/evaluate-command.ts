// `gradstream evaluate RUN_DIR|FILE.safetensors [--data mnist|FILE] [--label COL] [--json]`:
// the loss, accuracy, per-class precision and recall and the confusion matrix of a trained
// model on data. Without --data: the run's own held-out data (the MNIST test digits, or
// the test split of its CSV/NDJSON file, split with the run's seed). With --data FILE:
// every usable record of the file, read through the training schema: the same feature
// columns, the scaling fitted at training time (never refitted on this data), the
// training classes (a label outside them is reported as a bad record). A model trained on
// images (the MNIST digits) evaluates on a file of pixel columns (imageRows below).

import { size } from '../core/tensor.ts'
import { GradstreamError } from '../core/errors.ts'
import { loadMnist } from '../io/mnist.ts'
import type { Rejection } from '../io/records.ts'
import { scaleInPlace } from '../io/standardize.ts'
import { formatOf, loadTabular } from '../io/tabular.ts'
import type { Evaluation } from '../streams/evaluate.ts'
import { evaluate } from '../streams/evaluate.ts'
import type { Dataset } from '../streams/source.ts'
import type { ClassRow } from './class-report.ts'
import { classRows, classTable, confusionTable } from './class-report.ts'
import type { InputSchema } from './input-schema.ts'
import { MNIST_SCHEMA } from './input-schema.ts'
import { loadData } from './run-config.ts'
import type { Io } from './io.ts'
import type { TrainedModel } from './trained-model.ts'
import { describeModel, loadTrainedModel } from './trained-model.ts'
import { choiceFlag, parseFlags, UsageError } from './usage.ts'

export const EVALUATE_USAGE = `usage: gradstream evaluate RUN_DIR|FILE.safetensors [--data mnist|FILE.csv|FILE.ndjson] [--label COL]
       [--format csv|ndjson] [--json]
Loss, accuracy, per-class precision and recall, and the confusion matrix of a trained
model. Without --data: the run's held-out test data. Tabular files are read with the
feature columns, classes and scaling stored at training time (never refitted). A model
trained on 28x28x1 images (--data mnist) takes a file whose feature columns are the 784
pixels of each image in row-major order (pixel k at row k div 28, column k mod 28, as the
MNIST digits are flattened), intensities in [0, 1], or in [0, 255] (divided by 255).`

const FLAGS = {
  data: { type: 'string' },
  label: { type: 'string' },
  format: { type: 'string' },
  json: { type: 'boolean' },
} as const

export interface EvaluationData {
  /** What was evaluated, for the header. */
  readonly name: string
  readonly data: Dataset
  readonly classes: readonly string[]
  readonly rejected: readonly Rejection[]
}

export interface EvaluateReport {
  readonly model: string
  readonly checkpoint: string
  readonly step: number
  readonly data: string
  readonly samples: number
  readonly rejected: number
  readonly loss: number
  readonly accuracy: number | null
  readonly classes?: readonly ClassRow[]
  /** confusion[true][predicted] */
  readonly confusion?: readonly (readonly number[])[]
}

/** The data to evaluate a model on (see the file header). */
export const evaluationData = (
  m: TrainedModel,
  flags: { readonly data?: string; readonly label?: string; readonly format?: 'csv' | 'ndjson' },
): EvaluationData => {
  const config = m.config
  if (flags.data === undefined && config === undefined)
    throw new UsageError(`--data: expected the data to evaluate on (${m.source} holds no run config naming its data)`)
  if (flags.data === 'mnist' || (flags.data === undefined && config?.data === 'mnist')) {
    const { test } = loadMnist()
    return { name: 'mnist (test digits)', data: test, classes: MNIST_SCHEMA.classes, rejected: [] }
  }
  if (m.input?.kind === 'image' && flags.data === undefined)
    throw new GradstreamError(`--data: ${describeModel(m)} was trained on 28x28x1 images; evaluate it on --data mnist or a file of pixel columns`)
  if (flags.data === undefined && config !== undefined) {
    // The run's own held-out split, through the stored schema.
    const d = loadData({ ...config, input: m.input })
    return { name: `${config.data} (held-out test split)`, data: d.test, classes: d.classes, rejected: [] }
  }
  const file = flags.data as string
  const label = flags.label ?? config?.label
  if (label === undefined) throw new UsageError(`--label: expected the label column of ${file}`)
  const format = flags.format ?? formatOf(file)
  if (format === undefined) throw new UsageError(`--data: expected mnist, a .csv or a .ndjson file (or --format), got ${file}`)
  const schema = m.input
  if (schema?.kind === 'image') return imageRows(m, schema, file, label, format)
  const t = loadTabular(file, {
    label,
    format,
    testFraction: 0,
    standardize: false,
    ...(schema ? { features: schema.features, classes: schema.classes } : {}),
  })
  if (schema?.scaling !== undefined) scaleInPlace(t.train.x, schema.scaling)
  return { name: file, data: t.train, classes: t.classes, rejected: t.rejected }
}

/**
 * An image model's data from a file of pixel columns: every numeric column but the label
 * is a pixel, in file order, and must count as many as the image (784 for 28x28x1); the
 * rows are reshaped to the image (row-major, evaluateModel) as the MNIST digits are
 * flattened. The digits the model learned are intensities in [0, 1]: a file whose values
 * all lie in [0, 1] is read as is, one in [0, 255] (the usual MNIST CSV) divided by 255;
 * this is the file's nominal range, not a fit (a fitted min and max would depend on which
 * images the file holds). Labels are the model's class names ("0".."9").
 */
const imageRows = (m: TrainedModel, schema: InputSchema, file: string, label: string, format: 'csv' | 'ndjson'): EvaluationData => {
  const t = loadTabular(file, { label, format, testFraction: 0, standardize: false, classes: schema.classes })
  const shape = schema.shape ?? m.objective.inShape
  const pixels = size(shape)
  if (t.features.length !== pixels)
    throw new GradstreamError(
      `${file}: expected ${pixels} pixel columns for ${describeModel(m)} (trained on ${shape.join('x')} images), got ${t.features.length} feature columns`,
    )
  const x = t.train.x.data
  let lo = Infinity
  let hi = -Infinity
  for (let i = 0; i < x.length; i++) {
    if (x[i] < lo) lo = x[i]
    if (x[i] > hi) hi = x[i]
  }
  if (x.length > 0 && !(lo >= 0 && hi <= 255))
    throw new GradstreamError(`${file}: expected pixel intensities in [0, 1] or [0, 255], got values from ${lo} to ${hi}`)
  if (hi > 1) for (let i = 0; i < x.length; i++) x[i] = x[i] / 255
  return { name: hi > 1 ? `${file} (pixels / 255)` : file, data: t.train, classes: t.classes, rejected: t.rejected }
}

/** Evaluates a trained model on data: the numbers `evaluate` prints. */
export const evaluateModel = (m: TrainedModel, d: EvaluationData): EvaluateReport => {
  const want = size(m.objective.inShape)
  const got = size(d.data.x.shape.slice(1))
  if (want !== got)
    throw new GradstreamError(`${d.name}: expected records of ${want} features for ${describeModel(m)}, got ${got}`)
  const N = d.data.x.shape[0]
  if (N === 0) throw new GradstreamError(`${d.name}: no usable records to evaluate (${d.rejected.length} bad)`)
  const x = { shape: [N, ...m.objective.inShape], data: d.data.x.data }
  const classifies = m.objective.task === 'classification' && d.data.labels !== undefined
  // Confusion over every output unit (a class the data lacks still gets a row).
  const outputs = classifies ? m.objective.predict(m.params, { shape: [1, ...m.objective.inShape], data: x.data.subarray(0, want) }).shape[1] : 0
  const data: Dataset = { ...d.data, x, ...(classifies ? { classes: Math.max(outputs, d.data.classes ?? 0) } : {}) }
  const e: Evaluation = evaluate(m.objective, m.params, data)
  const base = {
    model: m.config?.model ?? String(m.checkpoint.model.kind),
    checkpoint: m.checkpoint.file,
    step: m.checkpoint.snapshot.step,
    data: d.name,
    samples: e.samples,
    rejected: d.rejected.length,
    loss: e.loss,
  }
  if (e.confusion === undefined) return { ...base, accuracy: null }
  const rows = classRows(e.confusion, d.classes)
  const C = e.confusion.classes
  return {
    ...base,
    accuracy: e.accuracy ?? null,
    classes: rows,
    confusion: Array.from({ length: C }, (_, t) => e.confusion!.counts.slice(t * C, (t + 1) * C)),
  }
}

export const evaluateCommand = async (args: readonly string[], io: Io): Promise<void> => {
  const { values: v, positionals } = parseFlags(args, FLAGS, true)
  if (positionals.length !== 1)
    throw new UsageError(`expected one run directory or .safetensors file, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`)
  const m = loadTrainedModel(positionals[0])
  const d = evaluationData(m, {
    data: typeof v.data === 'string' ? v.data : undefined,
    label: typeof v.label === 'string' ? v.label : undefined,
    format: choiceFlag('format', v.format, ['csv', 'ndjson'] as const),
  })
  const r = evaluateModel(m, d)
  if (v.json === true) {
    io.stdout.write(`${JSON.stringify(r)}\n`)
    return
  }
  const say = (line: string): void => void io.stdout.write(`${line}\n`)
  say(`gradstream evaluate: ${describeModel(m)} (${r.checkpoint}) on ${r.data}: ${r.samples} records`)
  if (d.rejected.length > 0) {
    say(`skipped ${d.rejected.length} bad records:`)
    for (const x of d.rejected.slice(0, 10)) say(`  line ${x.line}: ${x.reason} (${x.detail})`)
    if (d.rejected.length > 10) say(`  ... and ${d.rejected.length - 10} more`)
  }
  const correct = r.confusion?.reduce((a, row, t) => a + row[t], 0)
  say(`loss ${r.loss.toFixed(4)}${r.accuracy === null ? '' : `, accuracy ${(100 * r.accuracy).toFixed(2)}% (${correct}/${r.samples})`}`)
  if (r.classes === undefined || r.confusion === undefined) return
  say('')
  for (const line of classTable(r.classes)) say(line)
  say('')
  say('confusion matrix (rows: true class, columns: predicted class)')
  for (const line of confusionTable({ classes: r.confusion.length, counts: r.confusion.flat() }, r.classes.map((c) => c.name))) say(line)
}
