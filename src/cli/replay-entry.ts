// `gradstream replay DIR --entry ID --redis URL [--json]`: the exact state of an online
// --redis run (checkpoints in DIR) just after the stream entry ID, recomputed from the
// nearest checkpoint at or before it plus the stream's entries (streams/log-replay.ts).

import { GradstreamError } from '../core/errors.ts'
import { latestLogCheckpoint } from '../streams/log-online.ts'
import { replayLog } from '../streams/log-replay.ts'
import { compareStreamIds, redisRange, STREAM_ID } from '../streams/redis-source.ts'
import { hashParams } from '../streams/snapshot.ts'
import type { Io } from './io.ts'
import { tensorNorms } from './replay-command.ts'
import { parseFlags, UsageError } from './usage.ts'

export const REPLAY_ENTRY_USAGE = `usage: gradstream replay DIR --entry ID --redis URL [--json]
The state of the gradstream online --redis run whose checkpoints are in DIR just after the
stream entry ID: its step, parameter hash and counts, recomputed from the nearest checkpoint
at or before ID and the stream's entries after it.`

/** True when a replay command line names a log entry. */
export const replaysEntry = (args: readonly string[]): boolean => args.some((a) => a === '--entry' || a.startsWith('--entry='))

export const replayEntryCommand = async (args: readonly string[], io: Io): Promise<void> => {
  const { values: v, positionals } = parseFlags(args, { entry: { type: 'string' }, redis: { type: 'string' }, json: { type: 'boolean' } }, true)
  if (positionals.length !== 1) throw new UsageError(`expected the checkpoint folder of an online --redis run, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`)
  if (typeof v.entry !== 'string' || !STREAM_ID.test(v.entry)) throw new UsageError(`--entry: expected a stream entry id like 1700000000000-0, got ${JSON.stringify(v.entry ?? '')}`)
  if (typeof v.redis !== 'string') throw new UsageError('--redis: expected the URL of the Redis holding the stream, like redis://127.0.0.1:6379')
  const dir = positionals[0]
  const newest = latestLogCheckpoint(dir)
  if (newest === undefined) throw new GradstreamError(`${dir}: no checkpoint of an online --redis run`)
  const log = await redisRange(v.redis, newest.stream)
  try {
    const r = await replayLog(dir, log, v.entry, compareStreamIds)
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
