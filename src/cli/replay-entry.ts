// `gradstream replay DIR --entry ID --redis URL [--json]`: the exact state of an online
// --redis run (checkpoints in DIR) just after the stream entry ID, recomputed from the
// nearest checkpoint at or before it plus the stream's entries (streams/log-replay.ts).

import { GradstreamError } from '../core/errors.ts'
import { latestLogCheckpoint } from '../streams/log-online.ts'
import { replayLog } from '../streams/log-replay.ts'
import { comparePositions, mergedRange } from '../streams/merged-log.ts'
import { compareStreamIds, redisRange, STREAM_ID } from '../streams/redis-source.ts'
import { hashParams } from '../streams/snapshot.ts'
import type { Io } from './io.ts'
import { tensorNorms } from './replay-command.ts'
import { parseFlags, UsageError } from './usage.ts'

export const REPLAY_ENTRY_USAGE = `usage: gradstream replay DIR --entry ID --redis URL [--json]
The state of the gradstream online --redis run whose checkpoints are in DIR just after the
stream entry ID: its step, parameter hash and counts, recomputed from the nearest checkpoint
at or before ID and the stream's entries after it. A run with --label-stream is at a pair of
entries, ID = <records id>|<labels id> (the entry ids of its metrics.ndjson and summary).`

/** True when a replay command line names a log entry. */
export const replaysEntry = (args: readonly string[]): boolean => args.some((a) => a === '--entry' || a.startsWith('--entry='))

export const replayEntryCommand = async (args: readonly string[], io: Io): Promise<void> => {
  const { values: v, positionals } = parseFlags(args, { entry: { type: 'string' }, redis: { type: 'string' }, json: { type: 'boolean' } }, true)
  if (positionals.length !== 1) throw new UsageError(`expected the checkpoint folder of an online --redis run, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`)
  // A run with a label stream is at a pair of entries: "<records id>|<labels id>" (either part may be empty).
  const position = typeof v.entry === 'string' && /^(\d+-\d+)?\|(\d+-\d+)?$/.test(v.entry) && v.entry !== '|'
  if (typeof v.entry !== 'string' || !(STREAM_ID.test(v.entry) || position))
    throw new UsageError(`--entry: expected a stream entry id like 1700000000000-0 (a run with --label-stream: <records id>|<labels id>), got ${JSON.stringify(v.entry ?? '')}`)
  if (typeof v.redis !== 'string') throw new UsageError('--redis: expected the URL of the Redis holding the stream, like redis://127.0.0.1:6379')
  const dir = positionals[0]
  const newest = latestLogCheckpoint(dir)
  if (newest === undefined) throw new GradstreamError(`${dir}: no checkpoint of an online --redis run`)
  if ((newest.join !== undefined) !== position)
    throw new UsageError(
      newest.join !== undefined
        ? `--entry: the run joined labels from "${newest.join.labelStream}": expected a position <records id>|<labels id> (its metrics.ndjson entry ids), got ${JSON.stringify(v.entry)}`
        : `--entry: expected a stream entry id like 1700000000000-0, got ${JSON.stringify(v.entry)}`,
    )
  const records = await redisRange(v.redis, newest.stream)
  const log = newest.join === undefined ? records : mergedRange(records, await redisRange(v.redis, newest.join.labelStream), compareStreamIds)
  try {
    const r = await replayLog(dir, log, v.entry, newest.join === undefined ? compareStreamIds : comparePositions(compareStreamIds))
    const report = {
      entry: r.lastEntryId,
      step: r.snapshot.step,
      hash: hashParams(r.snapshot),
      from: r.from ?? null,
      replayed: r.replayed,
      seen: r.counts.seen,
      learned: r.counts.learned,
      rejected: r.counts.rejected,
      accuracy: r.counts.examples > 0 ? r.counts.hits / r.counts.examples : null,
      tensors: tensorNorms(r.snapshot),
    }
    io.stdout.write(
      `entry ${report.entry}: step ${report.step}, ${report.seen} entries seen (${report.learned} learned, ${report.rejected} rejected), ` +
        `hash ${report.hash}; ${report.replayed} entries replayed from ${report.from ?? 'the initial state'}\n`,
    )
    for (const t of report.tensors) io.stdout.write(`  ${t.name} [${t.shape.join(', ')}] L2 ${t.norm.toPrecision(6)}\n`)
    if (v.json === true) io.stdout.write(`${JSON.stringify(report)}\n`)
  } finally {
    await log.close()
  }
}
