// `gradstream train`: flags -> RunConfig -> a training stream with progress, per-epoch
// evaluation, an ASCII loss chart, and optional run-directory output.
//
// A run directory (--out DIR) holds config.json (the RunConfig), metrics.ndjson (one line
// per step: step, epoch, loss, lr, ...), epochs.ndjson (one line per finished epoch),
// summary.json (at the end), and checkpoints/step-<8 digits>.safetensors every
// --checkpoint-every steps and at the end. Before each checkpoint the metrics and epoch
// lines are flushed, and the checkpoint records how many there were, so `gradstream
// resume DIR` can cut both files back to exactly the checkpoint's step.

import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join, resolve as resolvePath } from 'node:path'
import { lastValueFrom, takeWhile, tap } from 'rxjs'
import { writeFileAtomic } from '../io/atomic-write.ts'
import { openNewRunDir } from '../io/run-dir.ts'
import { checkpointName } from '../io/checkpoint.ts'
import { saveCheckpoint } from '../io/checkpoint-file.ts'
import { countParams } from '../core/tree.ts'
import type { ZooName } from '../models/zoo/index.ts'
import { ZOO, ZOO_NAMES } from '../models/zoo/index.ts'
import { ACTIVATIONS } from '../models/zoo/mlp.ts'
import { evaluateEvery, MAX_CONFUSION_CLASSES } from '../streams/evaluate.ts'
import type { Mean } from '../streams/metrics.ts'
import { mean, MeanMonoid } from '../streams/metrics.ts'
import { progress } from '../streams/progress.ts'
import type { Snapshot } from '../streams/snapshot.ts'
import { hashParams } from '../streams/snapshot.ts'
import { asciiChart } from './chart.ts'
import { epochReport } from './epoch-report.ts'
import type { Monitor } from './epoch-report.ts'
import { writePictures } from './pictures.ts'
import { progressDisplay } from './progress-bar.ts'
import type { PreparedRun, RunConfig } from './run-config.ts'
import { prepareRun, runDefinition } from './run-config.ts'
import { defaultBackend, KERNEL_BACKENDS } from '../ops/backend.ts'
import { trainRun } from '../streams/history.ts'
import { stopOnSignals } from './signals.ts'
import { choiceFlag, intFlag, listFlag, numFlag, parseFlags, UsageError } from './usage.ts'
import { isImageData } from './input-schema.ts'

export const TRAIN_USAGE = `usage: gradstream train [--model ${ZOO_NAMES.join('|')}] [--hidden 256,128]
       [--activation ${ACTIVATIONS.join('|')}] [--data mnist|FILE.csv|FILE.ndjson] [--label COL]
       [--epochs N] [--batch B] [--optimizer sgd|momentum|nesterov|adam] [--lr X] [--momentum M]
       [--weight-decay W] [--schedule constant|cosine|step|exponential] [--shift PIXELS]
       [--seed S] [--threads N] [--microbatches M] [--out DIR [--checkpoint-every N] [--force]] [--json]
       [--backend simd|ts]
       rbm: [--cd-k K] [--pcd]   autoencoder: [--corruption P]
Every model has a default recipe (epochs, batch, optimizer, lr, schedule, shift,
microbatches) that reaches its accuracy target on the MNIST digits; flags override it.
For a CSV/NDJSON file the recipe's image shifts are dropped and the features are scaled
with statistics fitted on the training split (stored with the run, reused by evaluate,
predict and export). mlp, rbm and autoencoder take any such file; the convolutional
models take files of 784 pixel columns (28x28x1 images).
Each minibatch is split into M fixed shards computed on N threads (default: every
core); the result depends on M only, so any N gives the same bits. With --out, a
checkpoint is written every N steps (default: once per epoch) and at the end; DIR must be
new or empty (--force replaces a finished or stopped run in it). Ctrl-C (SIGINT) or SIGTERM
finishes the current step, writes a checkpoint and stops; gradstream resume DIR continues.
--backend: the kernels, WebAssembly SIMD (default where available) or TypeScript; the
run records it, and resume, replay and fork use the recorded one.`

const FLAGS = {
  model: { type: 'string' },
  hidden: { type: 'string' },
  activation: { type: 'string' },
  data: { type: 'string' },
  label: { type: 'string' },
  format: { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  optimizer: { type: 'string' },
  lr: { type: 'string' },
  momentum: { type: 'string' },
  'weight-decay': { type: 'string' },
  schedule: { type: 'string' },
  shift: { type: 'string' },
  seed: { type: 'string' },
  threads: { type: 'string' },
  microbatches: { type: 'string' },
  backend: { type: 'string' },
  out: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  'cd-k': { type: 'string' },
  pcd: { type: 'boolean' },
  corruption: { type: 'string' },
  json: { type: 'boolean' },
  force: { type: 'boolean' },
} as const

/**
 * The most threads a run may ask for. Each worker holds its own copy of the model's
 * arenas and a V8 heap (~10-30 MB); beyond the cores there is nothing to gain, and a
 * thousand workers exhaust memory before the first step (issue 12).
 */
export const MAX_THREADS = 64

export interface TrainFlags {
  readonly config: RunConfig
  readonly out?: string
  readonly json: boolean
  /** Replace the run already in --out. */
  readonly force?: boolean
}

export const parseTrainFlags = (args: readonly string[]): TrainFlags => {
  const { values: v } = parseFlags(args, FLAGS)
  const model = choiceFlag('model', v.model, ZOO_NAMES) ?? ('cnn' as ZooName)
  const recipe = ZOO[model].recipe
  // A file path is stored absolute, so resume, replay and fork work from any directory.
  const data = typeof v.data === 'string' && v.data !== 'mnist' ? resolvePath(v.data) : 'mnist'
  const config: RunConfig = {
    version: 1,
    model,
    hidden: listFlag('hidden', v.hidden),
    activation: choiceFlag('activation', v.activation, ACTIVATIONS),
    data,
    label: typeof v.label === 'string' ? v.label : undefined,
    format: choiceFlag('format', v.format, ['csv', 'ndjson'] as const),
    epochs: intFlag('epochs', v.epochs) ?? recipe.epochs,
    batch: intFlag('batch', v.batch) ?? recipe.batch,
    optimizer: choiceFlag('optimizer', v.optimizer, ['sgd', 'momentum', 'nesterov', 'adam'] as const) ?? recipe.optimizer,
    lr: numFlag('lr', v.lr, (n) => n > 0, 'a positive number') ?? recipe.lr,
    momentum: numFlag('momentum', v.momentum, (n) => n >= 0 && n < 1, 'a number in [0, 1)') ?? recipe.momentum,
    weightDecay: numFlag('weight-decay', v['weight-decay'], (n) => n >= 0, 'a number >= 0') ?? recipe.weightDecay,
    schedule: choiceFlag('schedule', v.schedule, ['constant', 'cosine', 'step', 'exponential'] as const) ?? recipe.schedule,
    // The recipe's shifts are for images: dropped for tabular data (input-schema.ts).
    shift: intFlag('shift', v.shift, 0) ?? (isImageData(data) ? recipe.shift : 0),
    seed: intFlag('seed', v.seed, 0) ?? 0,
    threads: intFlag('threads', v.threads) ?? Math.min(availableParallelism(), MAX_THREADS),
    // The recipe's shards, but never more than the batch has samples.
    microbatches: intFlag('microbatches', v.microbatches) ?? Math.min(recipe.microbatches ?? 1, intFlag('batch', v.batch) ?? recipe.batch),
    backend: choiceFlag('backend', v.backend, KERNEL_BACKENDS) ?? defaultBackend(),
    checkpointEvery: intFlag('checkpoint-every', v['checkpoint-every']),
    cdK: intFlag('cd-k', v['cd-k']),
    persistent: v.pcd === true ? true : undefined,
    corruption: numFlag('corruption', v.corruption, (n) => n >= 0 && n < 1, 'a number in [0, 1)'),
  }
  if ((config.threads ?? 1) > MAX_THREADS)
    throw new UsageError(`--threads: expected an integer from 1 to ${MAX_THREADS} (this machine has ${availableParallelism()} cores), got ${config.threads}`)
  if ((config.microbatches ?? 1) > config.batch)
    throw new UsageError(`--microbatches: expected at most the batch size (${config.batch}): each shard needs a sample, got ${config.microbatches}`)
  if ((config.cdK !== undefined || config.persistent) && model !== 'rbm') throw new UsageError('--cd-k and --pcd apply to --model rbm')
  if (config.corruption !== undefined && model !== 'autoencoder') throw new UsageError('--corruption applies to --model autoencoder')
  if (config.checkpointEvery !== undefined && typeof v.out !== 'string')
    throw new UsageError('--checkpoint-every: checkpoints go to a run directory; give --out DIR too')
  if (config.data !== 'mnist' && config.label === undefined)
    throw new UsageError(`--label: expected the label column of ${config.data}`)
  if (config.shift > 0 && !isImageData(config.data))
    throw new UsageError(`--shift: random shifts apply to images; ${config.data} is tabular (leave --shift out)`)
  if (v.force === true && typeof v.out !== 'string') throw new UsageError('--force: replaces the run in a run directory; give --out DIR too')
  return { config, out: typeof v.out === 'string' ? v.out : undefined, json: v.json === true, force: v.force === true }
}

export interface EpochRow {
  readonly epoch: number
  readonly trainLoss: number
  readonly testLoss: number
  readonly testAccuracy: number
  /** Task-specific numbers of the epoch (RBM and autoencoder: reconstruction error, ...). */
  readonly monitor?: Monitor
}

export interface TrainSummary {
  readonly model: string
  readonly params: number
  readonly epochs: number
  readonly steps: number
  readonly seconds: number
  readonly samplesPerSecond: number
  readonly trainLoss: number
  readonly testLoss: number
  readonly testAccuracy: number
  readonly hash: string
  readonly seed: number
  readonly history: readonly EpochRow[]
  /** The step this process started from (a checkpoint's, when resumed or forked; 0 for a fresh run). */
  readonly resumedFrom: number
  /** Steps this process computed (steps - resumedFrom when it ran to the end). */
  readonly stepsComputed: number
  /** Set when a signal stopped the run before its end (SIGINT, SIGTERM). */
  readonly interrupted?: string
}

import type { Io } from './io.ts'
export type { Io } from './io.ts'

/** Where a resumed (or forked) run picks up: written by `gradstream resume` / `fork`. */
export interface ResumePoint {
  /** The snapshot to continue from; undefined starts the run over. */
  readonly initial?: Snapshot
  /** Epoch rows already in epochs.ndjson, and the running train-loss mean of the unfinished epoch. */
  readonly rows: readonly EpochRow[]
  readonly epochLoss: Mean
  /** Lines already in metrics.ndjson. */
  readonly metricsLines: number
}

/** The metrics.ndjson line of a snapshot. */
export const metricsLine = (s: Snapshot): string =>
  `${JSON.stringify({ step: s.step, epoch: s.epoch, loss: s.metrics.loss, lr: s.lr, accuracy: s.metrics.accuracy, skipped: s.metrics.skipped })}\n`

/** Runs a prepared training run to the end, printing as it goes (from `resume` when given). */
export const runTraining = async (
  run: PreparedRun,
  flags: Omit<TrainFlags, 'config'> & { readonly command?: string },
  io: Io,
  resume?: ResumePoint,
): Promise<TrainSummary> => {
  const { config, objective, optimizer, source, test } = run
  const say = (line: string): void => void io.stdout.write(`${line}\n`)
  const display = progressDisplay(io.stdout, config.epochs)
  const init = objective.init({ k0: 0, k1: 0 })
  const params = init._tag === 'Right' ? countParams(init.right.params) : 0
  say(
    `gradstream: ${config.model} (${params.toLocaleString('en-US')} parameters) on ${config.data}: ` +
      `${run.train.x.shape[0]} train / ${run.test.x.shape[0]} test, ${config.epochs} epochs, batch ${config.batch}, ` +
      `${config.optimizer} lr ${config.lr} ${config.schedule}${config.shift ? `, shift ${config.shift}` : ''}, seed ${config.seed}` +
      `${(config.microbatches ?? 1) > 1 ? `, ${config.microbatches} shards on ${Math.min(config.threads ?? 1, config.microbatches ?? 1)} thread(s)` : ''}` +
      `, ${config.backend ?? 'ts'} kernels`,
  )
  const classCount = run.train.classes ?? 0
  if (objective.task === 'classification' && classCount > MAX_CONFUSION_CLASSES)
    say(`note: ${classCount.toLocaleString('en-US')} classes: no confusion matrix is kept above ${MAX_CONFUSION_CLASSES} (accuracy is counted exactly)`)
  if (run.rejected.length > 0) {
    say(`skipped ${run.rejected.length} bad rows of ${config.data}:`)
    for (const r of run.rejected.slice(0, 10)) say(`  line ${r.line}: ${r.reason} (${r.detail})`)
    if (run.rejected.length > 10) say(`  ... and ${run.rejected.length - 10} more`)
  }
  if (flags.out && resume === undefined) {
    // config.json last and atomically: a directory with a config.json is a whole run start.
    writeFileSync(join(flags.out, 'metrics.ndjson'), '')
    writeFileSync(join(flags.out, 'epochs.ndjson'), '')
    writeFileAtomic(join(flags.out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`)
  }
  const rows: EpochRow[] = [...(resume?.rows ?? [])]
  const report = epochReport(objective, run.train, test)
  let epochLoss: Mean = resume?.epochLoss ?? MeanMonoid.empty
  let pending: string[] = []
  let last: Snapshot | undefined = resume?.initial
  let metricsLines = resume?.metricsLines ?? 0
  let computed = 0
  const resumedFrom = resume?.initial?.step ?? 0
  const totalSteps = config.epochs * (source.batchesPerEpoch ?? 0)
  const t0 = performance.now()
  const flush = (): void => {
    if (flags.out && pending.length > 0) appendFileSync(join(flags.out, 'metrics.ndjson'), pending.join(''))
    pending = []
  }
  // Checkpoints (only with a run directory): every `every` steps and at the end.
  const every = config.checkpointEvery ?? source.batchesPerEpoch ?? 1000
  let savedStep = resume?.initial?.step ?? -1
  const checkpoint = (s: Snapshot): void => {
    if (!flags.out || s.step === savedStep) return
    flush()
    const dir = join(flags.out, 'checkpoints')
    mkdirSync(dir, { recursive: true })
    saveCheckpoint(join(dir, checkpointName(s.step)), s, {
      model: objective.spec,
      optimizer: optimizer.spec,
      extra: { run_config: JSON.stringify(config), metrics_lines: String(metricsLines), epoch_rows: String(rows.length) },
    })
    savedStep = s.step
  }
  const stop = stopOnSignals(io, flags.command ?? 'train', 'finishing the current step')
  try {
    await lastValueFrom(
      trainRun(runDefinition(run, resume?.initial)).pipe(
        // A signal ends the stream after the step being computed (signals.ts).
        takeWhile(() => stop.signal() === undefined, true),
        progress((p) => display.update(p), { batchesPerEpoch: source.batchesPerEpoch }),
        tap((s) => {
          last = s
          computed++
          if (Number.isFinite(s.metrics.loss)) epochLoss = MeanMonoid.concat(epochLoss, { sum: s.metrics.loss, count: 1 })
          if (flags.out) {
            pending.push(metricsLine(s))
            metricsLines++
          }
        }),
        evaluateEvery(objective, test),
        tap((s) => {
          if (!s.evaluation) return
          display.clear()
          const described = report.describe(s, mean(epochLoss))
          const row: EpochRow = {
            epoch: s.epoch + 1,
            trainLoss: mean(epochLoss),
            testLoss: s.evaluation.loss,
            testAccuracy: s.evaluation.accuracy ?? NaN,
            ...(described.monitor ? { monitor: described.monitor } : {}),
          }
          rows.push(row)
          epochLoss = MeanMonoid.empty
          flush()
          if (flags.out) appendFileSync(join(flags.out, 'epochs.ndjson'), `${JSON.stringify(row)}\n`)
          say(`epoch ${row.epoch}/${config.epochs}: ${described.text} (${((performance.now() - t0) / 1000).toFixed(1)}s)`)
        }),
        // After the epoch's evaluation, so a checkpoint at an epoch's end includes its row.
        tap((s) => {
          if (s.step % every === 0) checkpoint(s)
        }),
      ),
      { defaultValue: undefined },
    )
    flush()
    if (last !== undefined) checkpoint(last)
    const interrupted = stop.signal() !== undefined && (last?.step ?? 0) < totalSteps ? stop.signal() : undefined
    const seconds = (performance.now() - t0) / 1000
    const final = rows[rows.length - 1]
    say('')
    for (const line of asciiChart([
      { name: 'train loss', mark: '*', values: rows.map((r) => r.trainLoss) },
      { name: 'test loss', mark: 'o', values: rows.map((r) => r.testLoss) },
    ]))
      say(line)
    say('')
    const summary: TrainSummary = {
      model: config.model,
      params,
      epochs: config.epochs,
      steps: last?.step ?? 0,
      seconds: Math.round(seconds * 10) / 10,
      samplesPerSecond: Math.round((last?.seen ?? 0) / seconds),
      trainLoss: final?.trainLoss ?? NaN,
      testLoss: final?.testLoss ?? NaN,
      testAccuracy: final?.testAccuracy ?? NaN,
      hash: last ? hashParams(last) : '',
      seed: config.seed,
      history: rows,
      resumedFrom,
      stepsComputed: computed,
      ...(interrupted !== undefined ? { interrupted } : {}),
    }
    if (interrupted !== undefined) {
      display.clear()
      const step = last?.step ?? resumedFrom
      say(
        `interrupted by ${interrupted} at step ${step} of ${totalSteps}` +
          (flags.out
            ? `: checkpoint ${join(flags.out, 'checkpoints', checkpointName(step))}; continue with: gradstream resume ${flags.out}`
            : ' (no --out: nothing was saved)'),
      )
      if (flags.json) say(JSON.stringify(summary))
      return summary
    }
    if (flags.out && last !== undefined && objective.task === 'reconstruction') {
      const pictures = writePictures(flags.out, objective, last.params, test)
      say(`filters: ${pictures.filters}; reconstructions: ${pictures.reconstructions}`)
    }
    say(`final ${report.final(final)} after ${summary.epochs} epochs (${summary.steps} steps, ${summary.seconds}s, ${summary.samplesPerSecond} samples/s)`)
    if (flags.out) {
      // The run's summary; which process computed which steps is not part of it.
      const { resumedFrom: _from, stepsComputed: _computed, ...run } = summary
      writeFileAtomic(join(flags.out, 'summary.json'), `${JSON.stringify(run, null, 2)}\n`)
    }
    if (flags.json) say(JSON.stringify(summary))
    return summary
  } finally {
    stop.dispose()
  }
}

export const trainCommand = async (args: readonly string[], io: Io): Promise<void> => {
  const flags = parseTrainFlags(args)
  // The output directory is checked, created and locked before any data is loaded.
  const dir = flags.out !== undefined ? openNewRunDir(flags.out, { force: flags.force }) : undefined
  let run: PreparedRun
  try {
    run = prepareRun(flags.config)
    dir?.commit()
  } catch (e) {
    dir?.abort()
    throw e
  }
  try {
    await runTraining(run, flags, io)
  } finally {
    dir?.release()
  }
}
