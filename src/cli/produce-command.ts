// `gradstream produce --redis URL --stream KEY --input FILE`: appends the records of an
// NDJSON or CSV file (or stdin) to a Redis stream, pipelined (streams/redis-sink.ts).
// For tests, examples and demos of `gradstream online --redis`.

import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { GradstreamError } from '../core/errors.ts'
import { formatOf } from '../io/tabular.ts'
import type { Schema } from '../io/records.ts'
import { checkColumnName } from '../io/records.ts'
import { connectRedis, showRedisUrl } from '../streams/redis-connection.ts'
import { produceLines } from '../streams/redis-sink.ts'
import { textLines } from '../streams/record-source.ts'
import type { Io } from './train-command.ts'
import { choiceFlag, intFlag, parseFlags, UsageError } from './usage.ts'

export const PRODUCE_USAGE = `usage: gradstream produce --redis URL --stream KEY [--input FILE | stdin] [--format csv|ndjson]
       [--encoding verbatim | f32 --label COL --features a,b,c] [--maxlen N] [--json]
Appends each record of FILE (or stdin) to the stream KEY: an NDJSON line as one field "json"
(verbatim: the learner judges it), a CSV row as field/value pairs named by the header row.
--encoding f32 packs each record into two fields instead: "f32", the --features in that
order as base64 of little-endian float32 values, and the --label field as written (the
learner needs the same --features); records that cannot be packed are not sent.
--maxlen caps the stream near N entries (XADD MAXLEN ~ N). With --json the last line of
stdout is {"produced", "skipped", "firstId", "lastId"}.`

const FLAGS = {
  redis: { type: 'string' },
  stream: { type: 'string' },
  input: { type: 'string' },
  format: { type: 'string' },
  maxlen: { type: 'string' },
  json: { type: 'boolean' },
  encoding: { type: 'string' },
  label: { type: 'string' },
  features: { type: 'string' },
} as const

/** --label and --features of the packed encoding (a one-line error naming what is missing). */
const packedSchema = (encoding: 'verbatim' | 'f32', label: unknown, features: unknown): Schema | undefined => {
  if (encoding === 'verbatim') {
    if (label !== undefined || features !== undefined) throw new UsageError('--label/--features: only with --encoding f32 (a verbatim record keeps every field)')
    return undefined
  }
  if (typeof label !== 'string' || label.trim() === '') throw new UsageError('--label: expected the label field to send beside the f32 features (--encoding f32)')
  const names = typeof features === 'string' ? features.split(',').map((f) => f.trim()) : []
  if (names.length === 0 || names.some((f) => f === ''))
    throw new UsageError(`--features: expected the comma-separated feature fields to pack, in order (--encoding f32), got ${JSON.stringify(features ?? null)}`)
  if (names.includes(label.trim())) throw new UsageError(`--features: the label field "${label.trim()}" cannot also be a feature`)
  names.forEach(checkColumnName)
  return { label: label.trim(), features: names }
}

export const produceCommand = async (args: readonly string[], io: Io): Promise<void> => {
  const { values: v } = parseFlags(args, FLAGS)
  if (typeof v.redis !== 'string' || v.redis === '') throw new UsageError('--redis: expected a URL like redis://127.0.0.1:6379')
  if (typeof v.stream !== 'string' || v.stream === '') throw new UsageError('--stream: expected the key of the stream to append to')
  const input = typeof v.input === 'string' && v.input !== '-' ? v.input : undefined
  const format = choiceFlag('format', v.format, ['csv', 'ndjson'] as const) ?? (input === undefined ? 'ndjson' : (formatOf(input) ?? 'ndjson'))
  const maxLen = intFlag('maxlen', v.maxlen)
  const packed = packedSchema(choiceFlag('encoding', v.encoding, ['verbatim', 'f32'] as const) ?? 'verbatim', v.label, v.features)
  let source: AsyncIterable<string | Uint8Array>
  if (input === undefined) source = (io as Io & { readonly stdin?: Readable }).stdin ?? process.stdin
  else {
    try {
      if ((await stat(input)).isDirectory()) throw new GradstreamError(`--input: ${input} is a directory`)
    } catch (e) {
      if (e instanceof GradstreamError) throw e
      throw new GradstreamError(`--input: could not read ${input}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
    }
    source = createReadStream(input)
  }
  const redis = await connectRedis(v.redis)
  const LISTED = 10
  try {
    const r = await produceLines(redis, v.stream, textLines(source), {
      format,
      maxLen,
      ...(packed !== undefined ? { packed } : {}),
      onSkip: (line, why) => {
        if (line <= LISTED) io.stderr.write(`${input ?? 'stdin'} line ${line}: not sent, ${why}\n`)
      },
    })
    io.stdout.write(
      `produce: ${r.produced.toLocaleString('en-US')} entries appended to "${v.stream}" on ${showRedisUrl(v.redis)}` +
        `${r.skipped > 0 ? `, ${r.skipped} lines not sent` : ''}; ids ${r.firstId ?? '-'} .. ${r.lastId ?? '-'}\n`,
    )
    if (v.json === true) io.stdout.write(`${JSON.stringify(r)}\n`)
  } catch (e) {
    throw e instanceof GradstreamError ? new GradstreamError(`${input ?? 'stdin'}: ${e.message}`) : e
  } finally {
    redis.disconnect()
  }
}
