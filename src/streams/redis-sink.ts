// Appending records to a Redis stream (XADD), pipelined: the producer side of
// `gradstream produce`, the tests and the bench.
//
// NDJSON lines go in verbatim as one field `json` (the learner decides what is valid:
// a bad line becomes a rejected entry, which is what a real producer's bugs look like);
// CSV rows under a header become field/value pairs. Lines are read only as fast as
// Redis takes them: one pipeline of `pipeline` commands is in flight at a time.

import * as E from 'fp-ts/lib/Either.js'
import type { Redis } from 'ioredis'
import { GradstreamError } from '../core/errors.ts'
import { parseCsvLine } from '../io/csv.ts'
import type { LineItem } from './record-source.ts'

export interface ProduceOptions {
  readonly format: 'csv' | 'ndjson'
  /** XADD commands per round trip (default 1000). */
  readonly pipeline?: number
  /** Cap the stream near this length (XADD MAXLEN ~ N); default: no cap. */
  readonly maxLen?: number
  /** Called for a line that cannot be sent (CSV only: unreadable or wrong field count). */
  readonly onSkip?: (line: number, why: string) => void
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

/** The entries of NDJSON or CSV lines (see the top of this file). */
export async function* entriesOfLines(
  lines: AsyncIterable<string | LineItem> | Iterable<string | LineItem>,
  format: 'csv' | 'ndjson',
  onSkip: (line: number, why: string) => void = () => undefined,
): AsyncGenerator<readonly string[], void, undefined> {
  let header: string[] | undefined
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
      yield ['json', text]
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
      continue
    }
    if (f.right.length !== header.length) {
      onSkip(n, `expected ${header.length} fields, got ${f.right.length}`)
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
    entriesOfLines(lines, options.format, (line, why) => {
      skipped++
      options.onSkip?.(line, why)
    }),
    options,
  )
  return { ...r, skipped }
}
