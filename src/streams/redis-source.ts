// Redis Streams as a LogConsumer (log-source.ts): a consumer group read with XREADGROUP.
//
//   open      XGROUP CREATE key group 0 MKSTREAM (once); XAUTOCLAIM every pending entry
//             of the group to this consumer (a learner restarted under another name, on
//             another machine, takes over what the dead one was given); XACK those at or
//             before the checkpointed id.
//   read      first this consumer's pending entries after the checkpointed id
//             (XREADGROUP ... STREAMS key <id>), then new ones (XREADGROUP ... COUNT n
//             BLOCK ms STREAMS key >). A read that comes back full sends the next one
//             at once, without BLOCK, so its entries travel while these are learned;
//             at most 2n entries are in the learner's hands.
//   commit    XACK of the ids read returned, up to <id>, 1,000 at a time (see `given`).
//   deadLetter XADD <key>:rejected <the entry's own id> ...fields reason R detail D. Ids
//             only grow, so a second copy of the same entry (after a crash) is refused by
//             Redis, which is what makes the copy idempotent.
//
// Ids are `<ms>-<seq>`: the ms part is when the entry was appended (the lag's start).

import type { Redis } from 'ioredis'
import { GradstreamError } from '../core/errors.ts'
import type { LogConsumer, LogEntry, LogRange } from './log-source.ts'
import { asStrings, connectRedis, showRedisUrl } from './redis-connection.ts'

export interface RedisConsumerOptions {
  readonly url: string
  readonly stream: string
  /** Consumer group (default 'gradstream'). */
  readonly group?: string
  /** Consumer name within the group (default 'learner'). */
  readonly consumer?: string
  /** Dead-letter stream (default `<stream>:rejected`). */
  readonly deadLetter?: string
}

/** Compares two stream ids `<ms>-<seq>` numerically. */
export const compareStreamIds = (a: string, b: string): number => {
  const [am, as = '0'] = a.split('-')
  const [bm, bs = '0'] = b.split('-')
  const d = BigInt(am) - BigInt(bm)
  if (d !== 0n) return d < 0n ? -1 : 1
  const e = BigInt(as) - BigInt(bs)
  return e === 0n ? 0 : e < 0n ? -1 : 1
}

export const STREAM_ID = /^\d+-\d+$/

/** XREADGROUP's reply for one stream: [[key, [[id, fields | null], ...]]] or null. */
const entriesOf = (reply: unknown): { id: string; fields: string[] | null }[] => {
  if (!Array.isArray(reply) || reply.length === 0) return []
  const stream = reply[0] as [string, [string, string[] | null][]]
  return stream[1].map(([id, fields]) => ({ id: String(id), fields: fields === null ? null : asStrings(fields) }))
}

const appendedAt = (id: string): number => Number(id.slice(0, id.indexOf('-')))

export const redisConsumer = async (options: RedisConsumerOptions): Promise<LogConsumer> => {
  const { stream } = options
  const group = options.group ?? 'gradstream'
  const consumer = options.consumer ?? 'learner'
  const dlq = options.deadLetter ?? `${stream}:rejected`
  if (stream === '') throw new GradstreamError('--stream: expected a stream key, got ""')
  const redis: Redis = await connectRedis(options.url)
  const name = `${showRedisUrl(options.url)} stream "${stream}" group "${group}"`
  let phase: 'pending' | 'new' = 'pending'
  let cursor = '0'
  // A dropped connection can lose a reply whose entries Redis already gave this consumer:
  // they are in its pending list but were never seen. So after every reconnection the
  // next read goes back to the pending list, from the last entry this consumer returned,
  // and a read that was in flight across a reconnection is discarded (its entries are
  // pending too, and are read again in order).
  let connection = 0
  let lastReturned: string | undefined
  redis.on('ready', () => {
    connection++
  })
  const rewind = (): void => {
    phase = 'pending'
    cursor = lastReturned ?? cursor
  }
  let seenConnection = 0

  /** A read on its way: its reply (never a rejected promise: it may be dropped unread) and what it asked for. */
  interface Sent {
    readonly reply: Promise<{ ok: true; reply: unknown } | { ok: false; error: unknown }>
    readonly max: number
    readonly connection: number
    readonly phase: 'pending' | 'new'
    readonly cursor: string
  }
  let ahead: Sent | undefined
  /** XREADGROUP from where the reading stands: the pending list after `cursor`, or new entries (blocking `blockMs` if given). */
  const send = (max: number, blockMs: number | undefined): Sent => {
    const call =
      phase === 'pending'
        ? redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', max, 'STREAMS', stream, cursor)
        : blockMs === undefined
          ? redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', max, 'STREAMS', stream, '>')
          : redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', max, 'BLOCK', blockMs, 'STREAMS', stream, '>')
    return {
      reply: call.then(
        (reply) => ({ ok: true as const, reply }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      max,
      connection,
      phase,
      cursor,
    }
  }

  const ackDeleted = async (ids: readonly string[]): Promise<void> => {
    if (ids.length > 0) await redis.call('XACK', stream, group, ...ids)
  }

  /** Acknowledges every pending entry of the group up to an id, found with XPENDING (at open). */
  const ackPending = async (upTo: string): Promise<void> => {
    for (;;) {
      const rows = (await redis.call('XPENDING', stream, group, '-', upTo, 1000)) as [string, string, number, number][]
      if (rows.length === 0) return
      await redis.call('XACK', stream, group, ...rows.map((r) => String(r[0])))
      if (rows.length < 1000) return
    }
  }

  // The ids read returned since open and not acknowledged yet, in log order (from
  // givenHead on). After open, every pending entry of this consumer at or before an id the
  // learner has passed is one of them: those taken over at open were read from the pending
  // list, a reply lost to a reconnection is read again from there, and a deleted entry is
  // acknowledged as it is read. So commit acknowledges them by id: no XPENDING scan and
  // its 1,000-row reply per checkpoint.
  let given: string[] = []
  let givenHead = 0
  const commit = async (upTo: string): Promise<void> => {
    // The first id after upTo (ids are in log order): a binary search, ids compare as BigInts.
    let end = givenHead
    let hi = given.length
    while (end < hi) {
      const mid = (end + hi) >>> 1
      if (compareStreamIds(given[mid], upTo) <= 0) end = mid + 1
      else hi = mid
    }
    for (let i = givenHead; i < end; i += 1000) await redis.call('XACK', stream, group, ...given.slice(i, Math.min(end, i + 1000)))
    givenHead = end
    if (givenHead >= 4096 && givenHead * 2 >= given.length) {
      given = given.slice(givenHead)
      givenHead = 0
    }
  }

  const groupInfo = async (): Promise<{ pending: number; entriesRead: number | null } | undefined> => {
    const groups = (await redis.call('XINFO', 'GROUPS', stream)) as unknown[][]
    for (const g of groups) {
      const o = new Map<string, unknown>()
      for (let i = 0; i + 1 < g.length; i += 2) o.set(String(g[i]), g[i + 1])
      if (String(o.get('name')) === group) {
        const er = o.get('entries-read')
        return { pending: Number(o.get('pending')), entriesRead: er === null || er === undefined ? null : Number(er) }
      }
    }
    return undefined
  }

  return {
    name,
    stream,
    group,
    open: async (committed) => {
      try {
        await redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
      } catch (e) {
        if (!/BUSYGROUP/.test((e as Error).message)) throw new GradstreamError(`${name}: ${(e as Error).message}`)
        if (committed === undefined) {
          // A group that already acknowledged entries belongs to a learner whose
          // checkpoints are elsewhere: starting from scratch would skip those entries.
          const info = await groupInfo()
          if (info !== undefined && info.entriesRead !== null && info.entriesRead > info.pending)
            throw new GradstreamError(
              `${name}: the group has already acknowledged ${info.entriesRead - info.pending} entries, but there is no checkpoint to continue from: use that learner's --checkpoint-dir, or a new --group`,
            )
        }
      }
      // Take over every pending entry of the group (JUSTID: without counting a delivery).
      let start = '0-0'
      do {
        const r = (await redis.call('XAUTOCLAIM', stream, group, consumer, 0, start, 'COUNT', 1000, 'JUSTID')) as unknown[]
        start = String(r[0])
      } while (start !== '0-0')
      if (committed !== undefined) await ackPending(committed)
      given = []
      givenHead = 0
      phase = 'pending'
      cursor = committed ?? '0'
      lastReturned = committed
      seenConnection = connection
      ahead = undefined
    },
    read: async (max, waitMs) => {
      for (;;) {
        if (connection !== seenConnection) {
          seenConnection = connection
          rewind()
          ahead = undefined
        }
        // The read made ahead (if it asked for as many) stands in for this one, unless a
        // reconnection came since it was sent (its entries are pending, read again in order).
        const early = ahead !== undefined && ahead.max === max && ahead.connection === connection && ahead.phase === phase && ahead.cursor === cursor ? ahead : undefined
        // A read made ahead and not used may have been given entries: read them again from the pending list.
        if (ahead !== undefined && early === undefined) rewind()
        ahead = undefined
        const sent = early ?? send(max, Math.max(1, Math.round(waitMs)))
        const outcome = await sent.reply
        if (!outcome.ok) throw outcome.error
        if (connection !== seenConnection) continue // reconnected meanwhile: read again from the pending list
        const got = entriesOf(outcome.reply)
        // An empty reply to the read made ahead is old news: it was sent before the caller
        // asked (and before any horizon() it took first), so only a read sent now may say
        // that nothing came after it (merged-log.ts relies on that).
        if (early !== undefined && got.length === 0) continue
        if (phase === 'pending') {
          if (got.length === 0) {
            phase = 'new'
            continue
          }
          cursor = got[got.length - 1].id
        }
        // A full read says more entries are waiting: ask for the next ones now, without
        // blocking, so that they arrive while these are learned (at most two reads' worth
        // of entries are held). A blocking read is sent only when the learner waits.
        if (got.length === max) ahead = send(max, undefined)
        // Entries deleted from the stream while pending cannot be learned: acknowledged now.
        await ackDeleted(got.filter((e) => e.fields === null).map((e) => e.id))
        const out: LogEntry[] = []
        for (const e of got)
          if (e.fields !== null) {
            out.push({ id: e.id, fields: e.fields, appendedAt: appendedAt(e.id) })
            given.push(e.id)
          }
        if (got.length > 0) lastReturned = got[got.length - 1].id
        if (out.length > 0 || phase === 'new') return out
      }
    },
    commit,
    deadLetter: async (entry, reason, detail) => {
      try {
        await redis.call('XADD', dlq, entry.id, ...entry.fields, 'reason', reason, 'detail', detail)
      } catch (e) {
        if (!/equal or smaller/.test((e as Error).message)) throw new GradstreamError(`${name}: dead letter ${entry.id}: ${(e as Error).message}`)
        const there = (await redis.call('XRANGE', dlq, entry.id, entry.id)) as unknown[]
        if (there.length === 0)
          throw new GradstreamError(`${dlq}: holds entries after ${entry.id}, so the rejected entry cannot be copied under its own id`)
      }
    },
    compare: compareStreamIds,
    close: async () => {
      redis.disconnect()
    },
    // Ids of entries appended with `*` are the server's clock in ms, never below it: an entry
    // appended after TIME returned has an id at or after `<that ms>-0`.
    horizon: async () => {
      const [sec, usec] = (await redis.call('TIME')) as [string, string]
      return `${BigInt(sec) * 1000n + BigInt(usec) / 1000n}-0`
    },
  }
}

/** A stream read by id range (XRANGE), for replay. */
export const redisRange = async (url: string, stream: string): Promise<LogRange> => {
  const redis: Redis = await connectRedis(url)
  return {
    name: `${showRedisUrl(url)} stream "${stream}"`,
    stream,
    range: async (after, upTo, max) => {
      const rows = (await redis.call('XRANGE', stream, after === undefined ? '-' : `(${after}`, upTo, 'COUNT', max)) as [string, string[]][]
      return rows.map(([id, fields]) => ({ id: String(id), fields: asStrings(fields), appendedAt: appendedAt(String(id)) }))
    },
    close: async () => {
      redis.disconnect()
    },
  }
}
