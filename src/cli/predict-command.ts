// `gradstream predict RUN_DIR|FILE.safetensors --input FILE|- [--format csv|ndjson]`: one
// NDJSON line per input record, {"line": n, "class": "setosa", "probabilities": {...}},
// read through the training schema (feature columns by name, the stored scaling, the class
// names). Records are streamed line by line (a file or stdin), so inputs of any length run
// in constant memory. A bad record is reported on stderr with its line number and skipped;
// the exit code is 0 when any record was predicted, 2 otherwise.

import { createReadStream } from 'node:fs'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import * as E from 'fp-ts/lib/Either.js'
import { GradstreamError } from '../core/errors.ts'
import { size } from '../core/tensor.ts'
import type { RecordFormat } from '../io/records.ts'
import { formatOf } from '../io/tabular.ts'
import type { ModelSnapshot, RecordReader } from './predict-record.ts'
import { isHeader, predictRecord, recordReader, sniffFormat } from './predict-record.ts'
import type { Io } from './io.ts'
import { describeModel, loadTrainedModel } from './trained-model.ts'
import { choiceFlag, parseFlags, UsageError } from './usage.ts'

export const PREDICT_USAGE = `usage: gradstream predict RUN_DIR|FILE.safetensors --input FILE|- [--format csv|ndjson]
Prints one JSON line per input record: {"line": n, "class": ..., "probabilities": {...}}.
Records are CSV rows under a header naming the feature columns, or JSON objects with the
feature fields (other columns, such as a label, are ignored); '-' reads stdin. The format
comes from --format, the file extension, or the first line. Bad records are reported on
stderr with their line numbers and skipped.`

const FLAGS = {
  input: { type: 'string' },
  format: { type: 'string' },
} as const

/** The command's streams; stdin is replaceable for tests. */
export interface PredictIo extends Io {
  readonly stdin?: Readable
}

/** Where a predict run ended: records predicted and rejected. */
export interface PredictCounts {
  readonly predicted: number
  readonly rejected: number
}

/**
 * Predicts every record of a line stream with the snapshot `current()` returns at that
 * record (constant here; a follower of a live run would return the newest one).
 */
export const predictLines = async (
  lines: AsyncIterable<string>,
  current: () => ModelSnapshot,
  format: RecordFormat | undefined,
  io: Io,
): Promise<PredictCounts> => {
  let predicted = 0
  let rejected = 0
  let read: RecordReader | undefined
  let n = 0
  const out = async (s: string): Promise<void> => {
    if (!io.stdout.write(s)) await once(io.stdout, 'drain')
  }
  for await (const text of lines) {
    n++
    if (text.trim() === '') continue
    const model = current()
    const F = size(model.objective.inShape)
    if (read === undefined) {
      const f = format ?? sniffFormat(text)
      // A CSV's first line is its header (for images, only when it is not all numbers).
      if (f === 'csv' && (model.input.kind === 'tabular' || isHeader(text))) {
        read = recordReader(model.input, f, F, text)
        continue
      }
      read = recordReader(model.input, f, F)
    }
    const r = read(text, n)
    if (E.isLeft(r)) {
      rejected++
      io.stderr.write(`gradstream predict: line ${r.left.line}: ${r.left.reason} (${r.left.detail})\n`)
      continue
    }
    const p = predictRecord(model, r.right)
    predicted++
    await out(`${JSON.stringify({ line: n, class: p.class, probabilities: p.probabilities })}\n`)
  }
  return { predicted, rejected }
}

export const predictCommand = async (args: readonly string[], io: PredictIo): Promise<void> => {
  const { values: v, positionals } = parseFlags(args, FLAGS, true)
  if (positionals.length !== 1)
    throw new UsageError(`expected one run directory or .safetensors file, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`)
  if (typeof v.input !== 'string') throw new UsageError('--input: expected a CSV/NDJSON file of records, or - for stdin')
  const format = choiceFlag('format', v.format, ['csv', 'ndjson'] as const) ?? (v.input === '-' ? undefined : formatOf(v.input))
  const m = loadTrainedModel(positionals[0])
  if (m.objective.task !== 'classification')
    throw new GradstreamError(`${describeModel(m)} is not a classifier: predict gives classes and their probabilities`)
  if (m.input === undefined)
    throw new GradstreamError(`${m.source}: no input schema (feature columns, classes); predict needs a run directory or a checkpoint written by gradstream train`)
  const snapshot: ModelSnapshot = { objective: m.objective, params: m.params, input: m.input }
  const stream: Readable = v.input === '-' ? (io.stdin ?? process.stdin) : createReadStream(v.input)
  const opened = new Promise<void>((resolve, reject) => {
    if (v.input === '-') return resolve()
    stream.once('open', () => resolve())
    stream.once('error', reject)
  })
  try {
    await opened
  } catch (e) {
    throw new GradstreamError(`--input: could not read ${v.input}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  const lines = createInterface({ input: stream, crlfDelay: Infinity })
  let counts: PredictCounts
  try {
    counts = await predictLines(lines, () => snapshot, format, io)
  } catch (e) {
    // A read error mid-stream (EISDIR, EIO): one line, like a file that cannot be opened.
    const code = (e as NodeJS.ErrnoException).code
    if (typeof code === 'string' && !(e instanceof GradstreamError)) throw new GradstreamError(`--input: could not read ${v.input}: ${code}`)
    throw e
  }
  if (counts.predicted === 0)
    throw new GradstreamError(`--input: no record of ${v.input === '-' ? 'stdin' : v.input} could be predicted (${counts.rejected} bad)`)
}
