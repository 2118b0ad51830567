// Two logs read as one (a LogConsumer, log-source.ts): the records and, in a second log,
// their labels, merged by entry id, the log's own clock (Redis ids are `<ms>-<seq>`): the
// learner sees the events in the order they were appended, as `joinedRecords` merges two
// files by a time column. At equal ids the record comes first. Label entries are marked
// `kind: 'label'`; log-online.ts joins them to the waiting records by id.
//
// Determinism. The merged order is a total order on (id, records-before-labels), so every
// run, interrupted or not, sees the same sequence; only *when* an entry can be handed on
// depends on timing. An entry of one log is handed on when the other log has an entry
// after it, or when the other is empty and its `horizon()` (the broker's clock before the
// read that found it empty) is after it: no entry appended later can come before it.
//
// Exactly-once over two logs. The position in the merged log is the pair of the last
// entry ids handed on from each, written `<records id>|<labels id>` (either may be
// empty): each merged entry's `id` is the position after it, so the checkpoint's "last
// entry" is that pair, `commit` acknowledges each log up to its part, and `open` reopens
// each from its part. Entries read but not yet handed on are not acknowledged: after a
// crash they are pending and read again, in the same order.

import { GradstreamError } from '../core/errors.ts'
import type { LogConsumer, LogEntry, LogRange } from './log-source.ts'

/** A merged entry: `id` is the merged position after it; `origin` its id in its own log. */
export interface MergedEntry extends LogEntry {
  readonly origin: string
}

const SEP = '|'

/** The two parts of a merged position (undefined: nothing handed on from that log yet). */
export const positionParts = (position: string): [string | undefined, string | undefined] => {
  const i = position.indexOf(SEP)
  if (i < 0 || position.indexOf(SEP, i + 1) >= 0) throw new GradstreamError(`merged log: expected a position "<records id>|<labels id>", got ${JSON.stringify(position)}`)
  const a = position.slice(0, i)
  const b = position.slice(i + 1)
  return [a === '' ? undefined : a, b === '' ? undefined : b]
}

const positionOf = (a: string | undefined, b: string | undefined): string => `${a ?? ''}${SEP}${b ?? ''}`

/** Positions compared part by part (on one merged sequence both parts only grow). */
export const comparePositions =
  (compare: (a: string, b: string) => number) =>
  (x: string, y: string): number => {
    const [xa, xb] = positionParts(x)
    const [ya, yb] = positionParts(y)
    const part = (p: string | undefined, q: string | undefined): number => (p === q ? 0 : p === undefined ? -1 : q === undefined ? 1 : compare(p, q))
    return part(xa, ya) || part(xb, yb)
  }

/**
 * Two logs read by position range, merged as `mergedLog` merges them (for replay): the
 * entries after position `after` up to position `upTo`, each log's part bounding it.
 */
export const mergedRange = (records: LogRange, labels: LogRange, compare: (a: string, b: string) => number): LogRange => ({
  name: `${records.name} with labels from ${labels.name}`,
  stream: records.stream,
  labelStream: labels.stream,
  range: async (after, upTo, max) => {
    const [a, b] = after === undefined ? [undefined, undefined] : positionParts(after)
    const [ua, ub] = positionParts(upTo)
    const rs = ua === undefined ? [] : await records.range(a, ua, max)
    const ls = ub === undefined ? [] : await labels.range(b, ub, max)
    // A range shorter than asked for is all of that log up to its bound.
    const rsAll = rs.length < max
    const lsAll = ls.length < max
    let lastR = a
    let lastL = b
    const out: MergedEntry[] = []
    let i = 0
    let j = 0
    while (out.length < max) {
      const r = rs[i]
      const l = ls[j]
      if (r !== undefined && (l !== undefined ? compare(r.id, l.id) <= 0 : lsAll)) {
        lastR = r.id
        out.push({ ...r, id: positionOf(lastR, lastL), origin: r.id })
        i++
      } else if (l !== undefined && (r !== undefined ? compare(l.id, r.id) < 0 : rsAll)) {
        lastL = l.id
        out.push({ ...l, id: positionOf(lastR, lastL), origin: l.id, kind: 'label' })
        j++
      } else break
    }
    return out
  },
  close: async () => {
    await records.close()
    await labels.close()
  },
})

/** The records log and the labels log as one log, merged by id (same group on both). */
export const mergedLog = (records: LogConsumer, labels: LogConsumer): LogConsumer => {
  if (records.group !== labels.group) throw new GradstreamError(`merged log: expected one group for both logs, got "${records.group}" and "${labels.group}"`)
  const cmp = records.compare
  let lastR: string | undefined
  let lastL: string | undefined
  let bufR: LogEntry[] = []
  let bufL: LogEntry[] = []
  // When a log's buffer was found empty by its last read: the id no later entry of it precedes.
  let boundR: string | undefined
  let boundL: string | undefined

  /** Reads a log whose buffer is empty; its horizon first, so that the bound is safe. */
  const refill = async (log: LogConsumer, max: number, waitMs: number): Promise<{ got: readonly LogEntry[]; bound?: string }> => {
    const h = log.horizon === undefined ? undefined : await log.horizon()
    const got = await log.read(max, waitMs)
    return got.length === 0 && h !== undefined ? { got, bound: h } : { got }
  }
  const before = (e: LogEntry, other: LogEntry | undefined, bound: string | undefined, tieFirst: boolean): boolean =>
    other !== undefined ? (tieFirst ? cmp(e.id, other.id) <= 0 : cmp(e.id, other.id) < 0) : bound !== undefined && cmp(e.id, bound) < 0

  return {
    name: `${records.name} with labels from ${labels.name}`,
    stream: records.stream,
    group: records.group,
    open: async (committed) => {
      const [a, b] = committed === undefined ? [undefined, undefined] : positionParts(committed)
      await records.open(a)
      await labels.open(b)
      lastR = a
      lastL = b
      bufR = []
      bufL = []
      boundR = undefined
      boundL = undefined
    },
    read: async (max, waitMs) => {
      // Each log whose buffer is empty is read: waiting only when nothing at all is at hand
      // (then the records log is listened to, the labels log asked right after).
      const idle = bufR.length === 0 && bufL.length === 0
      if (bufR.length === 0) {
        const r = await refill(records, max, idle ? waitMs : 1)
        bufR = [...r.got]
        boundR = r.bound
      }
      if (bufL.length === 0) {
        const r = await refill(labels, max, 1)
        bufL = [...r.got]
        boundL = r.bound
      }
      const out: MergedEntry[] = []
      let i = 0
      let j = 0
      while (out.length < max) {
        const r = bufR[i]
        const l = bufL[j]
        // The bound of a log holds only while its buffer has stayed empty since its read.
        if (r !== undefined && before(r, l, j === 0 ? boundL : undefined, true)) {
          lastR = r.id
          out.push({ ...r, id: positionOf(lastR, lastL), origin: r.id })
          i++
        } else if (l !== undefined && before(l, r, i === 0 ? boundR : undefined, false)) {
          lastL = l.id
          out.push({ ...l, id: positionOf(lastR, lastL), origin: l.id, kind: 'label' })
          j++
        } else break
      }
      bufR = bufR.slice(i)
      bufL = bufL.slice(j)
      if (i > 0) boundR = undefined
      if (j > 0) boundL = undefined
      return out
    },
    commit: async (upTo) => {
      const [a, b] = positionParts(upTo)
      if (a !== undefined) await records.commit(a)
      if (b !== undefined) await labels.commit(b)
    },
    deadLetter: async (entry, reason, detail) => {
      const origin = (entry as Partial<MergedEntry>).origin ?? entry.id
      await (entry.kind === 'label' ? labels : records).deadLetter({ ...entry, id: origin }, reason, detail)
    },
    compare: comparePositions(cmp),
    close: async () => {
      await records.close()
      await labels.close()
    },
  }
}
