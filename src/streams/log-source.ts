// The broker-neutral side of learning from an event log (Redis Streams today; Kafka or
// NATS JetStream would be further adapters of the same interface).
//
// A log is an ordered, durable sequence of entries, each with an id that orders it, read
// by a named group that remembers what it has been given and what it has acknowledged.
// The learner (log-online.ts) needs exactly five things from a broker:
//
//   open(committed)   join the group; take over entries that an earlier learner of the
//                     group was given but did not acknowledge; acknowledge those at or
//                     before `committed` (the newest checkpoint already contains them);
//   read(max, wait)   the next entries in log order: first those given before and never
//                     acknowledged (after `committed`), then new ones, waiting at most
//                     `wait` ms; at most `max` at a time (the learner's memory bound);
//   commit(id)        acknowledge every entry at or before `id` (called only once a
//                     durable checkpoint covers them: this is what makes learning
//                     exactly-once rather than at-least-once);
//   deadLetter(e)     copy a bad entry, with its reason, to a dead-letter log, idempotently
//                     per entry (a crash may make the learner copy it twice);
//   close()
//
// Entries carry their raw field/value pairs and, when the broker knows it, the time the
// entry was appended (for the end-to-end lag).

import * as E from 'fp-ts/lib/Either.js'
import type { RejectReason } from '../io/records.ts'

export interface LogEntry {
  /** The entry's position in the log (compared with `LogConsumer.compare`). */
  readonly id: string
  /** Its field/value pairs, flat: [field, value, field, value, ...]. */
  readonly fields: readonly string[]
  /** When it was appended (ms since the epoch), if the broker says. */
  readonly appendedAt?: number
  /** 'label': an entry of a label log merged in (merged-log.ts): {id, label} for a record read earlier. */
  readonly kind?: 'label'
}

export interface LogConsumer {
  /** For messages: which log, which group, e.g. `redis://127.0.0.1:6379 stream "events" group "gradstream"`. */
  readonly name: string
  readonly stream: string
  readonly group: string
  open(committed: string | undefined): Promise<void>
  read(max: number, waitMs: number): Promise<readonly LogEntry[]>
  commit(upTo: string): Promise<void>
  deadLetter(entry: LogEntry, reason: string, detail: string): Promise<void>
  /** Negative, zero or positive as id a is before, at or after id b. */
  compare(a: string, b: string): number
  close(): Promise<void>
  /**
   * An id no entry appended from now on can precede (the broker's clock: Redis ids are
   * `<ms>-<seq>`), for merging two logs by id without waiting for both (merged-log.ts);
   * absent: the merge waits for an entry of each.
   */
  horizon?(): Promise<string>
}

/** The records of a log entry: a JSON object in a single `json` field, or the pairs themselves. */
export type EntryRecord = E.Either<{ readonly reason: RejectReason; readonly detail: string }, Record<string, unknown>>

/**
 * An entry's record: `json` alone is parsed as a JSON record (numbers stay numbers);
 * otherwise the pairs become an object of strings (numbers are parsed from them when
 * decoded, as for CSV). The object has no prototype, so a field named `__proto__` is
 * just a field; a repeated field keeps its last value.
 */
export const entryRecord = (fields: readonly string[]): EntryRecord => {
  if (fields.length === 2 && fields[0] === 'json') {
    try {
      const v: unknown = JSON.parse(fields[1])
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        return E.left({ reason: 'not an object', detail: 'the json field does not hold a JSON object' })
      return E.right(v as Record<string, unknown>)
    } catch (e) {
      return E.left({ reason: 'invalid json', detail: (e as Error).message })
    }
  }
  if (fields.length % 2 !== 0) return E.left({ reason: 'wrong field count', detail: `expected field/value pairs, got ${fields.length} strings` })
  const o = Object.create(null) as Record<string, unknown>
  for (let i = 0; i < fields.length; i += 2) o[fields[i]] = fields[i + 1]
  return E.right(o)
}

/** A model published by a learner for followers (prediction services on other machines). */
export interface PublishedModel {
  /** Updates applied. */
  readonly step: number
  /** The last log entry the model has learned. */
  readonly entryId: string
  /** SHA-256 of the parameters (hashParams). */
  readonly hash: string
  /** How to read records for it (JSON: {kind, classes, features}). */
  readonly input: string
  /** The model as a checkpoint (safetensors bytes: spec, parameters, optimizer state). */
  readonly bytes: Uint8Array
}

/** Where a learner publishes models: a capped log followers read (Redis: `<key>:models`). */
export interface ModelSink {
  readonly name: string
  publish(model: PublishedModel): Promise<void>
  close(): Promise<void>
}

/** Reading a log's entries by id range, for replay (no group, no acknowledgement). */
export interface LogRange {
  readonly name: string
  readonly stream: string
  /** Entries after `after` (exclusive; undefined: from the start) up to `upTo` (inclusive), at most `max`. */
  range(after: string | undefined, upTo: string, max: number): Promise<readonly LogEntry[]>
  close(): Promise<void>
}
