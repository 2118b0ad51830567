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
//
// Three encodings of a record in an entry: field/value pairs (numbers as text), one field
// `json` holding a JSON object, or the packed one for throughput: a field `f32` holding
// the whole feature vector as base64 of little-endian float32 values in the run's feature
// order, beside the label field. Parsing 785 numbers from text (or a 7 KB JSON object)
// costs several times the update of a small model; decoding 4 KB of base64 costs ~1.5 us,
// and the floats are the producer's exact bits (W4 through Redis, bench/workloads/w4-redis.ts).

import * as E from 'fp-ts/lib/Either.js'
import type { Example, Rejection, RejectReason, Schema } from '../io/records.ts'
import { show } from '../io/records.ts'

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

// ---- the packed encoding: one field `f32` ---------------------------------------------

/** The field that holds a packed feature vector. */
export const F32_FIELD = 'f32'

// Node's Buffer decodes base64 natively (~1.5 us for 784 floats, ~5x atob); a browser has atob.
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Where the value of an entry's `f32` field is in its flat pairs, or -1 when it has none. */
export const packedAt = (fields: readonly string[]): number => {
  if (fields.length % 2 !== 0) return -1
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === F32_FIELD) return i + 1
  return -1
}

/** Float32 values as the text of an `f32` field: base64 of their little-endian bytes. */
export const encodeF32 = (values: ArrayLike<number>): string => {
  const f = Float32Array.from(values)
  const bytes = new Uint8Array(f.buffer)
  if (!LITTLE_ENDIAN) for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse()
  if (NodeBuffer !== undefined) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}

/** Decodes base64 into `into`; the number of bytes written, or -1 when the text is not base64. */
const base64Into = (text: string, into: Uint8Array): number => {
  if (NodeBuffer !== undefined) return NodeBuffer.from(into.buffer, into.byteOffset, into.byteLength).write(text, 0, 'base64')
  let raw: string
  try {
    raw = atob(text)
  } catch {
    return -1
  }
  const n = Math.min(raw.length, into.length)
  for (let i = 0; i < n; i++) into[i] = raw.charCodeAt(i)
  return raw.length
}

/** How many bytes standard padded base64 of this length holds (before decoding it). */
const base64Bytes = (text: string): number =>
  (text.length / 4) * 3 - (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0)

/**
 * The `count` features of an `f32` field: exactly 4*ceil(4*count/3) characters of padded
 * base64 decoding to 4*count bytes, every value finite. Node's decoder skips characters
 * outside the alphabet instead of failing, so the byte count written is what proves the
 * text was clean: any skipped character leaves the output short.
 */
export const decodeF32 = (
  text: string,
  features: readonly string[],
): E.Either<{ readonly reason: RejectReason; readonly detail: string }, Float32Array> => {
  const count = features.length
  const expected = 4 * Math.ceil((4 * count) / 3)
  const out = new Float32Array(count)
  const bytes = new Uint8Array(out.buffer)
  if (text.length !== expected) {
    if (text.length % 4 !== 0 || base64Bytes(text) % 4 !== 0)
      return E.left({ reason: 'invalid f32', detail: `the f32 field is ${text.length} characters: not padded base64 of float32 values (${count} features take ${expected})` })
    return E.left({ reason: 'wrong field count', detail: `the f32 field holds ${base64Bytes(text) / 4} float32 values, expected ${count}` })
  }
  if (base64Into(text, bytes) !== bytes.length)
    return E.left({ reason: 'invalid f32', detail: `the f32 field is not base64 (a character outside A-Z a-z 0-9 + / or misplaced "=")` })
  if (!LITTLE_ENDIAN) for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse()
  for (let i = 0; i < count; i++) {
    const v = out[i]
    if (v - v !== 0) return E.left({ reason: 'non-finite feature', detail: `feature "${features[i]}" (f32 value ${i}) is ${v}` })
  }
  return E.right(out)
}

/**
 * A packed entry (its `f32` value at `at`, packedAt) as an example: the features from
 * `f32` in the schema's order, the label from its own field, read as decodeObject reads
 * a label. Other fields are ignored, as a JSON record's extra fields are.
 */
export const decodePacked = (
  fields: readonly string[],
  at: number,
  schema: Schema,
  labels: { lookup(raw: unknown): E.Either<RejectReason, number> },
  line: number,
): E.Either<Rejection, Example> => {
  const f = decodeF32(fields[at], schema.features)
  if (E.isLeft(f)) return E.left({ line, ...f.left })
  let raw: string | undefined
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === schema.label) raw = fields[i + 1]
  const l = labels.lookup(raw)
  if (E.isLeft(l)) return E.left({ line, reason: l.left, detail: `label "${schema.label}" is ${show(raw)}` })
  return E.right({ line, features: f.right, label: l.right })
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
  /** A merged range (merged-log.ts): the label log it reads beside `stream`. */
  readonly labelStream?: string
  close(): Promise<void>
}
