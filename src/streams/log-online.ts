// Exactly-once online learning from an event log (any LogConsumer: log-source.ts).
//
//   log --read n at a time--> entries --decode--> records --online(...)--> events
//                                 |  bad: dead-letter copy, then a `rejected` event
//   every N examples and at the end: checkpoint (safetensors, atomic + fsync) whose
//   metadata names the log, the group and the LAST ENTRY ID it contains
//   --> only then: commit (acknowledge) every entry up to that id
//
// Why this is exactly-once. An entry is acknowledged only after a durable checkpoint
// contains its update, so at any crash every entry after the newest checkpoint is still
// pending in the group. On start the learner loads that checkpoint, lets the broker
// acknowledge the pending entries at or before its id (they are in the parameters
// already) and re-reads the rest in log order. Learning is deterministic (same state,
// same entries => same bits), so the final parameters equal an uninterrupted run's, and
// the counts in the checkpoint (seen, learned, rejected by reason, hits) continue across
// restarts. A dead-letter copy is made before its entry is counted, idempotently, so a
// crash between the two repeats the copy harmlessly.
//
// The learner is `online(...)` with its public source and checkpoint hook: the source
// is pulled one record at a time, so when the hook runs every record yielded so far has
// been learned or rejected (checked: metrics.seen must equal the records yielded), and
// the last yielded entry is exactly what the checkpoint covers. Memory is bounded by the
// read size: the consumer holds at most the entries being learned and one read made ahead.
//
// Labels are class indices or names of a fixed list (`classes`): a restarted learner
// must map them exactly as the first one did, so no mapping is learned on the way.
// Features are named, or those of the first entry with the label (kept in the checkpoint).
// The sliding-window metrics restart empty after a restart; the cumulative ones do not
// (macro F1 too: the counts keep the per-class true positives, predictions and labels).
//
// Delayed labels (`labelDelay`). The examples read and predicted but still waiting for
// their labels ride in every checkpoint with the predictions made at their arrival
// (waiting-codec.ts), so a checkpoint covers every entry read and acknowledging up to the
// last one stays exactly-once. The alternative, a checkpoint covering only the entries
// whose label was learned and a restart reading the waiting ones again, cannot reproduce
// their arrival predictions: those came from parameters older than the checkpoint's. At
// the end of a run the waiting examples stay waiting (in the final checkpoint) unless
// `releaseWaiting`: the stream is finished, their labels arrive as at the end of a file.

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { Observable } from 'rxjs'
import type { Subscription } from 'rxjs'
import { GradstreamError } from '../core/errors.ts'
import { size } from '../core/tensor.ts'
import type { Checkpoint } from '../io/checkpoint.ts'
import { checkpointName, encodeCheckpoint } from '../io/checkpoint.ts'
import { hashParams } from './snapshot.ts'
import { listCheckpoints, loadCheckpoint, saveCheckpoint } from '../io/checkpoint-file.ts'
import type { Example, Rejection, Schema } from '../io/records.ts'
import { checkColumnName, decodeObject, inferFeatures, LabelMap } from '../io/records.ts'
import type { AnyObjective } from '../models/objective.ts'
import type { Optimizer } from '../models/optimizers.ts'
import type { LogConsumer, LogEntry, ModelSink, PublishedModel } from './log-source.ts'
import { decodePacked, entryRecord, F32_FIELD, packedAt } from './log-source.ts'
import type { OnlineDrift, SavedDrift } from './drift-reset.ts'
import { savedDriftOf } from './drift-reset.ts'
import { NumericTargets } from './numeric-targets.ts'
import type { ClassCounts } from './rolling-metrics.ts'
import { addClassCounts, macroF1 } from './rolling-metrics.ts'
import type { OnlineDriftEvent, OnlineExample, OnlineLabel, OnlineMetrics, OnlineSnapshotEvent, RejectedEvent, SkippedEvent, WaitingExample } from './online.ts'
import { joinLabelOf, joinPackedRecordOf, joinRecordOf } from './joined-records.ts'
import { decodeWaiting, encodeWaiting } from './waiting-codec.ts'
import { online } from './online.ts'
import { yieldToEventLoop } from './yield.ts'

// ---- what a checkpoint of a log run records -------------------------------------------

/** Counts over the whole log so far (across restarts). */
export interface LogCounts {
  readonly seen: number
  readonly examples: number
  readonly learned: number
  readonly skipped: number
  readonly rejected: number
  readonly rejectedByReason: { readonly [reason: string]: number }
  /** Correct prequential predictions (classifiers). */
  readonly hits: number
  /** Sum and count of the finite prequential losses. */
  readonly lossSum: number
  readonly lossCount: number
  /** Changes signalled by the drift detector (0 without one). */
  readonly drifts: number
  /** Model resets after a drift (onDrift 'reset'). */
  readonly resets: number
  /** A regressor's summed absolute and squared prequential errors, and how many examples they cover. */
  readonly absSum: number
  readonly sqSum: number
  readonly regCount: number
  /**
   * A classifier's per-class true positives, predictions and labels over the whole log
   * (for the cumulative macro F1); absent for a regressor, above MAX_CONFUSION_CLASSES
   * classes, or when an older checkpoint did not keep them.
   */
  readonly classCounts?: ClassCounts
  /** With a label stream: label entries that named no waiting record. */
  readonly unmatchedLabels?: number
}

export const ZERO_COUNTS: LogCounts = {
  seen: 0, examples: 0, learned: 0, skipped: 0, rejected: 0, rejectedByReason: {}, hits: 0, lossSum: 0, lossCount: 0, drifts: 0, resets: 0, absSum: 0, sqSum: 0, regCount: 0,
}

/** Where a log run stands: its newest checkpoint and what it says about the log. */
export interface LogResume {
  readonly checkpoint: Checkpoint
  readonly stream: string
  readonly group: string
  /** The last entry whose record the checkpoint contains. */
  readonly lastEntryId: string
  readonly label: string
  readonly features: readonly string[]
  readonly classes: readonly string[]
  readonly counts: LogCounts
  /** The drift detector's state and counts, when the run had one (drift-reset.ts). */
  readonly drift?: SavedDrift
  /** The run's label delay in entries (0: none). */
  readonly labelDelay: number
  /** The examples read and predicted but still waiting for their labels, oldest first. */
  readonly waiting: readonly WaitingExample[]
  /** Labels joined by id from a label log (merged-log.ts): the id field and the label log's name. */
  readonly join?: { readonly id: string; readonly labelStream: string }
}

const META = {
  stream: 'log_stream',
  group: 'log_group',
  last: 'log_last_entry',
  label: 'log_label',
  features: 'log_features',
  classes: 'log_classes',
  counts: 'log_counts',
  drift: 'log_drift',
  labelDelay: 'log_label_delay',
  waiting: 'log_waiting',
  joinId: 'log_join_id',
  labelStream: 'log_label_stream',
} as const

const bad = (file: string, what: string): never => {
  throw new GradstreamError(`${file}: not a checkpoint of a log run (${what}); use another --checkpoint-dir`)
}

const stringList = (file: string, key: string, raw: string | undefined): string[] => {
  let v: unknown
  try {
    v = JSON.parse(raw ?? '')
  } catch {
    return bad(file, `metadata "${key}" is not JSON`)
  }
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) return bad(file, `metadata "${key}" is not a list of names`)
  return v as string[]
}

const classCountsOf = (file: string, v: unknown): ClassCounts => {
  const o = v as Record<string, unknown>
  if (typeof v !== 'object' || v === null) return bad(file, 'classCounts is not an object')
  const list = (k: keyof ClassCounts): number[] => {
    const a = o[k]
    return Array.isArray(a) && a.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) ? (a as number[]) : bad(file, `classCounts.${k} is not a list of counts`)
  }
  const c = { truePositives: list('truePositives'), predicted: list('predicted'), actual: list('actual') }
  if (c.predicted.length !== c.truePositives.length || c.actual.length !== c.truePositives.length) return bad(file, 'classCounts lists differ in length')
  return c
}

export const countsOf = (file: string, raw: string | undefined): LogCounts => {
  let v: unknown
  try {
    v = JSON.parse(raw ?? '')
  } catch {
    return bad(file, `metadata "${META.counts}" is not JSON`)
  }
  const o = v as Record<string, unknown>
  if (typeof v !== 'object' || v === null) return bad(file, `metadata "${META.counts}" is not an object`)
  const n = (k: keyof LogCounts, integer = true): number => {
    const x = o[k]
    return typeof x === 'number' && Number.isFinite(x) && (!integer || (Number.isSafeInteger(x) && x >= 0)) ? x : bad(file, `count "${k}" is ${JSON.stringify(x)}`)
  }
  const reasons = o.rejectedByReason
  if (typeof reasons !== 'object' || reasons === null || Array.isArray(reasons)) return bad(file, 'rejectedByReason is not an object')
  const byReason: Record<string, number> = {}
  for (const [r, c] of Object.entries(reasons as Record<string, unknown>)) {
    if (!(typeof c === 'number' && Number.isSafeInteger(c) && c >= 0)) return bad(file, `rejectedByReason "${r}" is ${JSON.stringify(c)}`)
    byReason[r] = c
  }
  return {
    ...(o.classCounts === undefined ? {} : { classCounts: classCountsOf(file, o.classCounts) }),
    seen: n('seen'), examples: n('examples'), learned: n('learned'), skipped: n('skipped'), rejected: n('rejected'),
    rejectedByReason: byReason, hits: n('hits'), lossSum: n('lossSum', false), lossCount: n('lossCount'),
    drifts: o.drifts === undefined ? 0 : n('drifts'),
    resets: o.resets === undefined ? 0 : n('resets'),
    absSum: o.absSum === undefined ? 0 : n('absSum', false),
    sqSum: o.sqSum === undefined ? 0 : n('sqSum', false),
    regCount: o.regCount === undefined ? 0 : n('regCount'),
    ...(o.unmatchedLabels === undefined ? {} : { unmatchedLabels: n('unmatchedLabels') }),
  }
}

/** Reads what a log run's checkpoint says about the log (a one-line error if it is not one). */
export const logResumeOf = (checkpoint: Checkpoint): LogResume => {
  const x = checkpoint.extra
  const f = checkpoint.file
  const get = (k: string): string => (Object.hasOwn(x, k) ? x[k] : bad(f, `no metadata "${k}"`))
  return {
    checkpoint,
    stream: get(META.stream),
    group: get(META.group),
    lastEntryId: get(META.last),
    label: get(META.label),
    features: stringList(f, META.features, get(META.features)),
    classes: stringList(f, META.classes, get(META.classes)),
    counts: countsOf(f, get(META.counts)),
    ...(Object.hasOwn(x, META.drift) ? { drift: savedDriftOf(f, x[META.drift]) } : {}),
    labelDelay: Object.hasOwn(x, META.labelDelay) ? delayOf(f, x[META.labelDelay]) : 0,
    waiting: Object.hasOwn(x, META.waiting) ? decodeWaiting(f, x[META.waiting]) : [],
    ...(Object.hasOwn(x, META.joinId) ? { join: { id: x[META.joinId], labelStream: get(META.labelStream) } } : {}),
  }
}

const delayOf = (file: string, raw: string): number => {
  const n = Number(raw)
  return /^\d+$/.test(raw) && Number.isSafeInteger(n) ? n : bad(file, `metadata "${META.labelDelay}" is ${JSON.stringify(raw)}`)
}

/** The newest checkpoint of a log run in `dir`, or undefined when there is none. */
export const latestLogCheckpoint = (dir: string): LogResume | undefined => {
  const all = listCheckpoints(dir)
  if (all.length === 0) return undefined
  return logResumeOf(loadCheckpoint(all[all.length - 1].path))
}

// ---- events --------------------------------------------------------------------------

export interface LogCheckpointEvent {
  readonly type: 'checkpoint'
  readonly file: string
  readonly step: number
  /** The last entry the checkpoint contains; entries up to it are acknowledged next. */
  readonly entryId: string
  readonly counts: LogCounts
}

/** Online events (metrics cumulative over the whole log), with entry ids, and checkpoints. */
export type LogOnlineEvent =
  | (OnlineSnapshotEvent & { readonly entryId?: string; readonly counts: LogCounts })
  | (RejectedEvent & { readonly entryId: string })
  | (SkippedEvent & { readonly entryId: string })
  | LogCheckpointEvent
  | (OnlineDriftEvent & { readonly entryId: string })

// ---- the run --------------------------------------------------------------------------

// Records are handed over as microtasks, which never let the event loop read a socket: the
// broker's reply to the read made ahead (redis-source.ts) would wait, unparsed, until the
// learner ran dry. One event-loop turn every TURN_EVERY entries lets it arrive while the
// current entries are learned (~5 us a turn, against ~1 ms of learning).
const TURN_EVERY = 16

/** One entry as the learner reads it: an example, or a rejection with its reason. */
export const decodeEntry = (e: LogEntry, schema: Schema, labels: LabelMap, line: number): E.Either<Rejection, Example> => {
  const at = packedAt(e.fields)
  if (at >= 0) return decodePacked(e.fields, at, schema, labels, line)
  const rec = entryRecord(e.fields)
  return E.isLeft(rec) ? E.left({ line, ...rec.left }) : decodeObject(rec.right, schema, labels, line)
}

/** An entry as a learner reads it: a record, or with a label log (`join`), a joined record (with its id) or a label. */
export const logItemOf = (
  e: LogEntry,
  schema: Schema,
  labels: LabelMap,
  line: number,
  join?: { readonly id: string; readonly target: boolean },
): E.Either<Rejection, Example | OnlineExample> | OnlineLabel => {
  if (join === undefined) return decodeEntry(e, schema, labels, line)
  const at = e.kind !== 'label' ? packedAt(e.fields) : -1
  if (at >= 0) return joinPackedRecordOf(e.fields, at, schema.features, join.id, line)
  const rec = entryRecord(e.fields)
  if (E.isLeft(rec)) return E.left({ line, ...rec.left })
  if (e.kind !== 'label') return joinRecordOf(rec.right, schema.features, join.id, line)
  const l = joinLabelOf(rec.right, { id: join.id, label: schema.label, target: join.target }, labels, line)
  return E.isLeft(l) ? l : l.right
}

export interface LogModel {
  readonly objective: AnyObjective
  readonly optimizer: Optimizer
}

export interface LogOnlineOptions {
  /** The label field. */
  readonly label: string
  /** Feature fields in order; default: the numeric fields of the first entry with the label. */
  readonly features?: readonly string[]
  /** The classes: labels are their names or their indices (0-based). Empty for a regressor (`target`). */
  readonly classes: readonly string[]
  /** The label field is a regressor's numeric target (numeric-targets.ts), not a class. */
  readonly target?: boolean
  /** Checkpoints go here (step-<8 digits>.safetensors). */
  readonly checkpointDir: string
  /** A checkpoint (and the acknowledgement after it) every this many examples (default 1000). */
  readonly checkpointEvery?: number
  /** Continue from this (latestLogCheckpoint); its features and classes win. */
  readonly resume?: LogResume
  /** End after this many seconds without a new entry (default: never). */
  readonly untilIdle?: number
  /** End (with the final checkpoint) when aborted: SIGINT/SIGTERM. */
  readonly signal?: AbortSignal
  /** Entries per read: the bound on entries held in memory (default 256). */
  readonly readCount?: number
  /** Longest blocking wait of one read, ms (default 500): how fast a stop is noticed. */
  readonly waitMs?: number
  /** At most this many entries are read to find the feature fields (default 1000). */
  readonly lookahead?: number
  /** Seed of a fresh run (default 0); a resumed run keeps its key. */
  readonly seed?: number
  readonly batchSize?: number
  readonly window?: number
  readonly snapshotEvery?: number
  /**
   * A drift detector on the prequential error stream (1 = miss, 0 = hit, one value per
   * example) and what a signal does (drift-reset.ts): a `drift` event (step = example
   * number over the whole log), counted in `drifts`; with onDrift 'reset' the model is
   * re-initialised (counted in `resets`). The detector's state and both counts are in
   * every checkpoint, so a restarted run signals and resets at the same entries.
   */
  readonly drift?: Omit<OnlineDrift, 'resume'>
  /**
   * Publish the model every this many examples (and at the end) to a sink that
   * followers read (redis-models.ts). The newest waiting model replaces an unsent one.
   */
  readonly publish?: { readonly every: number; readonly sink: ModelSink }
  /**
   * Delayed labels (online.ts labelDelay): the label of an entry arrives with the entry
   * `labelDelay` entries later. The examples still waiting ride in every checkpoint
   * (features, label, prediction at arrival), so every entry read is covered by the
   * checkpoint and acknowledged, and a restarted learner scores and learns them as an
   * uninterrupted one would. A resumed run must keep the delay of its checkpoint.
   */
  readonly labelDelay?: number
  /**
   * When this run ends (idle, signal), the labels still waiting arrive, as at the end of a
   * file: the stream is finished. Default false: they stay waiting in the final checkpoint
   * and the next run continues them, so a stream learned over several runs ends on one run's bits.
   */
  readonly releaseWaiting?: boolean
  /**
   * Labels joined by record id (online.ts joinLabels) from a label log merged into `log`
   * (mergedLog: entries of kind 'label', fields {id, label}): records carry the `id` field
   * (and no label), are predicted on arrival and learned when their label entry comes. The
   * records waiting for a label ride in every checkpoint, as with `labelDelay`.
   */
  readonly join?: { readonly id: string; readonly labelStream: string }
  /** Called as each entry goes to the learner (e.g. for its lag); it must not throw. */
  readonly onEntry?: (entry: LogEntry) => void
}

const positive = (name: string, v: number | undefined, def: number): number => {
  const n = v ?? def
  if (!(Number.isInteger(n) && n >= 1)) throw new GradstreamError(`online from a log: expected ${name} to be a positive integer, got ${n}`)
  return n
}

/** Counts of a checkpoint plus a process's metrics. */
export const addCounts = (base: LogCounts, m: OnlineMetrics): LogCounts => {
  const byReason: Record<string, number> = { ...base.rejectedByReason }
  for (const [r, c] of Object.entries(m.rejectedByReason)) byReason[r] = (byReason[r] ?? 0) + c
  // The finite losses are the examples whose loss was finite; a skipped update with a
  // non-finite loss is not among them (a non-finite gradient's loss is).
  const lossCount = Number.isFinite(m.loss) ? m.examples - m.skipped : 0
  // Per-class counts add up exactly; a base with examples but without them (an older
  // checkpoint) leaves the cumulative macro F1 unknown rather than wrong.
  const mc = m.classCounts
  const classCounts = mc === undefined ? undefined : base.classCounts !== undefined ? addClassCounts(base.classCounts, mc) : base.examples === 0 ? mc : undefined
  return {
    ...(classCounts !== undefined ? { classCounts } : {}),
    ...(m.unmatchedLabels !== undefined ? { unmatchedLabels: (base.unmatchedLabels ?? 0) + m.unmatchedLabels } : {}),
    seen: base.seen + m.seen,
    examples: base.examples + m.examples,
    learned: base.learned + m.learned,
    skipped: base.skipped + m.skipped,
    rejected: base.rejected + m.rejected,
    rejectedByReason: byReason,
    hits: base.hits + (Number.isFinite(m.accuracy) ? Math.round(m.accuracy * m.examples) : 0),
    lossSum: base.lossSum + (lossCount > 0 ? m.loss * lossCount : 0),
    lossCount: base.lossCount + lossCount,
    drifts: base.drifts + m.drifts,
    resets: base.resets + m.resets,
    // MAE and RMSE are over this process's examples: their sums back (exact enough for a
    // summary; the parameters never depend on them).
    absSum: base.absSum + (Number.isFinite(m.mae) ? m.mae * m.examples : 0),
    sqSum: base.sqSum + (Number.isFinite(m.rmse) ? m.rmse * m.rmse * m.examples : 0),
    regCount: base.regCount + (Number.isFinite(m.mae) ? m.examples : 0),
  }
}

/** The cumulative metrics of counts (the window ones are this process's). */
export const metricsOf = (c: LogCounts, m: OnlineMetrics): OnlineMetrics => ({
  ...m,
  seen: c.seen,
  examples: c.examples,
  learned: c.learned,
  skipped: c.skipped,
  rejected: c.rejected,
  rejectedByReason: c.rejectedByReason,
  accuracy: c.examples > 0 && Number.isFinite(m.accuracy) ? c.hits / c.examples : m.accuracy,
  loss: c.lossCount > 0 ? c.lossSum / c.lossCount : NaN,
  mae: c.regCount > 0 ? c.absSum / c.regCount : m.mae,
  rmse: c.regCount > 0 ? Math.sqrt(c.sqSum / c.regCount) : m.rmse,
  macroF1: c.classCounts === undefined ? NaN : macroF1(c.classCounts),
  classCounts: c.classCounts,
})

/**
 * Learns online from a log, exactly once (see the top of this file). `model` is the
 * objective and optimizer, or a function of the feature names (when they are taken
 * from the first entry). Cold: the run starts on subscription; unsubscribing stops it
 * without a final checkpoint (what a crash does; the next start re-reads). It completes
 * when the log has been idle for `untilIdle` seconds or `signal` is aborted, after the
 * final checkpoint and acknowledgement.
 */
export const onlineFromLog = (
  log: LogConsumer,
  model: LogModel | ((features: readonly string[]) => LogModel),
  options: LogOnlineOptions,
): Observable<LogOnlineEvent> =>
  new Observable<LogOnlineEvent>((subscriber) => {
    let stopped = false
    let inner: Subscription | undefined
    const resume = options.resume
    const readCount = positive('readCount', options.readCount, 256)
    const waitMs = positive('waitMs', options.waitMs, 500)
    const every = positive('checkpointEvery', options.checkpointEvery, 1000)
    const lookahead = positive('lookahead', options.lookahead, 1000)
    const publishEvery = options.publish === undefined ? undefined : positive('publish.every', options.publish.every, 1)
    const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b))
    const label = resume?.label ?? options.label
    const classes = resume?.classes ?? options.classes
    const base = resume?.counts ?? ZERO_COUNTS
    const labelDelay = options.labelDelay ?? 0
    const joined = options.join
    // Examples wait for their labels (and ride in the checkpoints) with a delay or a label log.
    const waits = labelDelay > 0 || joined !== undefined

    const main = async (): Promise<void> => {
      checkColumnName(label)
      if (options.target === true ? classes.length !== 0 : classes.length === 0)
        throw new GradstreamError(`online from a log: expected ${options.target === true ? 'no class list for a regressor' : 'a non-empty class list'}, got ${classes.length} classes`)
      if (resume !== undefined && (resume.stream !== log.stream || resume.group !== log.group))
        throw new GradstreamError(
          `${resume.checkpoint.file}: learned from stream "${resume.stream}" group "${resume.group}", not stream "${log.stream}" group "${log.group}"`,
        )
      if (resume !== undefined && (resume.join?.id !== joined?.id || resume.join?.labelStream !== joined?.labelStream))
        throw new GradstreamError(
          `${resume.checkpoint.file}: learned ${resume.join === undefined ? 'without a label stream' : `with labels from "${resume.join.labelStream}" by "${resume.join.id}"`}, not ${joined === undefined ? 'without one' : `from "${joined.labelStream}" by "${joined.id}"`}`,
        )
      if (joined !== undefined && labelDelay > 0) throw new GradstreamError('online from a log: expected labelDelay or a label stream, not both')
      if (resume !== undefined && resume.labelDelay !== labelDelay)
        throw new GradstreamError(`${resume.checkpoint.file}: learned with a label delay of ${resume.labelDelay} entries, not ${labelDelay}; give the first run's --label-delay`)
      try {
        mkdirSync(options.checkpointDir, { recursive: true })
      } catch (e) {
        throw new GradstreamError(`--checkpoint-dir: could not create ${options.checkpointDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
      }
      await log.open(resume?.lastEntryId)
      const labels = options.target === true ? new NumericTargets() : new LabelMap(classes)
      let lastId = resume?.lastEntryId
      let durable = lastId // the newest id a durable checkpoint contains
      let acked = lastId
      let idleSince = performance.now()
      let toPublish: PublishedModel | undefined
      const publishWaiting = async (): Promise<void> => {
        const m = toPublish
        toPublish = undefined
        if (m !== undefined && options.publish !== undefined) await options.publish.sink.publish(m)
      }

      /** The next entries, or undefined when the run should end. Commits first. */
      const nextBatch = async (): Promise<readonly LogEntry[] | undefined> => {
        for (;;) {
          if (stopped || options.signal?.aborted === true) return undefined
          if (durable !== undefined && durable !== acked) {
            const d = durable
            await log.commit(d)
            acked = d
          }
          await publishWaiting()
          const left = options.untilIdle === undefined ? waitMs : options.untilIdle * 1000 - (performance.now() - idleSince)
          const got = await log.read(readCount, Math.max(1, Math.min(waitMs, left)))
          if (got.length > 0) {
            idleSince = performance.now()
            return got
          }
          if (options.untilIdle !== undefined && performance.now() - idleSince >= options.untilIdle * 1000) return undefined
        }
      }

      // The feature fields: named, kept in the checkpoint, or those of the first entry with the label.
      let features = resume?.features ?? options.features
      const buffered: LogEntry[] = []
      while (features === undefined) {
        const batch = await nextBatch()
        if (batch === undefined) break
        for (const e of batch) {
          buffered.push(e)
          if (features === undefined && packedAt(e.fields) >= 0)
            throw new GradstreamError(`${log.name}: entry ${e.id} packs its features in "${F32_FIELD}", which names none: name them (--features, in the producer's order)`)
          const r = entryRecord(e.fields)
          // Joined: the first record (not a label entry) with the id field; its label field, if any, is not a feature.
          if (joined !== undefined) {
            if (features === undefined && e.kind !== 'label' && E.isRight(r) && Object.hasOwn(r.right, joined.id))
              features = inferFeatures(Object.keys(r.right), r.right, label).filter((c) => c !== joined.id)
          } else if (features === undefined && E.isRight(r) && Object.hasOwn(r.right, label)) features = inferFeatures(Object.keys(r.right), r.right, label)
        }
        if (features === undefined && buffered.length >= lookahead)
          throw new GradstreamError(`${log.name}: expected an entry with a${joined !== undefined ? `n id field "${joined.id}"` : ` label field "${label}"`} within ${lookahead} entries to find the feature fields`)
      }
      if (features === undefined && buffered.length > 0)
        throw new GradstreamError(`${log.name}: none of the ${buffered.length} entries read has a${joined !== undefined ? `n id field "${joined.id}"` : ` label field "${label}"`} (to find the feature fields)`)
      if (features === undefined) {
        // Ended (idle or stopped) before any usable entry: nothing learned, nothing to save.
        await log.close()
        await options.publish?.sink.close()
        subscriber.complete()
        return
      }
      if (features.length === 0) throw new GradstreamError(`${log.name}: expected at least one numeric feature besides "${label}", found none`)
      features.forEach(checkColumnName)
      const schema = { features, label }
      const { objective, optimizer } = typeof model === 'function' ? model(features) : model
      if (size(objective.inShape) !== features.length)
        throw new GradstreamError(`online from a log: the model takes ${size(objective.inShape)} inputs, but there are ${features.length} features`)

      let yielded = 0
      let sinceTurn = 0
      let current: LogEntry | undefined
      /** An entry as the learner reads it: a record, or with a label log, a joined record or a label. */
      const joinedAs = joined === undefined ? undefined : { id: joined.id, target: options.target === true }
      const itemOf = (e: LogEntry, line: number): E.Either<Rejection, Example | OnlineExample> | OnlineLabel => logItemOf(e, schema, labels, line, joinedAs)
      async function* records(): AsyncGenerator<E.Either<Rejection, Example | OnlineExample> | OnlineLabel, void, undefined> {
        for (;;) {
          const batch = buffered.length > 0 ? buffered.splice(0) : await nextBatch()
          if (batch === undefined) return
          for (const e of batch) {
            if (stopped) return
            if (++sinceTurn >= TURN_EVERY) {
              sinceTurn = 0
              await yieldToEventLoop()
              if (stopped) return
            }
            const line = base.seen + yielded + 1
            const item = itemOf(e, line)
            if (!('labelFor' in item) && E.isLeft(item)) await log.deadLetter(e, item.left.reason, item.left.detail)
            if (stopped) return
            current = e
            lastId = e.id
            yielded++
            options.onEntry?.(e)
            yield item
          }
        }
      }

      const featureList = features
      const metaOf = (m: OnlineMetrics, last: string, drift: SavedDrift | undefined, waiting?: readonly WaitingExample[]) => {
        const counts = addCounts(base, m)
        return {
          counts,
          meta: {
            model: objective.spec,
            optimizer: optimizer.spec,
            extra: {
              [META.stream]: log.stream,
              [META.group]: log.group,
              [META.last]: last,
              [META.label]: label,
              [META.features]: JSON.stringify(featureList),
              [META.classes]: JSON.stringify(classes),
              [META.counts]: JSON.stringify(counts),
              ...(drift !== undefined ? { [META.drift]: JSON.stringify(drift) } : {}),
              ...(labelDelay > 0 ? { [META.labelDelay]: String(labelDelay) } : {}),
              ...(joined !== undefined ? { [META.joinId]: joined.id, [META.labelStream]: joined.labelStream } : {}),
              ...(waits ? { [META.waiting]: encodeWaiting(waiting ?? []) } : {}),
            },
          },
        }
      }
      const write = (
        snapshot: OnlineSnapshotEvent['snapshot'],
        m: OnlineMetrics,
        drift: SavedDrift | undefined,
        waiting: readonly WaitingExample[] | undefined,
      ): LogCheckpointEvent | undefined => {
        if (m.seen !== yielded)
          throw new GradstreamError(`online from a log: a checkpoint after ${m.seen} records, but ${yielded} were read: it would not line up with the log`)
        // Nothing new read and nothing learned (a resumed run releasing waiting labels learns
        // without reading): the newest checkpoint already says it all.
        if (lastId === undefined || (yielded === 0 && m.examples === 0)) return undefined
        if (waits && waiting === undefined) throw new GradstreamError('online from a log: a checkpoint with labels to wait for needs the waiting examples')
        const { counts, meta } = metaOf(m, lastId, drift, waiting)
        const file = join(options.checkpointDir, checkpointName(snapshot.step))
        saveCheckpoint(file, snapshot, meta)
        durable = lastId
        return { type: 'checkpoint', file, step: snapshot.step, entryId: lastId, counts }
      }
      const queuePublication = (snapshot: OnlineSnapshotEvent['snapshot'], m: OnlineMetrics, drift: SavedDrift | undefined): void => {
        if (options.publish === undefined || lastId === undefined) return
        toPublish = {
          step: snapshot.step,
          entryId: lastId,
          hash: hashParams(snapshot),
          input: JSON.stringify({ kind: 'tabular', classes, features: featureList }),
          bytes: encodeCheckpoint(snapshot, metaOf(m, lastId, drift).meta),
        }
      }
      // One hook serves checkpoints and publications: it runs every gcd of the two periods.
      let examplesBefore = 0
      const crossed = (n: number, period: number): boolean => Math.floor(n / period) > Math.floor(examplesBefore / period)

      const events = online(objective, optimizer, records(), {
        seed: options.seed,
        initial: resume?.checkpoint.snapshot,
        batchSize: options.batchSize,
        window: options.window,
        snapshotEvery: options.snapshotEvery,
        ...(options.drift !== undefined ? { drift: { ...options.drift, ...(resume?.drift !== undefined ? { resume: resume.drift } : {}) } } : {}),
        ...(labelDelay > 0 ? { labelDelay, keepWaiting: options.releaseWaiting !== true } : {}),
        ...(joined !== undefined ? { joinLabels: true, keepWaiting: true } : {}),
        ...(waits && resume !== undefined ? { waiting: resume.waiting } : {}),
        checkpoint: {
          every: publishEvery === undefined ? every : gcd(every, publishEvery),
          save: (s, m, drift, waiting) => {
            if (crossed(m.examples, every)) {
              const c = write(s, m, drift, waiting)
              if (c !== undefined) subscriber.next(c)
            }
            if (publishEvery !== undefined && crossed(m.examples, publishEvery)) queuePublication(s, m, drift)
            examplesBefore = m.examples
          },
        },
      })
      inner = events.subscribe({
        next: (e) => {
          if (e.type === 'snapshot') {
            const counts = addCounts(base, e.metrics)
            const out = { ...e, metrics: metricsOf(counts, e.metrics), counts }
            subscriber.next(lastId === undefined ? out : { ...out, entryId: lastId })
            if (e.final) {
              const c = write(e.snapshot, e.metrics, e.drift, e.waiting ?? (waits ? [] : undefined))
              if (c !== undefined) subscriber.next(c)
              queuePublication(e.snapshot, e.metrics, e.drift)
            }
          } else subscriber.next({ ...e, entryId: current?.id ?? '' })
        },
        error: (err: unknown) => {
          void log.close()
          void options.publish?.sink.close()
          subscriber.error(err)
        },
        complete: () => {
          const finish = async (): Promise<void> => {
            if (durable !== undefined && durable !== acked) await log.commit(durable)
            await publishWaiting()
            await log.close()
            await options.publish?.sink.close()
          }
          finish().then(
            () => subscriber.complete(),
            (err: unknown) => subscriber.error(err),
          )
        },
      })
    }
    main().catch((err: unknown) => {
      void log.close()
      void options.publish?.sink.close()
      if (!stopped) subscriber.error(err)
    })
    return () => {
      stopped = true
      inner?.unsubscribe()
      void log.close()
      void options.publish?.sink.close()
    }
  })
