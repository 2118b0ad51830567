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

const idOf = (i: number): string => `${i + 1}-0`
const indexOf = (id: string): number => Number(id.slice(0, id.indexOf('-'))) - 1

/** A log of JSON records, one entry each (field `json`), under stream `stream`. */
export const memoryLog = (lines: readonly string[], stream = 'mem'): MemoryLog => {
  const entries: LogEntry[] = lines.map((l, i) => ({ id: idOf(i), fields: ['json', l] }))
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
        compare: (a, b) => indexOf(a) - indexOf(b),
        close: async () => undefined,
      }
    },
  }
}
