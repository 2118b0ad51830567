// An online run served by the dashboard: a --checkpoint-dir of `gradstream online` (a
// file or stdin) or `gradstream online --redis`, recognised by its online.json
// (cli/online-run-log.ts), with metrics.ndjson and the checkpoints beside it.
//
// Its positions are records (1 = after the first record read): the scrubber shows the
// exact state after record n, with its step and, for Redis runs, the stream entry id.
// That state is recomputed from the newest checkpoint at or before n plus the records
// after it, learned again (the learner is deterministic):
//  - Redis runs: the entry id of record n is found by walking the stream (XRANGE) from
//    that checkpoint's last entry; then streams/log-replay.ts `replayLog`, exactly what
//    `gradstream replay DIR --entry ID` runs. The URL and stream come from online.json,
//    never from a request. A run with --label-stream walks the two streams merged by
//    entry id (merged-log.ts mergedRange, the label stream named by its checkpoints), and
//    its entry ids are positions "<records id>|<labels id>".
//  - File runs: the input named in online.json is read from its start (labels by first
//    appearance and inferred features must be rebuilt the way the live run built them),
//    the records up to the checkpoint's count are passed over and the rest up to n are
//    learned with `online`, from the checkpoint's snapshot (or the seed's initial state).
//    The file must lie within the directories the dashboard was given or a --data-dir.
//    A file run continued by a later process over another input is not replayable (its
//    record numbers start again); stdin runs are not either (the records are gone).
// A replay costs at most the records between two checkpoints (--checkpoint-every).

import { createReadStream, existsSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { basename, join, sep } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { filter, lastValueFrom } from 'rxjs'
import { GradstreamError } from '../core/errors.ts'
import { countParams } from '../core/tree.ts'
import { listCheckpoints, loadCheckpoint } from '../io/checkpoint-file.ts'
import { objectiveFromSpec } from '../models/objective-spec.ts'
import { optimizerFromSpec } from '../models/optimizers.ts'
import { logResumeOf } from '../streams/log-online.ts'
import { replayLog } from '../streams/log-replay.ts'
import { comparePositions, mergedRange } from '../streams/merged-log.ts'
import type { OnlineItem } from '../streams/online.ts'
import { isSnapshotEvent, online } from '../streams/online.ts'
import { recordsFromReadable } from '../streams/record-source.ts'
import { compareStreamIds, redisRange } from '../streams/redis-source.ts'
import type { Snapshot } from '../streams/snapshot.ts'
import type { OnlineRunConfig } from '../cli/online-run-log.ts'
import { ONLINE_CONFIG, ONLINE_METRICS, withCredentials } from '../cli/online-run-log.ts'
import { holderAlive, readRunLock } from '../io/run-lock.ts'
import { DRIFT_META, onlineDriftOf, WAITING_META } from '../cli/online-command.ts'
import { decodeWaiting } from '../streams/waiting-codec.ts'
import { savedDriftOf } from '../streams/drift-reset.ts'
import type { RunStatus } from './run-files.ts'
import { LIVE_WINDOW_MS, NdjsonTail, num, objectOf } from './run-files.ts'

/** metrics.ndjson of an online run, as columns (one entry per record number, first line kept). */
export interface OnlineMetricsColumns {
  readonly record: number[]
  readonly step: number[]
  /** The last stream entry read (Redis runs; null for files). */
  readonly entryId: (string | null)[]
  readonly accuracy: (number | null)[]
  readonly loss: (number | null)[]
  readonly windowAccuracy: (number | null)[]
  readonly windowLoss: (number | null)[]
  /** Whether the newest line (of any record) is a process's last. */
  final: boolean
}

/** A checkpoint of an online run: the position it holds. */
export interface OnlineCheckpoint {
  readonly path: string
  readonly step: number
  readonly record: number
  readonly entryId?: string
  /** A Redis run with --label-stream: the stream of its labels (entry ids are then positions "<records id>|<labels id>"). */
  readonly labelStream?: string
  /** A file run with delayed labels: the checkpoint holds the records waiting for theirs (online-command.ts WAITING_META). */
  readonly waiting?: boolean
}

/** The state after one record. */
export interface OnlinePosition {
  readonly record: number
  readonly snapshot: Snapshot
  readonly entryId?: string
  /** The record of the checkpoint replayed from (0: the initial state) and the records learned again. */
  readonly from: number
  readonly replayed: number
}

/** One row of GET /api/runs for an online run (the training fields neutral). */
export interface OnlineRunInfo {
  readonly id: string
  readonly name: string
  readonly kind: 'online'
  readonly source: OnlineRunConfig['source']['type']
  /** For Redis runs: the stream key. */
  readonly stream?: string
  readonly model: string
  readonly params: number
  readonly status: RunStatus
  /** The last record reached (metrics or checkpoints), and the step there. */
  readonly lastRecord: number
  readonly firstStep: number
  readonly lastStep: number
  readonly steps: number
  readonly epochs: number
  /** Steps and records of the checkpoints. */
  readonly checkpoints: readonly number[]
  readonly checkpointRecords: readonly number[]
  readonly images: boolean
  readonly classifier: boolean
  /** Why the run's positions cannot be replayed (stdin, a file outside the allowed directories, ...). */
  readonly error?: string
}

const newColumns = (): OnlineMetricsColumns => ({ record: [], step: [], entryId: [], accuracy: [], loss: [], windowAccuracy: [], windowLoss: [], final: false })

/** Whether `dir` holds an online run (online.json). */
export const isOnlineRunDir = (dir: string): boolean => existsSync(join(dir, ONLINE_CONFIG))

const within = (file: string, dirs: readonly string[]): boolean =>
  dirs.some((d) => {
    try {
      const root = realpathSync(d)
      return file === root || file.startsWith(root.endsWith(sep) ? root : root + sep)
    } catch {
      return false
    }
  })

export class OnlineRun {
  readonly kind = 'online'
  private readonly tail: NdjsonTail<OnlineMetricsColumns>
  private readonly meta = new Map<string, OnlineCheckpoint>()
  private cfg?: { mtime: number; config: OnlineRunConfig }

  constructor(
    readonly id: string,
    readonly dir: string,
    /** Directories an input file may lie in: those given to the dashboard and --data-dir. */
    private readonly allowed: readonly string[],
  ) {
    this.tail = new NdjsonTail(join(dir, ONLINE_METRICS), newColumns, (c, o) => {
      if (!Number.isSafeInteger(o.record) || !Number.isSafeInteger(o.step)) return
      const record = o.record as number
      c.final = o.final === true
      // A restarted Redis learner writes the lines since its last checkpoint again.
      const last = c.record[c.record.length - 1]
      if (last !== undefined && record <= last) return
      c.record.push(record)
      c.step.push(o.step as number)
      c.entryId.push(typeof o.entryId === 'string' ? o.entryId : null)
      c.accuracy.push(num(o.accuracy))
      c.loss.push(num(o.loss))
      c.windowAccuracy.push(num(o.windowAccuracy))
      c.windowLoss.push(num(o.windowLoss))
    })
  }

  get name(): string {
    return basename(this.dir)
  }

  /** online.json (read again when a new process rewrote it). */
  config(): OnlineRunConfig {
    const path = join(this.dir, ONLINE_CONFIG)
    let mtime: number
    try {
      mtime = statSync(path).mtimeMs
    } catch {
      throw new GradstreamError(`${path}: expected the config of an online run, but it is gone`)
    }
    if (this.cfg?.mtime === mtime) return this.cfg.config
    const o = objectOf(readFileSync(path, 'utf8'))
    const source = o?.source as { type?: unknown } | undefined
    if (o === undefined || o.kind !== 'online' || typeof source !== 'object' || source === null || !['file', 'stdin', 'redis'].includes(String(source.type)))
      throw new GradstreamError(`${path}: expected the config of an online run (written by gradstream online --checkpoint-dir), got something else`)
    const config = o as unknown as OnlineRunConfig
    this.cfg = { mtime, config }
    return config
  }

  metrics(): OnlineMetricsColumns {
    return this.tail.read()
  }

  /** The checkpoints with the record (and entry) each holds, ascending. */
  checkpoints(): OnlineCheckpoint[] {
    const redis = this.config().source.type === 'redis'
    return listCheckpoints(this.dir).flatMap(({ path }) => {
      let m = this.meta.get(path)
      if (m === undefined) {
        try {
          const c = loadCheckpoint(path)
          if (redis) {
            const r = logResumeOf(c)
            m = { path, step: c.snapshot.step, record: r.counts.seen, entryId: r.lastEntryId, ...(r.join !== undefined ? { labelStream: r.join.labelStream } : {}) }
          } else {
            const record = Number(c.extra.online_records)
            if (!Number.isSafeInteger(record)) return []
            m = { path, step: c.snapshot.step, record, ...(Object.hasOwn(c.extra, WAITING_META) ? { waiting: true } : {}) }
          }
        } catch (e) {
          if (e instanceof GradstreamError) return []
          throw e
        }
        // Checkpoint files are written once (atomically) and never change.
        this.meta.set(path, m)
      }
      return [m]
    })
  }

  lastRecord(): number {
    const r = this.metrics().record
    const c = this.checkpoints()
    return Math.max(r[r.length - 1] ?? 0, c[c.length - 1]?.record ?? 0)
  }

  /**
   * running: the writer's lock is held by a live process, or (Redis learners take no lock)
   * its newest metrics line is not a final one and it wrote within LIVE_WINDOW_MS;
   * interrupted: a dead process holds the lock, or the writer went quiet without a final
   * line (killed); done: the newest line is a final one.
   */
  status(now: number): RunStatus {
    const lock = readRunLock(this.dir)
    if (lock !== undefined) return holderAlive(lock) ? 'running' : 'interrupted'
    if (this.metrics().final) return 'done'
    let t = 0
    for (const f of [ONLINE_METRICS, ONLINE_CONFIG])
      try {
        t = Math.max(t, statSync(join(this.dir, f)).mtimeMs)
      } catch {
        // not written yet
      }
    return now - t < LIVE_WINDOW_MS ? 'running' : 'interrupted'
  }

  /** Why positions cannot be replayed, or undefined when they can. */
  notReplayable(): string | undefined {
    const cfg = this.config()
    const s = cfg.source
    if (s.type === 'stdin') return `${this.name}: learned from stdin, whose records are gone; only its metrics can be shown`
    if (s.type === 'redis') return undefined
    if (cfg.resumedFromStep > 0) return `${this.name}: continued from step ${cfg.resumedFromStep} by a later process over ${s.path}; its positions cannot be replayed`
    if (cfg.objective === undefined || cfg.optimizer === undefined) return `${ONLINE_CONFIG} of ${this.name} does not name its model`
    let real: string
    try {
      real = realpathSync(s.path)
    } catch {
      return `${this.name}: its input ${s.path} is gone`
    }
    if (!within(real, this.allowed))
      return `${this.name}: its input ${s.path} lies outside the directories given to the dashboard; add --data-dir with its folder`
    return undefined
  }

  info(now: number): OnlineRunInfo {
    const cfg = this.config()
    const m = this.metrics()
    const cks = this.checkpoints()
    const lastStep = Math.max(m.step[m.step.length - 1] ?? 0, cks[cks.length - 1]?.step ?? 0)
    const why = this.notReplayable()
    return {
      id: this.id,
      name: this.name,
      kind: 'online',
      source: cfg.source.type,
      ...(cfg.source.type === 'redis' ? { stream: cfg.source.stream } : {}),
      model: cfg.model,
      params: this.params(),
      status: this.status(now),
      lastRecord: this.lastRecord(),
      firstStep: 0,
      lastStep,
      steps: lastStep,
      epochs: 0,
      checkpoints: cks.map((c) => c.step),
      checkpointRecords: cks.map((c) => c.record),
      images: false,
      classifier: false,
      ...(why !== undefined ? { error: why } : {}),
    }
  }

  private paramCount?: number

  private params(): number {
    if (this.paramCount !== undefined) return this.paramCount
    for (const c of this.checkpoints())
      try {
        return (this.paramCount = countParams(loadCheckpoint(c.path).snapshot.params))
      } catch (e) {
        // A checkpoint that stopped loading (removed, damaged): try the next one.
        if (!(e instanceof GradstreamError)) throw e
      }
    return 0
  }

  /** The exact state after record `n` (1 <= n <= lastRecord, checked by the caller). */
  async at(n: number): Promise<OnlinePosition> {
    const why = this.notReplayable()
    if (why !== undefined) throw new GradstreamError(why)
    let start: OnlineCheckpoint | undefined
    // With delayed labels only a checkpoint holding the examples still waiting for theirs
    // (written since file checkpoints keep them) can be replayed from; older ones: from the start.
    const delayed = (this.config().labelDelay ?? 0) > 0
    for (const c of this.checkpoints()) if (c.record <= n && (!delayed || c.waiting === true || this.config().source.type === 'redis')) start = c
    const s = this.config().source
    if (s.type === 'stdin') throw new GradstreamError(`${this.name}: learned from stdin; its positions cannot be replayed`)
    return s.type === 'redis' ? this.atEntry(withCredentials(s.url), s.stream, start, n) : this.atFileRecord(s.path, start, n)
  }

  private async atEntry(url: string, stream: string, start: OnlineCheckpoint | undefined, n: number): Promise<OnlinePosition> {
    // A run with a label stream learned the two streams merged by entry id (merged-log.ts):
    // record n is the n-th entry of that merged sequence, and positions are id pairs.
    const labelStream = this.checkpoints().find((c) => c.labelStream !== undefined)?.labelStream
    const records = await redisRange(url, stream)
    const log = labelStream === undefined ? records : mergedRange(records, await redisRange(url, labelStream), compareStreamIds)
    const end = labelStream === undefined ? '+' : '+|+'
    try {
      // Record n is the n-th entry of the stream: walk from the checkpoint's last entry.
      let after = start?.entryId
      let at = start?.record ?? 0
      while (at < n) {
        const batch = await log.range(after, end, Math.min(1000, n - at))
        if (batch.length === 0) throw new GradstreamError(`${log.name}: has ${at} entries, not ${n} (trimmed?)`)
        at += batch.length
        after = batch[batch.length - 1].id
      }
      if (after === undefined) throw new GradstreamError(`record ${n}: expected a record number >= 1`)
      const r = await replayLog(this.dir, log, after, labelStream === undefined ? compareStreamIds : comparePositions(compareStreamIds))
      return { record: n, snapshot: r.snapshot, entryId: r.lastEntryId, from: start?.record ?? 0, replayed: r.replayed }
    } finally {
      await log.close()
    }
  }

  private async atFileRecord(path: string, start: OnlineCheckpoint | undefined, n: number): Promise<OnlinePosition> {
    const cfg = this.config()
    if (cfg.objective === undefined || cfg.optimizer === undefined) throw new GradstreamError(`${ONLINE_CONFIG} of ${this.name} does not name its model`)
    const objective = objectiveFromSpec(cfg.objective)
    if (E.isLeft(objective)) throw new GradstreamError(`${ONLINE_CONFIG} of ${this.name}: ${objective.left.message}`)
    const optimizer = optimizerFromSpec(cfg.optimizer)
    const skip = start?.record ?? 0
    const file = createReadStream(path)
    try {
      const records = await recordsFromReadable(file, {
        label: cfg.label,
        features: cfg.features,
        classes: cfg.classes,
        numClasses: cfg.classes === undefined ? cfg.numClasses : undefined,
        format: cfg.source.type === 'file' ? cfg.source.format : undefined,
        ...(cfg.loss === 'euclidean' ? { target: true } : {}),
      })
      let read = 0
      async function* upTo(): AsyncGenerator<OnlineItem, void, undefined> {
        if (read >= n) return
        for await (const r of records.records) {
          read++
          if (read > skip) yield r
          if (read >= n) return
        }
      }
      // As gradstream online runs (online-command.ts): the checkpoint's snapshot and drift detector state.
      const ck = start !== undefined ? loadCheckpoint(start.path) : undefined
      const saved = ck !== undefined && Object.hasOwn(ck.extra, DRIFT_META) ? savedDriftOf(ck.file, ck.extra[DRIFT_META]) : undefined
      const drift = cfg.drift === undefined ? undefined : onlineDriftOf({ drift: cfg.drift, onDrift: cfg.onDrift ?? 'warn' }, saved)
      const options = {
        ...(ck !== undefined ? { initial: ck.snapshot } : { seed: cfg.seed }),
        ...(drift !== undefined ? { drift } : {}),
        ...((cfg.labelDelay ?? 0) > 0 ? { labelDelay: cfg.labelDelay } : {}),
        ...(ck !== undefined && Object.hasOwn(ck.extra, WAITING_META) ? { waiting: decodeWaiting(ck.file, ck.extra[WAITING_META]) } : {}),
        batchSize: cfg.batch,
        snapshotEvery: 2 ** 30,
      }
      const final = await lastValueFrom(online(objective.right, optimizer, upTo(), options).pipe(filter(isSnapshotEvent)))
      if (read < n) throw new GradstreamError(`${path}: has ${read} records, not ${n} (changed since the run?)`)
      return { record: n, snapshot: final.snapshot, from: skip, replayed: n - skip }
    } finally {
      file.destroy()
    }
  }
}
