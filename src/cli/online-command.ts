// `gradstream online`: learn from a stream of NDJSON or CSV records (a file or stdin),
// predicting each example before learning from it (prequential evaluation). Prints a
// progress line every N examples and a summary at the end; bad records are counted by
// reason (the first few are listed on stderr) and never reach the model.

import { createReadStream, mkdirSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import * as E from 'fp-ts/lib/Either.js'
import { lastValueFrom, tap } from 'rxjs'
import { GradstreamError } from '../core/errors.ts'
import type { Checkpoint } from '../io/checkpoint.ts'
import { checkLayout, checkpointName } from '../io/checkpoint.ts'
import { listCheckpoints, loadCheckpoint, saveCheckpoint } from '../io/checkpoint-file.ts'
import { fsErrorLine } from '../io/fs-error.ts'
import { checkDirectoryPath } from '../io/run-dir.ts'
import type { RunLock } from '../io/run-lock.ts'
import { lockRunDir } from '../io/run-lock.ts'
import { formatOf } from '../io/tabular.ts'
import type { AnyObjective } from '../models/objective.ts'
import type { Optimizer } from '../models/optimizers.ts'
import { optimizerFromSpec } from '../models/optimizers.ts'
import type { Built, ZooName } from '../models/zoo/index.ts'
import { supervised } from '../models/objective.ts'
import { lossFromSpec } from '../models/registry.ts'
import { euclidean } from '../models/loss.ts'
import { sequential } from '../models/sequential.ts'
import { onlineStandardize } from '../models/standardize-online.ts'
import { ZOO_NAMES, zooEntry } from '../models/zoo/index.ts'

const ONLINE_MODELS = ZOO_NAMES.filter((m) => m !== 'rbm' && m !== 'autoencoder')
import { ACTIVATIONS } from '../models/zoo/mlp.ts'
import type { OnlineEvent, OnlineItem, OnlineMetrics } from '../streams/online.ts'
import { joinedRecords } from '../streams/joined-records.ts'
import { online, onlineLearner } from '../streams/online.ts'
import type { RecordFormat } from '../streams/record-source.ts'
import { recordsFromReadable } from '../streams/record-source.ts'
import type { Snapshot } from '../streams/snapshot.ts'
import { hashParams } from '../streams/snapshot.ts'
import { countParams } from '../core/tree.ts'
import { stopOnSignals, untilStopped } from './signals.ts'
import { adwin } from '../streams/drift-adwin.ts'
import { pageHinkley } from '../streams/drift-page-hinkley.ts'
import type { OnDrift, OnlineDrift, SavedDrift } from '../streams/drift-reset.ts'
import { savedDriftOf } from '../streams/drift-reset.ts'
import type { LogCounts } from '../streams/log-online.ts'
import { addCounts, countsOf, metricsOf, ZERO_COUNTS } from '../streams/log-online.ts'
import type { WaitingExample } from '../streams/online.ts'
import { decodeWaiting, encodeWaiting } from '../streams/waiting-codec.ts'
import type { Io } from './io.ts'
import { choiceFlag, intFlag, listFlag, numFlag, parseFlags, UsageError } from './usage.ts'
import { onlineRunConfig, openOnlineRunLog } from './online-run-log.ts'

export const ONLINE_USAGE = `usage: gradstream online --label COL | --target COL [--loss softmax|euclidean] [--input FILE] [--format csv|ndjson] [--features a,b,c]
       [--classes a,b,c | --num-classes N] [--model mlp] [--hidden 64] [--activation ${ACTIVATIONS.join('|')}]
       [--optimizer sgd|momentum|nesterov|adam] [--lr 0.01] [--momentum M] [--weight-decay W]
       [--batch 1] [--window 500] [--report-every 1000] [--seed S] [--json]
       [--checkpoint-dir DIR [--checkpoint-every 10000]] [--standardize online|none]
       [--drift adwin|page-hinkley] [--on-drift warn|reset] [--label-delay N | --labels FILE2 --id COL --time COL]
Reads NDJSON or CSV records (a header row names the columns) from FILE or stdin, predicts
each example, then learns from it. Labels are class names (in order of first appearance,
or the --classes list) or integer class indices; the model has --num-classes outputs
(default 10) unless --classes is given. Features are every numeric column of the first
usable record but the label, unless named with --features (safer for dirty data). Image
models (cnn, lenet5, ...) need 784 features. A progress line every --report-every examples.
With --checkpoint-dir, a checkpoint (safetensors) is written every --checkpoint-every examples
and at the end, and a restart on the same directory continues from its newest checkpoint.
Ctrl-C (SIGINT) or SIGTERM finishes the current record, saves, prints the summary, exits 0.
--standardize online puts a running standardisation in front of the model (River's
StandardScaler): learning a record first updates each feature's running mean and variance,
then scales it; a prediction scales with the statistics as they are. Its state is checkpointed.
--target COL (or --loss euclidean with --label COL) learns a regressor of that numeric column
with the Euclidean loss, one output; the summary has the prequential MAE and RMSE.
--label-delay N: the label of a record arrives N records later: each record is predicted on
arrival (the metrics score that prediction) and learned when its label arrives; at the end
the labels still waiting arrive, unless a signal ended the run: then they stay waiting in the
final checkpoint (every checkpoint holds the records waiting at its step) and a restart given
the rest of the records continues with them, as if never stopped.
--labels FILE2 --id COL --time COL: the labels come in a second log, rows {COL id, COL time,
--label column}; the records carry an id and a time (and no label). Both logs are merged in
time order (a number or a date; at equal times the record first) and each record is predicted
on arrival and learned when the label naming its id arrives. Records whose label never comes
are counted as waiting, labels for no waiting record as unmatched. The checkpoints hold the
records waiting, so a restart given the rest of both logs joins their labels when they come.
After a restart the counts and cumulative metrics are over the whole stream (the checkpoint's
plus this process's); the window ones are this process's.
--drift watches the prequential errors with ADWIN (default) or Page-Hinkley; --on-drift warn
reports each change on stderr, reset also re-initialises the model (from the seed and the
reset count) when the error rose. The detector's state is checkpointed.`

const FLAGS = {
  label: { type: 'string' },
  input: { type: 'string' },
  format: { type: 'string' },
  features: { type: 'string' },
  classes: { type: 'string' },
  'num-classes': { type: 'string' },
  model: { type: 'string' },
  hidden: { type: 'string' },
  activation: { type: 'string' },
  optimizer: { type: 'string' },
  lr: { type: 'string' },
  momentum: { type: 'string' },
  'weight-decay': { type: 'string' },
  batch: { type: 'string' },
  window: { type: 'string' },
  'report-every': { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'boolean' },
  'checkpoint-dir': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  standardize: { type: 'string' },
  target: { type: 'string' },
  loss: { type: 'string' },
  'label-delay': { type: 'string' },
  drift: { type: 'string' },
  'on-drift': { type: 'string' },
  labels: { type: 'string' },
  id: { type: 'string' },
  time: { type: 'string' },
} as const

export interface OnlineFlags {
  readonly label: string
  /** A file, or undefined / '-' for stdin. */
  readonly input?: string
  readonly format?: RecordFormat
  readonly features?: readonly string[]
  readonly classes?: readonly string[]
  readonly numClasses: number
  readonly model: ZooName
  readonly hidden?: readonly number[]
  readonly activation?: (typeof ACTIVATIONS)[number]
  readonly optimizer: 'sgd' | 'momentum' | 'nesterov' | 'adam'
  readonly lr: number
  readonly momentum?: number
  readonly weightDecay?: number
  readonly batch: number
  readonly window: number
  readonly reportEvery: number
  readonly seed: number
  readonly json: boolean
  readonly checkpointDir?: string
  readonly checkpointEvery: number
  /** 'online': an onlineStandardize layer in front of the model (models/standardize-online.ts). */
  readonly standardize: 'online' | 'none'
  /** A drift detector on the prequential errors (--drift; --on-drift alone means adwin). */
  readonly drift?: 'adwin' | 'page-hinkley'
  readonly onDrift: OnDrift
  /** 'euclidean': a regressor of the numeric --label (or --target) column, one output. */
  readonly loss: 'softmax' | 'euclidean'
  /** --label-delay: labels arrive this many records after their record (online.ts labelDelay). */
  readonly labelDelay: number
  /**
   * --labels FILE --id COL --time COL: labels arrive in a second log ({id, time, label}
   * rows), merged with the records by time (streams/joined-records.ts) and joined by id.
   */
  readonly labels?: string
  readonly id?: string
  readonly time?: string
}

/** The drift option of online() the flags describe (continuing from a checkpoint's saved state). */
export const onlineDriftOf = (flags: Pick<OnlineFlags, 'drift' | 'onDrift'>, resume?: SavedDrift): OnlineDrift | undefined =>
  flags.drift === undefined
    ? undefined
    : { detector: flags.drift === 'adwin' ? () => adwin() : () => pageHinkley(), onDrift: flags.onDrift, ...(resume !== undefined ? { resume } : {}) }

/** With --loss euclidean, the built network (one output) under the Euclidean loss (mean over the batch). */
const regressor = (model: string, built: Built, loss: OnlineFlags['loss'], inShape: readonly number[]): Built => {
  if (loss !== 'euclidean') return built
  if (built.layer === undefined) throw new GradstreamError(`--loss euclidean: expected a network model, got --model ${model}`)
  return { layer: built.layer, objective: supervised(built.layer, euclidean('mean'), inShape) as AnyObjective }
}

/** The network of a built model behind an online standardisation, with the same loss. */
const standardized = (model: string, built: Built, inShape: readonly number[]): AnyObjective => {
  const spec = built.objective.spec
  if (built.layer === undefined || spec.kind !== 'supervised')
    throw new GradstreamError(`--standardize online: expected a supervised network model, got --model ${model}`)
  const loss = lossFromSpec(spec.loss)
  if (E.isLeft(loss)) throw loss.left
  return supervised(sequential(onlineStandardize(), built.layer), loss.right, inShape) as AnyObjective
}

/** The model and optimizer the flags describe, for F features and the given classes. */
export const onlineModelOf = (flags: OnlineFlags, F: number, classCount: number): { objective: AnyObjective; optimizer: Optimizer } => {
  const entry = zooEntry(flags.model)
  if (entry.input === 'image' && F !== 784)
    throw new GradstreamError(`--model ${flags.model} expects 28x28x1 images (784 features), got ${F} features; use --model mlp`)
  const inShape = entry.input === 'image' ? [28, 28, 1] : [F]
  const built = regressor(flags.model, entry.build({ hidden: flags.hidden, activation: flags.activation, classes: flags.loss === 'euclidean' ? 1 : classCount }, inShape), flags.loss, inShape)
  const objective = flags.standardize === 'online' ? standardized(flags.model, built, inShape) : built.objective
  const optimizer: Optimizer = optimizerFromSpec(
    flags.optimizer === 'sgd'
      ? { type: 'sgd', lr: flags.lr, weightDecay: flags.weightDecay }
      : flags.optimizer === 'adam'
        ? { type: 'adam', lr: flags.lr, weightDecay: flags.weightDecay }
        : { type: flags.optimizer, lr: flags.lr, momentum: flags.momentum, weightDecay: flags.weightDecay },
  )
  return { objective, optimizer }
}

const names = (flag: string, v: string | boolean | undefined): string[] | undefined => {
  if (v === undefined) return undefined
  const parts = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : []
  if (parts.length === 0 || parts.some((p) => p === ''))
    throw new UsageError(`--${flag}: expected comma-separated names like a,b,c, got ${JSON.stringify(v)}`)
  return parts
}

const driftFlags = (drift: unknown, onDrift: unknown): Pick<OnlineFlags, 'drift' | 'onDrift'> => {
  const on = choiceFlag('on-drift', onDrift as string | undefined, ['warn', 'reset'] as const)
  const d = choiceFlag('drift', drift as string | undefined, ['adwin', 'page-hinkley'] as const) ?? (on !== undefined ? 'adwin' : undefined)
  return { ...(d !== undefined ? { drift: d } : {}), onDrift: on ?? 'warn' }
}

export const parseOnlineFlags = (args: readonly string[]): OnlineFlags => {
  const { values: v } = parseFlags(args, FLAGS)
  if (typeof v.target === 'string' && v.label !== undefined) throw new UsageError('--target: give either --label (a class) or --target (a number), not both')
  const column = typeof v.target === 'string' ? v.target : v.label
  if (typeof column !== 'string' || column.trim() === '')
    throw new UsageError(typeof v.target === 'string' ? '--target: expected the target column' : '--label: expected the label column')
  const loss = choiceFlag('loss', v.loss, ['softmax', 'euclidean'] as const) ?? (v.target !== undefined ? 'euclidean' : 'softmax')
  if (v.target !== undefined && loss !== 'euclidean') throw new UsageError(`--loss: --target learns a regressor (euclidean), got ${loss}`)
  const classes = names('classes', v.classes)
  if (classes !== undefined && v['num-classes'] !== undefined)
    throw new UsageError('--num-classes: give either --classes or --num-classes, not both')
  if (loss === 'euclidean' && (classes !== undefined || v['num-classes'] !== undefined))
    throw new UsageError(`--${classes !== undefined ? 'classes' : 'num-classes'}: not with a regressor (--target or --loss euclidean)`)
  const join = { labels: v.labels, id: v.id, time: v.time }
  const given = Object.entries(join).filter(([, x]) => x !== undefined)
  if (given.length > 0 && given.length < 3)
    throw new UsageError(`--${Object.entries(join).find(([, x]) => x === undefined)?.[0]}: labels from a second log need --labels FILE, --id COL and --time COL`)
  for (const [k, x] of given) if (typeof x !== 'string' || x.trim() === '') throw new UsageError(`--${k}: expected ${k === 'labels' ? 'a file' : 'a column name'}, got ${JSON.stringify(x)}`)
  if (given.length > 0 && v['label-delay'] !== undefined) throw new UsageError('--label-delay: give either --label-delay or --labels, not both')
  return {
    ...(given.length === 3 ? { labels: join.labels as string, id: (join.id as string).trim(), time: (join.time as string).trim() } : {}),
    loss,
    labelDelay: intFlag('label-delay', v['label-delay'], 0) ?? 0,
    label: column.trim(),
    input: typeof v.input === 'string' ? v.input : undefined,
    format: choiceFlag('format', v.format, ['csv', 'ndjson'] as const),
    features: names('features', v.features),
    classes,
    numClasses: classes?.length ?? intFlag('num-classes', v['num-classes'], 2) ?? 10,
    // Prequential accuracy needs a classifier: the RBM and the autoencoder are not ones.
    model: choiceFlag('model', v.model, ONLINE_MODELS) ?? 'mlp',
    hidden: listFlag('hidden', v.hidden),
    activation: choiceFlag('activation', v.activation, ACTIVATIONS),
    optimizer: choiceFlag('optimizer', v.optimizer, ['sgd', 'momentum', 'nesterov', 'adam'] as const) ?? 'sgd',
    lr: numFlag('lr', v.lr, (n) => n > 0, 'a positive number') ?? 0.01,
    momentum: numFlag('momentum', v.momentum, (n) => n >= 0 && n < 1, 'a number in [0, 1)'),
    weightDecay: numFlag('weight-decay', v['weight-decay'], (n) => n >= 0, 'a number >= 0'),
    batch: intFlag('batch', v.batch) ?? 1,
    window: intFlag('window', v.window) ?? 500,
    reportEvery: intFlag('report-every', v['report-every']) ?? 1000,
    seed: intFlag('seed', v.seed, 0) ?? 0,
    json: v.json === true,
    checkpointDir: typeof v['checkpoint-dir'] === 'string' ? v['checkpoint-dir'] : undefined,
    checkpointEvery: intFlag('checkpoint-every', v['checkpoint-every']) ?? 10000,
    standardize: choiceFlag('standardize', v.standardize, ['online', 'none'] as const) ?? 'none',
    ...driftFlags(v.drift, v['on-drift']),
  }
}

export interface OnlineSummary extends Omit<OnlineMetrics, 'windowExamples'> {
  readonly model: string
  readonly params: number
  readonly features: readonly string[]
  readonly classes: readonly string[]
  readonly window: number
  readonly steps: number
  readonly seconds: number
  readonly recordsPerSecond: number
  readonly hash: string
  /** Checkpoint files written (with --checkpoint-dir). */
  readonly checkpoints: number
  /** The step of the checkpoint this process continued from (0: a fresh model). */
  readonly resumedFrom: number
  /** Set when a signal ended the stream before its input did. */
  readonly interrupted?: string
  /** --standardize. */
  readonly standardize: 'online' | 'none'
  /** Changes the drift detector signalled, and model resets, in this process (--drift). */
  readonly drifts: number
  readonly resets: number
  /** --label-delay. */
  readonly labelDelay: number
}

/** The input stream, with read errors turned into one-line GradstreamErrors. */
const openInput = async (
  flags: Pick<OnlineFlags, 'input'>,
  io: Io,
  flag = 'input',
): Promise<{ stream: AsyncIterable<string | Uint8Array>; name: string; close: () => void }> => {
  const withStdin = io as Io & { readonly stdin?: Readable }
  if (flags.input === undefined || flags.input === '-') {
    const stdin = withStdin.stdin ?? process.stdin
    if ((stdin as { isTTY?: boolean }).isTTY) io.stderr.write('gradstream online: reading records from the terminal (end with Ctrl-D; --input FILE reads a file)\n')
    // Closing stdin (after a signal) lets the process exit while a read is pending.
    return { stream: stdin, name: 'stdin', close: () => void (stdin as Readable).destroy?.() }
  }
  const path = flags.input
  try {
    const s = await stat(path)
    if (s.isDirectory()) throw new GradstreamError(`--${flag}: ${path} is a directory`)
  } catch (e) {
    if (e instanceof GradstreamError) throw e
    throw new GradstreamError(`--${flag}: could not read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  const file = createReadStream(path)
  async function* guarded(): AsyncGenerator<string | Uint8Array, void, undefined> {
    try {
      yield* file as AsyncIterable<Uint8Array>
    } catch (e) {
      throw new GradstreamError(`--${flag}: could not read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
    } finally {
      file.destroy()
    }
  }
  return { stream: guarded(), name: path, close: () => void file.destroy() }
}

/** The checkpoint metadata key of the drift detector's saved state. */
export const DRIFT_META = 'online_drift'
/** The counts over the whole stream so far (log-online.ts LogCounts), so a restart's summary is cumulative. */
export const COUNTS_META = 'online_counts'
/** The records predicted and waiting for their labels (--label-delay, --labels; waiting-codec.ts). */
export const WAITING_META = 'online_waiting'

const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : 'n/a')
const num = (v: number): string => v.toLocaleString('en-US')
const fixed = (v: number): string => (Number.isFinite(v) ? v.toPrecision(4) : 'n/a')

/** Runs `gradstream online` to the end of its input; resolves to the summary. */
export const runOnline = async (flags: OnlineFlags, io: Io): Promise<OnlineSummary> => {
  // The checkpoint directory is checked, created and locked (one writer) before any input.
  let lock: RunLock | undefined
  if (flags.checkpointDir !== undefined) {
    const dir = flags.checkpointDir
    if (!checkDirectoryPath(dir, '--checkpoint-dir').exists)
      try {
        mkdirSync(dir, { recursive: true })
      } catch (e) {
        throw new GradstreamError(`--checkpoint-dir: cannot create ${fsErrorLine(e, dir)}`)
      }
    lock = lockRunDir(dir)
  }
  try {
    return await runOnlineLocked(flags, io)
  } finally {
    lock?.release()
  }
}

/**
 * The newest checkpoint in `dir` that loads and fits this model and optimizer (older
 * ones are tried when the newest is corrupt; each skipped file is reported).
 */
const newestUsable = (dir: string, objective: AnyObjective, optimizer: Optimizer, warn: (line: string) => void): Checkpoint | undefined => {
  const all = listCheckpoints(dir)
  for (let i = all.length - 1; i >= 0; i--) {
    try {
      const c = loadCheckpoint(all[i].path)
      if (JSON.stringify(c.model) !== JSON.stringify(objective.spec)) throw new GradstreamError(`${c.file}: its model differs from this one (other flags or features?)`)
      if (JSON.stringify(c.optimizer) !== JSON.stringify(optimizer.spec)) throw new GradstreamError(`${c.file}: its optimizer differs from this one`)
      checkLayout(objective, c)
      return c
    } catch (e) {
      if (!(e instanceof GradstreamError)) throw e
      warn(`gradstream online: skipped ${e.message}`)
    }
  }
  return undefined
}

const runOnlineLocked = async (flags: OnlineFlags, io: Io): Promise<OnlineSummary> => {
  const say = (line: string): void => void io.stdout.write(`${line}\n`)
  const warn = (line: string): void => void io.stderr.write(`${line}\n`)
  const input = await openInput(flags, io)
  const format = flags.format ?? (input.name === 'stdin' ? undefined : formatOf(input.name))
  const labelsInput = flags.labels === undefined ? undefined : await openInput({ input: flags.labels }, io, 'labels')
  const records: { features: readonly string[]; classCount?: number; classes(): readonly string[]; records: AsyncIterable<OnlineItem> } =
    labelsInput === undefined
      ? await recordsFromReadable(input.stream, {
          label: flags.label,
          features: flags.features,
          classes: flags.classes,
          numClasses: flags.classes === undefined ? flags.numClasses : undefined,
          format,
          ...(flags.loss === 'euclidean' ? { target: true } : {}),
        }).catch((e: unknown) => {
          throw e instanceof GradstreamError ? new GradstreamError(`${input.name}: ${e.message.replace(/^records: /, '')}`) : e
        })
      : await joinedRecords(input.stream, labelsInput.stream, {
          id: flags.id ?? '',
          time: flags.time ?? '',
          label: flags.label,
          features: flags.features,
          classes: flags.classes,
          format,
          labelsFormat: formatOf(labelsInput.name),
          labelsName: labelsInput.name,
          ...(flags.loss === 'euclidean' ? { target: true } : {}),
        }).then(
          (j) => ({ features: j.features, classCount: flags.classes?.length, classes: j.classes, records: j.items }),
          (e: unknown) => {
            throw e instanceof GradstreamError ? new GradstreamError(`${input.name}: ${e.message.replace(/^records: /, '')}`) : e
          },
        )
  const regresses = flags.loss === 'euclidean'
  const classCount = regresses ? 1 : (records.classCount ?? flags.numClasses)
  const { objective, optimizer } = onlineModelOf(flags, records.features.length, classCount)
  const dir = flags.checkpointDir
  const from = dir !== undefined ? newestUsable(dir, objective, optimizer, warn) : undefined
  const runLog = dir === undefined ? undefined : openOnlineRunLog(dir, onlineRunConfig(flags, input.name === 'stdin' ? { type: 'stdin' } : { type: 'file', path: input.name, format }, from?.snapshot.step ?? 0, { objective, optimizer }))
  let checkpoints = 0
  // Delayed or joined labels: records read but not yet learned ride in every checkpoint,
  // so a checkpoint covers every record read (as a Redis run's do: log-online.ts).
  const waits = flags.labelDelay > 0 || flags.labels !== undefined
  const base: LogCounts = from !== undefined && Object.hasOwn(from.extra, COUNTS_META) ? countsOf(from.file, from.extra[COUNTS_META]) : ZERO_COUNTS
  const resumedWaiting: readonly WaitingExample[] = from !== undefined && Object.hasOwn(from.extra, WAITING_META) ? decodeWaiting(from.file, from.extra[WAITING_META]) : []
  if (from !== undefined && resumedWaiting.length > 0 && !waits)
    throw new GradstreamError(`${from.file}: ${resumedWaiting.length} records are waiting for their labels; continue with that run's --label-delay or --labels`)
  // A checkpoint at the step of the last one is the same file unless records were read
  // since that wait for their labels (then it is written again, over it).
  let saved = from !== undefined ? `${from.snapshot.step}` : ''
  const checkpoint =
    dir === undefined
      ? undefined
      : {
          every: flags.checkpointEvery,
          save: (s: Snapshot, m: OnlineMetrics, drift?: SavedDrift, waiting?: readonly WaitingExample[]): void => {
            const at = waits ? `${s.step}:${m.seen}` : `${s.step}`
            if (at === saved) return
            const counts = addCounts(base, m)
            saveCheckpoint(join(dir, checkpointName(s.step)), s, {
              model: objective.spec,
              optimizer: optimizer.spec,
              extra: {
                online_records: String(counts.seen),
                online_examples: String(counts.examples),
                [COUNTS_META]: JSON.stringify(counts),
                ...(drift !== undefined ? { [DRIFT_META]: JSON.stringify(drift) } : {}),
                ...(waits ? { [WAITING_META]: encodeWaiting(waiting ?? []) } : {}),
              },
            })
            saved = at
            checkpoints++
          },
        }
  const savedDrift = from !== undefined && Object.hasOwn(from.extra, DRIFT_META) ? savedDriftOf(from.file, from.extra[DRIFT_META]) : undefined
  const drift = onlineDriftOf(flags, savedDrift)
  const options = {
    seed: flags.seed,
    ...(flags.labelDelay > 0 ? { labelDelay: flags.labelDelay } : {}),
    ...(flags.labels !== undefined ? { joinLabels: true } : {}),
    // A signal leaves the delayed labels waiting (in the final checkpoint, for a restart);
    // the end of the input makes them arrive. Joined records wait for labels to come.
    ...(waits && dir !== undefined ? { keepWaiting: flags.labels !== undefined ? true : () => stop.signal() !== undefined } : {}),
    ...(resumedWaiting.length > 0 ? { waiting: resumedWaiting } : {}),
    ...(drift !== undefined ? { drift } : {}),
    batchSize: flags.batch,
    window: flags.window,
    snapshotEvery: flags.reportEvery,
    checkpoint,
    ...(from !== undefined ? { initial: from.snapshot } : {}),
  }
  const learner = onlineLearner(objective, optimizer, options)
  if (E.isLeft(learner)) throw learner.left
  const params = countParams(learner.right.snapshot().params)
  say(
    `gradstream online: ${flags.model} (${num(params)} parameters) on ${input.name}: ${records.features.length} features, ` +
      (regresses ? `target "${flags.label}" (euclidean), ` : `label "${flags.label}", ${classCount} classes, `) +
      `${flags.optimizer} lr ${flags.lr}, batch ${flags.batch}, window ${flags.window}` +
      (flags.standardize === 'online' ? ', online standardisation' : ''),
  )
  const LISTED = 10
  let listed = 0
  let last: { snapshot: Snapshot; metrics: OnlineMetrics; drift?: SavedDrift; waiting?: readonly WaitingExample[] } | undefined
  let lastRaw: OnlineMetrics | undefined
  if (from !== undefined) say(`continuing from step ${from.snapshot.step}: ${from.file}`)
  const t0 = performance.now()
  const report = (raw: OnlineEvent): void => {
    // Snapshot metrics over the whole stream (the checkpoint's counts plus this process's).
    const c = raw.type === 'snapshot' && base !== ZERO_COUNTS ? addCounts(base, raw.metrics) : undefined
    const e: OnlineEvent = raw.type === 'snapshot' && c !== undefined ? { ...raw, metrics: { ...metricsOf(c, raw.metrics), drifts: c.drifts, resets: c.resets, ...(c.unmatchedLabels !== undefined ? { unmatchedLabels: c.unmatchedLabels } : {}) } } : raw
    runLog?.event(e)
    if (e.type === 'snapshot') {
      last = e
      if (raw.type === 'snapshot') lastRaw = raw.metrics
      if (e.final) return
      const m = e.metrics
      const secs = (performance.now() - t0) / 1000
      say(
        `records ${num(m.seen)}: ${num(m.learned)} learned, ${num(m.rejected)} rejected, ${num(Math.round(m.seen / Math.max(secs, 1e-9)))} records/s, ` +
          (regresses
            ? `window MAE ${fixed(m.windowMae)}, RMSE ${fixed(m.windowRmse)} (last ${num(m.windowExamples)})`
            : `window accuracy ${pct(m.windowAccuracy)} (last ${num(m.windowExamples)})`),
      )
      return
    }
    if (e.type === 'drift') {
      const where = e.line !== undefined ? `line ${e.line}` : `record ${e.index + 1}`
      const d = Object.entries(e.detail)
        .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
        .join(', ')
      warn(`${input.name} ${where}: drift detected by ${e.detector} at example ${num(e.step)} (${d})${e.reset ? '; model reset' : ''}`)
      return
    }
    if (listed < LISTED) {
      const where = e.line !== undefined ? `line ${e.line}` : `record ${e.index + 1}`
      warn(
        e.type === 'rejected'
          ? `${input.name} ${where}: rejected, ${e.reason} (${e.detail})`
          : `${input.name} ${where}: update skipped at step ${e.step}, ${e.reason}`,
      )
    } else if (listed === LISTED) warn('further rejected records and skipped updates are counted, not listed')
    listed++
  }
  // A signal ends the record stream after the record being learned (signals.ts); the
  // stream then ends as if the input had: final snapshot, checkpoint, summary.
  const stop = stopOnSignals(io, 'online', 'finishing the current record')
  try {
    await lastValueFrom(online(objective, optimizer, untilStopped(records.records, stop), options).pipe(tap(report)), {
      defaultValue: undefined,
    })
  } catch (e) {
    throw e instanceof GradstreamError ? e : new GradstreamError(`${input.name}: ${(e as Error).message}`)
  } finally {
    stop.dispose()
    if (stop.signal() !== undefined) {
      input.close()
      labelsInput?.close()
    }
  }
  const seconds = (performance.now() - t0) / 1000
  if (last === undefined) throw new GradstreamError(`${input.name}: the stream ended without a result`)
  const m = last.metrics
  if (checkpoint !== undefined) checkpoint.save(last.snapshot, lastRaw ?? m, last.drift, last.waiting ?? (waits ? [] : undefined))
  const interrupted = stop.signal()
  const summary: OnlineSummary = {
    model: flags.model,
    params,
    features: records.features,
    classes: records.classes(),
    seen: m.seen,
    examples: m.examples,
    learned: m.learned,
    skipped: m.skipped,
    rejected: m.rejected,
    rejectedByReason: m.rejectedByReason,
    accuracy: m.accuracy,
    loss: m.loss,
    windowAccuracy: m.windowAccuracy,
    windowLoss: m.windowLoss,
    mae: m.mae,
    rmse: m.rmse,
    windowMae: m.windowMae,
    windowRmse: m.windowRmse,
    macroF1: m.macroF1,
    windowMacroF1: m.windowMacroF1,
    window: flags.window,
    steps: last.snapshot.step,
    seconds: Math.round(seconds * 100) / 100,
    recordsPerSecond: Math.round(m.seen / Math.max(seconds, 1e-9)),
    hash: hashParams(last.snapshot),
    checkpoints,
    resumedFrom: from?.snapshot.step ?? 0,
    standardize: flags.standardize,
    drifts: m.drifts,
    resets: m.resets,
    labelDelay: flags.labelDelay,
    ...(m.waiting !== undefined ? { waiting: m.waiting } : {}),
    ...(m.unmatchedLabels !== undefined ? { unmatchedLabels: m.unmatchedLabels } : {}),
    ...(interrupted !== undefined ? { interrupted } : {}),
  }
  const reasons = Object.entries(m.rejectedByReason)
    .map(([r, n]) => `${r} ${num(n)}`)
    .join(', ')
  say(
    `online: ${num(m.seen)} records seen, ${num(m.learned)} learned, ${num(m.skipped)} skipped, ` +
      `${num(m.rejected)} rejected${reasons ? ` (${reasons})` : ''}` +
      (m.unmatchedLabels !== undefined ? `, ${num(m.waiting ?? 0)} still waiting for a label, ${num(m.unmatchedLabels)} labels for no waiting record` : '') +
      ` in ${summary.seconds}s`,
  )
  say(
    regresses
      ? `prequential MAE ${fixed(m.mae)}, RMSE ${fixed(m.rmse)} over all; ${fixed(m.windowMae)}, ${fixed(m.windowRmse)} over the last ${num(m.windowExamples)}`
      : `prequential accuracy ${pct(m.accuracy)} over all, ${pct(m.windowAccuracy)} over the last ${num(m.windowExamples)}; ` +
          `log loss ${m.loss.toFixed(4)} / ${m.windowLoss.toFixed(4)}` +
          (Number.isNaN(m.macroF1) ? '' : `; macro F1 ${m.macroF1.toFixed(4)} / ${m.windowMacroF1.toFixed(4)}`),
  )
  if (interrupted !== undefined)
    say(`stopped by ${interrupted} after record ${num(m.seen)}${dir !== undefined ? `; checkpoint ${join(dir, checkpointName(last.snapshot.step))}` : ''}`)
  if (flags.json) say(JSON.stringify(summary))
  return summary
}

export const onlineCommand = async (args: readonly string[], io: Io): Promise<void> => {
  await runOnline(parseOnlineFlags(args), io)
}
