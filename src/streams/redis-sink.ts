// Appending records to a Redis stream (XADD), pipelined: the producer side of
// `gradstream produce`, the tests and the bench.
//
// NDJSON lines go in verbatim as one field `json` (the learner decides what is valid:
// a bad line becomes a rejected entry, which is what a real producer's bugs look like);
// CSV rows under a header become field/value pairs. With the packed encoding (`packed`:
// log-source.ts) each record becomes two fields instead, `f32` (its named features as
// base64 float32) and the label verbatim; a record that cannot be packed (a feature
// missing, not a number or not finite, no label) is not sent, with its reason. Lines are
// read only as fast as Redis takes them: one pipeline of `pipeline` commands is in flight
// at a time.

import * as E from 'fp-ts/lib/Either.js'
import type { Redis } from 'ioredis'
import { GradstreamError } from '../core/errors.ts'
import { parseCsvLine } from '../io/csv.ts'
import { numeric, show } from '../io/records.ts'
import type { Schema } from '../io/records.ts'
import { encodeF32, F32_FIELD } from './log-source.ts'
import type { LineItem } from './record-source.ts'

export interface ProduceOptions {
  readonly format: 'csv' | 'ndjson'
  /** XADD commands per round trip (default 1000). */
  readonly pipeline?: number
  /** Cap the stream near this length (XADD MAXLEN ~ N); default: no cap. */
  readonly maxLen?: number
  /** Called for a line that cannot be sent (CSV: unreadable or wrong field count; packed: see the top). */
  readonly onSkip?: (line: number, why: string) => void
  /** Send each record packed: `f32` holding these features in this order, and the label field. */
  readonly packed?: Schema
}

export interface ProduceResult {
  readonly produced: number
  readonly skipped: number
  readonly firstId: string | null
  readonly lastId: string | null
}

/** XADD key * fields... for each entry, in order, `pipeline` at a time. */
export const appendEntries = async (
  redis: Redis,
  key: string,
  entries: AsyncIterable<readonly string[]> | Iterable<readonly string[]>,
  options: { readonly pipeline?: number; readonly maxLen?: number } = {},
): Promise<{ produced: number; firstId: string | null; lastId: string | null }> => {
  const size = options.pipeline ?? 1000
  const cap = options.maxLen === undefined ? [] : ['MAXLEN', '~', String(options.maxLen)]
  let produced = 0
  let firstId: string | null = null
  let lastId: string | null = null
  let batch = redis.pipeline()
  let n = 0
  const flush = async (): Promise<void> => {
    if (n === 0) return
    const results = (await batch.exec()) ?? []
    for (const [err, id] of results) {
      if (err !== null) throw new GradstreamError(`XADD ${key}: ${err.message}`)
      firstId ??= String(id)
      lastId = String(id)
      produced++
    }
    batch = redis.pipeline()
    n = 0
  }
  for await (const fields of entries) {
    batch.call('XADD', key, ...cap, '*', ...fields)
    if (++n >= size) await flush()
  }
  await flush()
  return { produced, firstId, lastId }
}

/** A record (a field's raw value by name) as a packed entry, or why it cannot be one. */
export const packedEntry = (get: (name: string) => unknown, schema: Schema): readonly string[] | string => {
  const values = new Float64Array(schema.features.length)
  for (let i = 0; i < values.length; i++) {
    const name = schema.features[i]
    const raw = get(name)
    const n = numeric(raw)
    if (E.isLeft(n)) return `${n.left}: field "${name}" is ${show(raw)}`
    values[i] = n.right
  }
  const label = get(schema.label)
  if (label === undefined || label === null || label === '') return `no label field "${schema.label}"`
  if (typeof label !== 'string' && typeof label !== 'number' && typeof label !== 'boolean') return `label "${schema.label}" is ${show(label)}`
  return [F32_FIELD, encodeF32(values), schema.label, String(label)]
}

/** The entries of NDJSON or CSV lines (see the top of this file). */
export async function* entriesOfLines(
  lines: AsyncIterable<string | LineItem> | Iterable<string | LineItem>,
  format: 'csv' | 'ndjson',
  onSkip: (line: number, why: string) => void = () => undefined,
  packed?: Schema,
): AsyncGenerator<readonly string[], void, undefined> {
  const send = function* (e: readonly string[] | string, n: number): Generator<readonly string[], void, undefined> {
    if (typeof e === 'string') onSkip(n, e)
    else yield e
  }
  let header: string[] | undefined
  const column = new Map<string, number>()
  let n = 0
  for await (const raw of lines as AsyncIterable<string | LineItem>) {
    n++
    if (typeof raw !== 'string' && E.isLeft(raw)) {
      onSkip(n, `a line of ${raw.left} characters is too long`)
      continue
    }
    const text = typeof raw === 'string' ? raw : raw.right
    if (text.trim() === '') continue
    if (format === 'ndjson') {
      if (packed === undefined) {
        yield ['json', text]
        continue
      }
      let o: unknown
      try {
        o = JSON.parse(text)
      } catch (e) {
        onSkip(n, `invalid json: ${(e as Error).message}`)
        continue
      }
      if (typeof o !== 'object' || o === null || Array.isArray(o)) {
        onSkip(n, 'not a JSON object')
        continue
      }
      const rec = o as Record<string, unknown>
      yield* send(packedEntry((k) => (Object.hasOwn(rec, k) ? rec[k] : undefined), packed), n)
      continue
    }
    const f = parseCsvLine(text)
    if (E.isLeft(f)) {
      if (header === undefined) throw new GradstreamError(`line ${n}: could not read the CSV header row: ${f.left}`)
      onSkip(n, f.left)
      continue
    }
    if (header === undefined) {
      header = f.right.map((h) => h.trim())
      const h = header
      h.forEach((name, i) => column.has(name) || column.set(name, i))
      const missing = packed === undefined ? [] : [...packed.features, packed.label].filter((c) => !h.includes(c))
      if (missing.length > 0) throw new GradstreamError(`line ${n}: expected columns named ${missing.slice(0, 5).map((c) => JSON.stringify(c)).join(', ')}${missing.length > 5 ? ` (and ${missing.length - 5} more)` : ''} in the CSV header row`)
      continue
    }
    if (f.right.length !== header.length) {
      onSkip(n, `expected ${header.length} fields, got ${f.right.length}`)
      continue
    }
    if (packed !== undefined) {
      const row = f.right
      yield* send(packedEntry((k) => row[column.get(k) ?? -1], packed), n)
      continue
    }
    const pairs: string[] = []
    for (let i = 0; i < header.length; i++) pairs.push(header[i], f.right[i])
    yield pairs
  }
}

/** Appends the records of NDJSON or CSV lines to a stream. */
export const produceLines = async (
  redis: Redis,
  key: string,
  lines: AsyncIterable<string | LineItem> | Iterable<string | LineItem>,
  options: ProduceOptions,
): Promise<ProduceResult> => {
  let skipped = 0
  const r = await appendEntries(
    redis,
    key,
    entriesOfLines(
      lines,
      options.format,
      (line, why) => {
        skipped++
        options.onSkip?.(line, why)
      },
      options.packed,
    ),
    options,
  )
  return { ...r, skipped }
}
