// A training run, fully described as JSON: the flags of `gradstream train` after
// defaults. Everything a run does follows from this record and the data, so a run
// directory that stores it can be resumed, replayed and forked.

import { GradstreamError } from '../core/errors.ts'
import { loadMnist } from '../io/mnist.ts'
import { formatOf, loadTabular } from '../io/tabular.ts'
import { fitScaling, scaleInPlace } from '../io/standardize.ts'
import type { TabularFormat } from '../io/tabular.ts'
import type { AnyObjective } from '../models/objective.ts'
import { visibleMean } from '../models/rbm-objective.ts'
import type { Optimizer, OptimizerSpec } from '../models/optimizers.ts'
import type { KernelBackend } from '../ops/backend.ts'
import { setKernelBackend } from '../ops/backend.ts'
import { optimizerFromSpec } from '../models/optimizers.ts'
import type { ScheduleSpec } from '../models/schedule.ts'
import type { Sequential } from '../models/sequential.ts'
import type { ScheduleName, ZooName } from '../models/zoo/index.ts'
import { zooEntry } from '../models/zoo/index.ts'
import type { Activation } from '../models/zoo/mlp.ts'
import type { Shape } from '../core/tensor.ts'
import { randomShift } from '../streams/augment.ts'
import type { RunDefinition } from '../streams/history.ts'
import type { Snapshot } from '../streams/snapshot.ts'
import type { BatchSource, Dataset } from '../streams/source.ts'
import { arraySource } from '../streams/source.ts'
import { workerThreads } from '../parallel/threads.ts'
import type { InputSchema } from './input-schema.ts'
import { checkModelTakesTabular, IMAGE_SHAPE, inputSchemaFromJson, MNIST_SCHEMA, scalingKindFor } from './input-schema.ts'

export interface RunConfig {
  readonly version: 1
  readonly model: ZooName
  readonly hidden?: readonly number[]
  readonly activation?: Activation
  /** 'mnist' or a path to a CSV / NDJSON file. */
  readonly data: string
  readonly label?: string
  readonly format?: TabularFormat
  readonly epochs: number
  readonly batch: number
  readonly optimizer: OptimizerSpec['type']
  readonly lr: number
  readonly momentum?: number
  readonly weightDecay?: number
  readonly schedule: ScheduleName
  readonly shift: number
  readonly seed: number
  /** Worker threads for data-parallel steps (results are identical for any count). */
  readonly threads?: number
  /** Fixed shards per minibatch; the result depends on this, never on threads. */
  readonly microbatches?: number
  /**
   * Kernel backend (src/ops/backend.ts): part of the run's numerics, so resume, replay and
   * fork use the recorded one. Absent in configs from before the choice existed: 'ts'.
   */
  readonly backend?: KernelBackend
  /** RBM: Gibbs steps per update (CD-k, default 1) and persistent CD (default false). */
  readonly cdK?: number
  readonly persistent?: boolean
  /** Autoencoder: masking-noise probability (denoising; default 0). */
  readonly corruption?: number
  /** Steps between checkpoints in the run directory (output only; results do not depend on it). */
  readonly checkpointEvery?: number
  /** Set on runs made by `gradstream fork`: the run directory and step they branched from. */
  readonly parent?: { readonly dir: string; readonly step: number }
  /**
   * The inputs as training saw them (classes, feature columns, fitted scaling): filled in
   * by prepareRun from the data, then reused as stored, never refitted (input-schema.ts).
   */
  readonly input?: InputSchema
}

/** Everything a run needs, built from its config. */
export interface PreparedRun {
  readonly config: RunConfig
  /** The network, for models that are one (not the RBM). */
  readonly layer?: Sequential
  readonly objective: AnyObjective
  readonly optimizer: Optimizer
  readonly source: BatchSource
  readonly train: Dataset
  readonly test: Dataset
  readonly inShape: Shape
  readonly classes: readonly string[]
  /** Rows of a tabular file that were rejected (line, reason). */
  readonly rejected: readonly { readonly line: number; readonly reason: string; readonly detail: string }[]
}

export const scheduleSpec = (name: ScheduleName, lr: number, totalSteps: number): ScheduleSpec => {
  switch (name) {
    case 'constant':
      return { type: 'constant', lr }
    case 'cosine':
      return { type: 'cosine', lr, steps: totalSteps }
    case 'step':
      // A tenth of the rate at 50% and 75% of training.
      return { type: 'step', lr, every: Math.max(1, Math.round(totalSteps / 4)), gamma: Math.sqrt(0.1) }
    case 'exponential':
      // Down to a hundredth of the rate by the end.
      return { type: 'exponential', lr, gamma: Math.pow(0.01, 1 / Math.max(1, totalSteps)) }
    default:
      throw new GradstreamError(`schedule: expected constant, cosine, step or exponential, got ${JSON.stringify(name)}`)
  }
}

export const loadData = (
  config: RunConfig,
): { train: Dataset; test: Dataset; classes: readonly string[]; rejected: PreparedRun['rejected']; input: InputSchema } => {
  zooEntry(config.model)
  if (config.data === 'mnist') {
    // Images stay [28, 28, 1] for every model (an MLP flattens them itself), so image
    // augmentation applies to all of them.
    const m = loadMnist()
    return { train: m.train, test: m.test, classes: MNIST_SCHEMA.classes, rejected: [], input: MNIST_SCHEMA }
  }
  if (config.label === undefined) throw new GradstreamError(`--label: expected the name of the label column of ${config.data}`)
  const format = config.format ?? formatOf(config.data)
  if (format === undefined) throw new GradstreamError(`--data: expected mnist, a .csv or a .ndjson file, got ${config.data}`)
  // A stored schema (resume, replay, fork) fixes the columns, classes and scaling.
  const stored = config.input === undefined ? undefined : inputSchemaFromJson(config.input, 'config "input"')
  const t = loadTabular(config.data, {
    label: config.label,
    format,
    seed: config.seed,
    standardize: false,
    ...(stored ? { features: stored.features, classes: stored.classes } : {}),
  })
  checkModelTakesTabular(config.model, config.data, t.features.length)
  // A classifier of one class has nothing to learn (and its one-output model would not
  // match the [batch, 2] target): say so in the data's terms.
  if (t.classes.length < 2)
    throw new GradstreamError(
      `--label: the label column "${config.label}" of ${config.data} has a single class (${JSON.stringify(t.classes[0] ?? '')}) in its ` +
        `${t.train.x.shape[0] + t.test.x.shape[0]} usable rows; a classifier needs at least 2`,
    )
  const scaling = stored?.scaling ?? fitScaling(t.train.x, scalingKindFor(config.model))
  scaleInPlace(t.train.x, scaling)
  scaleInPlace(t.test.x, scaling)
  const input: InputSchema = { kind: 'tabular', classes: t.classes, features: t.features, scaling }
  // Pixel columns for an image model: each row is a 28x28x1 image (a reshape, no copy).
  const shaped = (d: Dataset): Dataset => (zooEntry(config.model).input === 'image' ? { ...d, x: { shape: [d.x.shape[0], ...IMAGE_SHAPE], data: d.x.data } } : d)
  return { train: shaped(t.train), test: shaped(t.test), classes: t.classes, rejected: t.rejected, input }
}

export const prepareRun = (config: RunConfig): PreparedRun => {
  setKernelBackend(config.backend ?? 'ts')
  const { train, test, classes, rejected, input } = loadData(config)
  const entry = zooEntry(config.model)
  const inShape = train.x.shape.slice(1)
  const { layer, objective } = entry.build(
    {
      hidden: config.hidden,
      activation: config.activation,
      classes: Math.max(2, train.classes ?? classes.length),
      ...(config.model === 'rbm' ? { k: config.cdK, persistent: config.persistent, batch: config.batch, dataMean: visibleMean(train.x) } : {}),
      ...(config.model === 'autoencoder' ? { corruption: config.corruption } : {}),
    },
    inShape,
  )
  const source = arraySource(train, { batchSize: config.batch })
  const steps = config.epochs * (source.batchesPerEpoch ?? 1)
  const lr = scheduleSpec(config.schedule, config.lr, steps)
  const optimizer = optimizerFromSpec(
    config.optimizer === 'adam'
      ? { type: 'adam', lr, weightDecay: config.weightDecay }
      : config.optimizer === 'sgd'
        ? { type: 'sgd', lr, weightDecay: config.weightDecay }
        : { type: config.optimizer, lr, momentum: config.momentum, weightDecay: config.weightDecay },
  )
  return { config: { ...config, input }, layer, objective, optimizer, source, train, test, inShape, classes, rejected }
}

/**
 * The run a prepared config describes, as a RunDefinition: what `train` runs, `resume`
 * continues and `replay` recomputes (one definition, so they cannot drift apart).
 */
export const runDefinition = (run: PreparedRun, initial?: Snapshot): RunDefinition => ({
  objective: run.objective,
  optimizer: run.optimizer,
  config: {
    data: run.source,
    epochs: run.config.epochs,
    seed: run.config.seed,
    augment: run.config.shift > 0 ? [(k) => randomShift(run.config.shift, k)] : [],
    initial,
    microbatches: run.config.microbatches ?? 1,
    threads: run.config.threads ?? 1,
    executor: workerThreads,
  },
})
