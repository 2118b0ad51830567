// An in-memory event log (a LogConsumer, log-source.ts) with a group's memory: what was
// acknowledged survives a learner's "crash" (unsubscribing without a final checkpoint),
// as it would in a broker. Lets `npm test` check log-online.ts's exactly-once restarts
// without a Redis server (the Redis adapter itself is tested in test/redis/).

import type { LogConsumer, LogEntry } from '../../src/streams/log-source.ts'

export interface MemoryLog {
  /** A consumer for one learner process (its reads start after the acknowledged entries given to open). */
  consumer(): LogConsumer
  /** Entries acknowledged so far (the group's committed position). */
  readonly acked: () => number
  /** Dead-letter copies by entry id (a second copy of the same entry overwrites: idempotent). */
  readonly dead: Map<string, string>
}

/** Redis-style ids `<ms>-<seq>` compared as numbers. */
export const compareIds = (a: string, b: string): number => {
  const [am, as] = a.split('-').map(Number)
  const [bm, bs] = b.split('-').map(Number)
  return am - bm || as - bs
}

/**
 * A log of JSON records, one entry each (field `json`), under stream `stream`; ids are
 * `<i+1>-0` unless given (increasing). Every entry is appended already, so its horizon
 * is past them all.
 */
export const memoryLog = (lines: readonly string[], stream = 'mem', ids?: readonly string[]): MemoryLog => {
  const entries: LogEntry[] = lines.map((l, i) => ({ id: ids?.[i] ?? `${i + 1}-0`, fields: ['json', l] }))
  const at = new Map(entries.map((e, i) => [e.id, i]))
  const indexOf = (id: string): number => at.get(id) ?? -1
  let acked = 0
  const dead = new Map<string, string>()
  return {
    acked: () => acked,
    dead,
    consumer: () => {
      let cursor = 0
      return {
        name: `memory log "${stream}"`,
        stream,
        group: 'g',
        open: async (committed) => {
          if (committed !== undefined) acked = Math.max(acked, indexOf(committed) + 1)
          cursor = committed === undefined ? 0 : indexOf(committed) + 1
        },
        read: async (max, waitMs) => {
          const got = entries.slice(cursor, cursor + max)
          cursor += got.length
          if (got.length === 0) await new Promise((r) => setTimeout(r, Math.min(waitMs, 5)))
          return got
        },
        commit: async (upTo) => {
          acked = Math.max(acked, indexOf(upTo) + 1)
        },
        deadLetter: async (e, reason) => {
          dead.set(e.id, reason)
        },
        compare: compareIds,
        close: async () => undefined,
        horizon: async () => `${Number.MAX_SAFE_INTEGER}-0`,
      }
    },
  }
}
