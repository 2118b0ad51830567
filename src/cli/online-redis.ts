// `gradstream online --redis URL --stream KEY ...`: exactly-once online learning from a
// Redis stream (streams/log-online.ts over streams/redis-source.ts).
//
// The model flags are `gradstream online`'s (parsed by parseOnlineFlags, so they mean
// the same thing); the flags below are this mode's own. A run restarted with the same
// --checkpoint-dir continues from its newest checkpoint: same model (the flags must
// agree with the checkpoint), same features and classes, counts cumulative.

import { lastValueFrom, tap } from 'rxjs'
import * as E from 'fp-ts/lib/Either.js'
import { GradstreamError } from '../core/errors.ts'
import { countParams } from '../core/tree.ts'
import { objectiveFromSpec } from '../models/objective-spec.ts'
import { optimizerFromSpec } from '../models/optimizers.ts'
import type { LogCounts, LogModel, LogOnlineEvent } from '../streams/log-online.ts'
import { latestLogCheckpoint, onlineFromLog } from '../streams/log-online.ts'
import { redisModelSink } from '../streams/redis-models.ts'
import { redisConsumer } from '../streams/redis-source.ts'
import { mergedLog } from '../streams/merged-log.ts'
import type { Snapshot } from '../streams/snapshot.ts'
import { hashParams } from '../streams/snapshot.ts'
import { macroF1 } from '../streams/rolling-metrics.ts'
import type { OnlineFlags } from './online-command.ts'
import { onlineDriftOf, onlineModelOf, parseOnlineFlags } from './online-command.ts'
import { stopOnSignals } from './signals.ts'
import type { Io } from './train-command.ts'
import { numFlag, UsageError } from './usage.ts'
import { onlineRunConfig, openOnlineRunLog } from './online-run-log.ts'

export const ONLINE_REDIS_USAGE = `usage: gradstream online --redis URL --stream KEY --label COL --checkpoint-dir DIR
       [--group gradstream] [--consumer learner] [--classes a,b,c | --num-classes N]
       [--checkpoint-every 1000] [--until-idle SECONDS] [--read-count 256] [--json]
       [--publish-every N [--models KEY:models] [--models-maxlen 10]]
       [--drift adwin|page-hinkley] [--on-drift warn|reset] [--standardize online]
       [--target COL instead of --label/--classes: a regressor] [--label-delay N [--release-waiting]]
       [--label-stream KEY --id COL]
       [the model flags of gradstream online]
Learns from the entries of a Redis stream through a consumer group, exactly once: entries
are acknowledged only after a checkpoint contains them, and a restart with the same
--checkpoint-dir continues from the newest one (after SIGKILL too). An entry is a record:
its field/value pairs, one field "json" holding a JSON object, or packed: a field "f32" (the
--features as base64 of little-endian float32, needs --features) beside the label. Bad entries are copied
with their reason to KEY:rejected. Labels are class names of --classes, or class indices.
--until-idle ends the run after that many seconds without a new entry; SIGINT/SIGTERM
end it the same way (final checkpoint, acknowledgement, summary). --publish-every appends
the model every N examples and at the end to a capped stream that gradstream predict
--follow redis://HOST:PORT/KEY:models reads. --drift watches the prequential errors with
ADWIN (default) or Page-Hinkley and reports each change on stderr (--on-drift warn); reset
also re-initialises the model when the error rose. The detector's state is in every checkpoint,
so a restarted learner resets at the same entries.
--label-delay N: an entry's label arrives with the entry N entries later: each entry is
predicted on arrival (the metrics score that prediction) and learned when its label arrives.
The entries waiting for their labels ride in every checkpoint with their arrival predictions,
so all entries read are acknowledged and a restart continues them as if never stopped; when
the run ends they stay waiting, unless --release-waiting (the stream is finished: their labels
arrive then, as at the end of a file, so the parameters equal online --input FILE --label-delay N's).
--label-stream KEY --id COL: the labels come as entries {COL, --label field} of a second stream
(same group); both streams are merged by entry id (the time Redis appended them; at equal ids
the record first) and each record is learned when the label naming its id arrives. The
checkpoint holds both streams' last entries (lastEntryId "<records id>|<labels id>") and the
records still waiting for a label; bad label entries go to KEY:rejected.`

/** This mode's flags: taken out before the rest go to parseOnlineFlags. */
const OWN = ['redis', 'stream', 'group', 'consumer', 'until-idle', 'read-count', 'publish-every', 'models', 'models-maxlen', 'release-waiting', 'label-stream', 'id'] as const
type Own = (typeof OWN)[number]

/** True when a `gradstream online` command line reads from Redis. */
export const readsRedis = (args: readonly string[]): boolean => args.some((a) => a === '--redis' || a.startsWith('--redis='))

/** This mode's flags without a value. */
const OWN_SWITCHES: readonly Own[] = ['release-waiting']

const splitOwn = (args: readonly string[]): { own: Partial<Record<Own, string>>; rest: string[] } => {
  const own: Partial<Record<Own, string>> = {}
  const rest: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(a)
    const name = m?.[1] as Own | undefined
    if (m === null || name === undefined || !(OWN as readonly string[]).includes(name)) {
      rest.push(a)
      continue
    }
    if (OWN_SWITCHES.includes(name)) {
      if (m[2] !== undefined) throw new UsageError(`--${name}: takes no value, got ${JSON.stringify(m[2])}`)
      own[name] = 'true'
      continue
    }
    const value = m[2] ?? args[++i]
    if (value === undefined || (m[2] === undefined && value.startsWith('--'))) throw new UsageError(`--${name}: expected a value`)
    if (own[name] !== undefined) throw new UsageError(`--${name}: given twice`)
    own[name] = value
  }
  return { own, rest }
}

export interface OnlineRedisFlags {
  readonly url: string
  readonly stream: string
  readonly group: string
  readonly consumer: string
  readonly untilIdle?: number
  readonly readCount: number
  readonly checkpointDir: string
  readonly checkpointEvery: number
  /** Publish the model every N examples (and at the end) to `models` (default KEY:models). */
  readonly publishEvery?: number
  readonly models: string
  readonly modelsMaxLen: number
  /** --label-stream KEY --id COL: labels {id, label} from a second stream, merged by entry id and joined by id. */
  readonly labelStream?: { readonly key: string; readonly id: string }
  /** --release-waiting: with --label-delay, the labels still waiting arrive when this run ends. */
  readonly releaseWaiting: boolean
  readonly online: OnlineFlags
}

export const parseOnlineRedisFlags = (args: readonly string[]): OnlineRedisFlags => {
  const { own, rest } = splitOwn(args)
  // Files of labels are the file mode's; a stream of labels is this mode's (--label-stream).
  for (const flag of ['labels', 'time'])
    if (rest.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`)))
      throw new UsageError(`--${flag}: not with --redis (labels from a second stream: --label-stream KEY --id COL)`)
  const online = parseOnlineFlags(rest)
  if (online.input !== undefined) throw new UsageError('--input: not with --redis (the records come from the stream)')
  if (online.format !== undefined) throw new UsageError('--format: not with --redis (an entry is field/value pairs or one "json" field)')
  if ((own['label-stream'] === undefined) !== (own.id === undefined))
    throw new UsageError(`--${own.id === undefined ? 'id' : 'label-stream'}: labels from a second stream need --label-stream KEY and --id COL`)
  if (own['label-stream'] !== undefined && online.labelDelay > 0) throw new UsageError('--label-delay: give either --label-delay or --label-stream, not both')
  if (own['label-stream'] !== undefined && own['label-stream'] === own.stream) throw new UsageError('--label-stream: expected another stream than --stream')
  if (own['release-waiting'] !== undefined && online.labelDelay === 0) throw new UsageError('--release-waiting: only with --label-delay N')
  if (own.redis === undefined || own.redis === '') throw new UsageError('--redis: expected a URL like redis://127.0.0.1:6379')
  if (own.stream === undefined || own.stream === '') throw new UsageError('--stream: expected the key of the stream to learn from')
  if (online.checkpointDir === undefined)
    throw new UsageError('--checkpoint-dir: expected a folder (with --redis, checkpoints are what makes learning exactly-once)')
  const name = (flag: string, v: string | undefined, def: string): string => {
    if (v === undefined) return def
    if (v.trim() === '') throw new UsageError(`--${flag}: expected a name, got ""`)
    return v
  }
  const readCount = own['read-count'] === undefined ? 256 : Number(own['read-count'])
  if (!(Number.isSafeInteger(readCount) && readCount >= 1 && readCount <= 100_000))
    throw new UsageError(`--read-count: expected an integer from 1 to 100000, got ${JSON.stringify(own['read-count'])}`)
  const count = (flag: 'publish-every' | 'models-maxlen'): number | undefined => {
    const v = own[flag]
    if (v === undefined) return undefined
    const n = Number(v)
    if (!(/^\d+$/.test(v.trim()) && Number.isSafeInteger(n) && n >= 1)) throw new UsageError(`--${flag}: expected an integer >= 1, got ${JSON.stringify(v)}`)
    return n
  }
  return {
    publishEvery: count('publish-every'),
    models: name('models', own.models, `${own.stream}:models`),
    modelsMaxLen: count('models-maxlen') ?? 10,
    releaseWaiting: own['release-waiting'] !== undefined,
    ...(own['label-stream'] !== undefined && own.id !== undefined ? { labelStream: { key: name('label-stream', own['label-stream'], ''), id: name('id', own.id, '').trim() } } : {}),
    url: own.redis,
    stream: own.stream,
    group: name('group', own.group, 'gradstream'),
    consumer: name('consumer', own.consumer, 'learner'),
    untilIdle: numFlag('until-idle', own['until-idle'], (n) => n > 0, 'a positive number of seconds'),
    readCount,
    checkpointDir: online.checkpointDir,
    // gradstream online's default (10,000) is for files; a log acknowledges after each checkpoint.
    checkpointEvery: rest.some((a) => a === '--checkpoint-every' || a.startsWith('--checkpoint-every=')) ? online.checkpointEvery : 1000,
    online,
  }
}

/** The summary: with --json, the last line of stdout. Counts are over the whole stream. */
export interface OnlineRedisSummary {
  readonly stream: string
  readonly group: string
  readonly model: string
  readonly params: number
  readonly features: readonly string[]
  readonly classes: readonly string[]
  readonly seen: number
  readonly learned: number
  readonly skipped: number
  readonly rejected: number
  readonly rejectedByReason: { readonly [reason: string]: number }
  readonly accuracy: number | null
  readonly loss: number | null
  /** A regressor's prequential MAE and RMSE over the whole stream (--target). */
  readonly mae: number | null
  readonly rmse: number | null
  /** Over the last --window examples of this process. */
  readonly windowAccuracy: number | null
  /**
   * A classifier's prequential macro F1 over the whole stream (from per-class counts kept
   * in the checkpoints, so a restarted learner reports the uninterrupted run's figure), and
   * over the last --window examples of this process; null for a regressor.
   */
  readonly macroF1: number | null
  readonly windowMacroF1: number | null
  /** --label-delay: the entries read and predicted whose labels have not arrived (in the final checkpoint). */
  readonly waiting?: number
  /** --label-stream: label entries that named no waiting record, over the whole stream. */
  readonly unmatchedLabels?: number
  readonly steps: number
  readonly lastEntryId: string | null
  readonly hash: string | null
  readonly checkpoints: number
  /** Drifts signalled over the whole stream (with --drift / --on-drift). */
  readonly drifts: number
  /** Model resets after a drift over the whole stream (--on-drift reset). */
  readonly resets: number
  /** Whether this process continued from a checkpoint. */
  readonly resumed: boolean
  readonly seconds: number
  /** Records this process read per second. */
  readonly recordsPerSecond: number
}

const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : 'n/a')
const num = (v: number): string => v.toLocaleString('en-US')
const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null)

/** Runs until idle or signalled; resolves to the summary. */
export const runOnlineRedis = async (flags: OnlineRedisFlags, io: Io, signal?: AbortSignal): Promise<OnlineRedisSummary> => {
  const say = (line: string): void => void io.stdout.write(`${line}\n`)
  const warn = (line: string): void => void io.stderr.write(`${line}\n`)
  const o = flags.online
  const resume = latestLogCheckpoint(flags.checkpointDir)
  const regresses = o.loss === 'euclidean'
  const classes = regresses ? [] : (resume?.classes ?? o.classes ?? Array.from({ length: o.numClasses }, (_, i) => String(i)))
  if (resume !== undefined) {
    if (o.classes !== undefined && JSON.stringify(o.classes) !== JSON.stringify(resume.classes))
      throw new GradstreamError(`${resume.checkpoint.file}: its classes are ${resume.classes.join(',')}, not --classes ${o.classes.join(',')}`)
    if (o.label !== resume.label) throw new GradstreamError(`${resume.checkpoint.file}: its label field is "${resume.label}", not --label ${o.label}`)
  }
  const model = (features: readonly string[]): LogModel => {
    const fromFlags = onlineModelOf(o, features.length, classes.length)
    if (resume === undefined) return fromFlags
    const objective = objectiveFromSpec(resume.checkpoint.model)
    if (E.isLeft(objective)) throw new GradstreamError(`${resume.checkpoint.file}: ${objective.left.message}`)
    if (JSON.stringify(resume.checkpoint.model) !== JSON.stringify(fromFlags.objective.spec))
      throw new GradstreamError(`${resume.checkpoint.file}: its model differs from the model flags; give the flags of the first run, or a new --checkpoint-dir`)
    if (JSON.stringify(resume.checkpoint.optimizer) !== JSON.stringify(fromFlags.optimizer.spec))
      throw new GradstreamError(`${resume.checkpoint.file}: its optimizer differs from the optimizer flags; give the flags of the first run, or a new --checkpoint-dir`)
    return { objective: objective.right, optimizer: optimizerFromSpec(resume.checkpoint.optimizer) }
  }
  const records = await redisConsumer({ url: flags.url, stream: flags.stream, group: flags.group, consumer: flags.consumer })
  const ls = flags.labelStream
  const log = ls === undefined ? records : mergedLog(records, await redisConsumer({ url: flags.url, stream: ls.key, group: flags.group, consumer: flags.consumer }))
  const publish =
    flags.publishEvery === undefined ? undefined : { every: flags.publishEvery, sink: await redisModelSink(flags.url, flags.models, flags.modelsMaxLen) }
  say(
    `gradstream online: ${log.name} consumer "${flags.consumer}", ` +
      (regresses ? `target "${o.label}" (euclidean), ` : `label "${o.label}", ${classes.length} classes, `) +
      (resume === undefined ? `a new ${o.model}` : `continuing from ${resume.checkpoint.file} (after entry ${resume.lastEntryId})`),
  )
  const LISTED = 10
  let listed = 0
  let checkpoints = 0
  let last: { snapshot: Snapshot; counts: LogCounts; windowAccuracy: number; windowMacroF1: number; waiting?: number; entryId?: string } | undefined
  let features: readonly string[] = resume?.features ?? o.features ?? []
  let params = 0
  const t0 = performance.now()
  let seenHere = 0
  const runLog = openOnlineRunLog(flags.checkpointDir, onlineRunConfig(o, { type: 'redis', url: flags.url, stream: flags.stream, group: flags.group }, resume?.checkpoint.snapshot.step ?? 0))
  const report = (e: LogOnlineEvent): void => {
    runLog.event(e)
    if (e.type === 'checkpoint') {
      checkpoints++
      return
    }
    if (e.type === 'snapshot') {
      if (params === 0) params = countParams(e.snapshot.params)
      last = { snapshot: e.snapshot, counts: e.counts, windowAccuracy: e.metrics.windowAccuracy, windowMacroF1: e.metrics.windowMacroF1, waiting: e.metrics.waiting, entryId: e.entryId ?? last?.entryId }
      seenHere = e.counts.seen - (resume?.counts.seen ?? 0)
      if (e.final) return
      const secs = (performance.now() - t0) / 1000
      say(
        `entries ${num(e.counts.seen)}: ${num(e.counts.learned)} learned, ${num(e.counts.rejected)} rejected, ` +
          `${num(Math.round(seenHere / Math.max(secs, 1e-9)))} entries/s, window accuracy ${pct(e.metrics.windowAccuracy)}, last entry ${e.entryId ?? '-'}`,
      )
      return
    }
    if (e.type === 'drift') {
      const d = Object.entries(e.detail)
        .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
        .join(', ')
      warn(`${flags.stream} entry ${e.entryId}: drift detected by ${e.detector} at example ${num(e.step)} (${d})${e.reset ? '; model reset' : ''}`)
      return
    }
    if (listed < LISTED)
      warn(
        e.type === 'rejected'
          ? `${flags.stream} entry ${e.entryId}: rejected, ${e.reason} (${e.detail}); copied to ${flags.stream}:rejected`
          : `${flags.stream} entry ${e.entryId}: update skipped at step ${e.step}, ${e.reason}`,
      )
    else if (listed === LISTED) warn('further rejected entries and skipped updates are counted, not listed')
    listed++
  }
  await lastValueFrom(
    onlineFromLog(
      log,
      (f) => {
        features = f
        return model(f)
      },
      {
        label: o.label,
        features: o.features,
        classes,
        ...(regresses ? { target: true } : {}),
        checkpointDir: flags.checkpointDir,
        checkpointEvery: flags.checkpointEvery,
        resume,
        untilIdle: flags.untilIdle,
        signal,
        readCount: flags.readCount,
        publish,
        drift: onlineDriftOf(o),
        ...(o.labelDelay > 0 ? { labelDelay: o.labelDelay, releaseWaiting: flags.releaseWaiting } : {}),
        ...(ls !== undefined ? { join: { id: ls.id, labelStream: ls.key } } : {}),
        seed: o.seed,
        batchSize: o.batch,
        window: o.window,
        snapshotEvery: o.reportEvery,
      },
    ).pipe(tap(report)),
    { defaultValue: undefined },
  )
  const seconds = (performance.now() - t0) / 1000
  const c = last?.counts ?? resume?.counts
  const summary: OnlineRedisSummary = {
    stream: flags.stream,
    group: flags.group,
    model: o.model,
    params,
    features,
    classes,
    seen: c?.seen ?? 0,
    learned: c?.learned ?? 0,
    skipped: c?.skipped ?? 0,
    rejected: c?.rejected ?? 0,
    rejectedByReason: c?.rejectedByReason ?? {},
    accuracy: !regresses && c !== undefined && c.examples > 0 ? c.hits / c.examples : null,
    loss: c !== undefined && c.lossCount > 0 ? c.lossSum / c.lossCount : null,
    mae: c !== undefined && c.regCount > 0 ? c.absSum / c.regCount : null,
    rmse: c !== undefined && c.regCount > 0 ? Math.sqrt(c.sqSum / c.regCount) : null,
    windowAccuracy: last === undefined ? null : finiteOrNull(last.windowAccuracy),
    macroF1: !regresses && c?.classCounts !== undefined ? finiteOrNull(macroF1(c.classCounts)) : null,
    windowMacroF1: last === undefined ? null : finiteOrNull(last.windowMacroF1),
    ...(o.labelDelay > 0 || ls !== undefined ? { waiting: last?.waiting ?? resume?.waiting.length ?? 0 } : {}),
    ...(ls !== undefined ? { unmatchedLabels: c?.unmatchedLabels ?? 0 } : {}),
    steps: last?.snapshot.step ?? resume?.checkpoint.snapshot.step ?? 0,
    lastEntryId: last?.entryId ?? resume?.lastEntryId ?? null,
    hash: last !== undefined ? hashParams(last.snapshot) : resume !== undefined ? hashParams(resume.checkpoint.snapshot) : null,
    checkpoints,
    drifts: c?.drifts ?? 0,
    resets: c?.resets ?? 0,
    resumed: resume !== undefined,
    seconds: Math.round(seconds * 100) / 100,
    recordsPerSecond: Math.round(seenHere / Math.max(seconds, 1e-9)),
  }
  const reasons = Object.entries(summary.rejectedByReason)
    .map(([r, n]) => `${r} ${num(n)}`)
    .join(', ')
  say(
    `online: ${num(summary.seen)} entries seen, ${num(summary.learned)} learned, ${num(summary.skipped)} skipped, ` +
      `${num(summary.rejected)} rejected${reasons ? ` (${reasons})` : ''}${summary.waiting !== undefined ? `, ${num(summary.waiting)} waiting for their labels` : ''}; last entry ${summary.lastEntryId ?? '-'}; ${checkpoints} checkpoints in ${summary.seconds}s`,
  )
  say(
    regresses
      ? `prequential MAE ${summary.mae?.toPrecision(4) ?? 'n/a'}, RMSE ${summary.rmse?.toPrecision(4) ?? 'n/a'} over the whole stream`
      : `prequential accuracy ${pct(summary.accuracy ?? NaN)} over the whole stream, ${pct(summary.windowAccuracy ?? NaN)} over this process's last ${num(o.window)}` +
          (summary.macroF1 === null ? '' : `; macro F1 ${summary.macroF1.toFixed(4)} / ${summary.windowMacroF1?.toFixed(4) ?? 'n/a'}`),
  )
  if (o.json) say(JSON.stringify(summary))
  return summary
}

/** The command: SIGINT/SIGTERM end the run cleanly (final checkpoint, acknowledgement, summary). */
export const onlineRedisCommand = async (args: readonly string[], io: Io): Promise<void> => {
  const flags = parseOnlineRedisFlags(args)
  const stop = stopOnSignals(io, 'online', 'finishing the entry being learned')
  const abort = new AbortController()
  void stop.stopped.then(() => abort.abort())
  try {
    await runOnlineRedis(flags, io, abort.signal)
  } finally {
    stop.dispose()
  }
}
