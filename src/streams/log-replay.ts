// The state of a log run after any entry, recomputed: the newest checkpoint of the run
// at or before that entry, then the log's entries after it, up to and including the
// entry, learned again (the learner is deterministic, so this is the exact snapshot the
// live run had there). Without such a checkpoint the run starts from its initial state
// (the model, optimizer and key of its checkpoints).

import * as E from 'fp-ts/lib/Either.js'
import { filter, lastValueFrom } from 'rxjs'
import { GradstreamError } from '../core/errors.ts'
import type { Example, Rejection } from '../io/records.ts'
import { LabelMap } from '../io/records.ts'
import { listCheckpoints, loadCheckpoint } from '../io/checkpoint-file.ts'
import { objectiveFromSpec } from '../models/objective-spec.ts'
import { optimizerFromSpec } from '../models/optimizers.ts'
import type { LogCounts, LogResume } from './log-online.ts'
import { addCounts, logItemOf, logResumeOf, ZERO_COUNTS } from './log-online.ts'
import type { LogRange } from './log-source.ts'
import type { OnlineExample, OnlineLabel } from './online.ts'
import { isSnapshotEvent, online } from './online.ts'
import type { Snapshot } from '../core/snapshot.ts'
import { initialSnapshot } from './train.ts'

export interface LogReplay {
  readonly snapshot: Snapshot
  readonly counts: LogCounts
  /** The checkpoint replayed from (undefined: the initial state). */
  readonly from?: string
  /** Entries read again from the log. */
  readonly replayed: number
  /** The last entry the snapshot contains. */
  readonly lastEntryId: string
}

/** Replays the log run whose checkpoints are in `dir` to just after `entryId`. */
export const replayLog = async (
  dir: string,
  log: LogRange,
  entryId: string,
  compare: (a: string, b: string) => number,
): Promise<LogReplay> => {
  const all = listCheckpoints(dir)
  if (all.length === 0) throw new GradstreamError(`${dir}: no checkpoint of a log run`)
  const runs: LogResume[] = all.map((c) => logResumeOf(loadCheckpoint(c.path)))
  const first = runs[0]
  if (runs.some((r) => r.stream !== first.stream)) throw new GradstreamError(`${dir}: checkpoints of more than one stream`)
  if (first.join !== undefined && log.labelStream !== first.join.labelStream)
    throw new GradstreamError(`${dir}: the run joined labels from stream "${first.join.labelStream}"; replay it over both streams (mergedRange)`)
  if (log.stream !== first.stream) throw new GradstreamError(`${dir}: learned from stream "${first.stream}", not "${log.stream}"`)
  let start: LogResume | undefined
  for (const r of runs) if (compare(r.lastEntryId, entryId) <= 0 && (start === undefined || compare(r.lastEntryId, start.lastEntryId) >= 0)) start = r
  const spec = (start ?? first).checkpoint
  const objective = objectiveFromSpec(spec.model)
  if (E.isLeft(objective)) throw new GradstreamError(`${spec.file}: ${objective.left.message}`)
  const optimizer = optimizerFromSpec(spec.optimizer)
  let initial: Snapshot
  if (start !== undefined) initial = start.checkpoint.snapshot
  else {
    const s = initialSnapshot(objective.right, optimizer, first.checkpoint.snapshot.key)
    if (E.isLeft(s)) throw s.left
    initial = s.right
  }
  const schema = { features: first.features, label: first.label }
  const labels = new LabelMap(first.classes)
  const join = first.join === undefined ? undefined : { id: first.join.id, target: first.classes.length === 0 }
  const base = start?.counts ?? ZERO_COUNTS
  let replayed = 0
  let last = start?.lastEntryId
  async function* items(): AsyncGenerator<E.Either<Rejection, Example | OnlineExample> | OnlineLabel, void, undefined> {
    for (;;) {
      const batch = await log.range(last, entryId, 1000)
      if (batch.length === 0) return
      for (const e of batch) {
        replayed++
        last = e.id
        yield logItemOf(e, schema, labels, base.seen + replayed, join)
      }
    }
  }
  // With delayed labels the entries read but not yet labelled wait, as in the live run, from
  // the checkpoint's waiting ones: the snapshot after an entry has learned only what was labelled.
  const delay = first.labelDelay
  const waiting =
    delay > 0 ? { labelDelay: delay, keepWaiting: true, waiting: start?.waiting ?? [] } : join !== undefined ? { joinLabels: true, keepWaiting: true, waiting: start?.waiting ?? [] } : {}
  const final = await lastValueFrom(online(objective.right, optimizer, items(), { initial, ...waiting }).pipe(filter(isSnapshotEvent)))
  if (last !== entryId)
    throw new GradstreamError(`${log.name}: no entry ${entryId}${last === undefined ? '' : ` (the last one at or before it is ${last})`}`)
  return {
    snapshot: final.snapshot,
    counts: addCounts(base, final.metrics),
    ...(start !== undefined ? { from: start.checkpoint.file } : {}),
    replayed,
    lastEntryId: entryId,
  }
}
