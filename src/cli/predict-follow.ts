// `gradstream predict --follow redis://HOST:PORT/KEY --input FILE|-`: predictions from the
// newest model a learner publishes (gradstream online --redis ... --publish-every N) to
// the stream KEY. The model is swapped between records, never during one: each record is
// predicted by predictLines with the snapshot current when it is read.

import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import * as E from 'fp-ts/lib/Either.js'
import { GradstreamError } from '../core/errors.ts'
import { checkLayout } from '../io/checkpoint.ts'
import { formatOf } from '../io/tabular.ts'
import type { AnyObjective } from '../models/objective.ts'
import { objectiveFromSpec } from '../models/objective-spec.ts'
import { checkRedisUrl, showRedisUrl } from '../streams/redis-connection.ts'
import type { FollowedModel } from '../streams/redis-models.ts'
import { followModels } from '../streams/redis-models.ts'
import { inputSchemaFromJson } from './input-schema.ts'
import type { PredictIo } from './predict-command.ts'
import { predictLines } from './predict-command.ts'
import type { ModelSnapshot } from './predict-record.ts'
import { choiceFlag, parseFlags, UsageError } from './usage.ts'

export const PREDICT_FOLLOW_USAGE = `usage: gradstream predict --follow redis://HOST:PORT/KEY --input FILE|- [--format csv|ndjson]
Predicts with the newest model published to the stream KEY (gradstream online --redis ...
--publish-every N publishes to STREAM:models), switching to each newer one between records.
Waits for the first model. Output as gradstream predict's.`

const FLAGS = { follow: { type: 'string' }, input: { type: 'string' }, format: { type: 'string' } } as const

/** True when a predict command line follows a model stream. */
export const followsModels = (args: readonly string[]): boolean => args.some((a) => a === '--follow' || a.startsWith('--follow='))

/** redis://host:port/KEY -> the server's URL and the key. */
export const splitFollowUrl = (follow: string): { url: string; key: string } => {
  const u = checkRedisUrl(follow.replace(/^(rediss?:\/\/[^/]*)\/?/, '$1/'))
  const key = decodeURIComponent(u.pathname.slice(1))
  if (key === '') throw new UsageError(`--follow: expected redis://HOST:PORT/KEY naming the models stream, got ${JSON.stringify(follow)}`)
  u.pathname = ''
  return { url: u.toString().replace(/\/$/, ''), key }
}

export const predictFollowCommand = async (args: readonly string[], io: PredictIo): Promise<void> => {
  const { values: v, positionals } = parseFlags(args, FLAGS, true)
  if (positionals.length > 0) throw new UsageError(`--follow: give the models stream instead of a run directory, got ${positionals.join(' ')}`)
  if (typeof v.follow !== 'string') throw new UsageError('--follow: expected redis://HOST:PORT/KEY')
  if (typeof v.input !== 'string') throw new UsageError('--input: expected a CSV/NDJSON file of records, or - for stdin')
  const { url, key } = splitFollowUrl(v.follow)
  const format = choiceFlag('format', v.format, ['csv', 'ndjson'] as const) ?? (v.input === '-' ? undefined : formatOf(v.input))
  const where = `${showRedisUrl(url)} stream "${key}"`
  let current: ModelSnapshot | undefined
  let objective: { spec: string; value: AnyObjective } | undefined
  let failure: unknown
  let first: () => void = () => undefined
  const arrived = new Promise<void>((resolve) => (first = resolve))
  const use = (m: FollowedModel): void => {
    const spec = JSON.stringify(m.checkpoint.model)
    if (objective?.spec !== spec) {
      const built = objectiveFromSpec(m.checkpoint.model)
      if (E.isLeft(built)) throw new GradstreamError(`${where} entry ${m.id}: ${built.left.message}`)
      objective = { spec, value: built.right }
    }
    checkLayout(objective.value, m.checkpoint)
    current = { objective: objective.value, params: m.checkpoint.snapshot.params, input: inputSchemaFromJson(m.input, `${where} entry ${m.id}`) }
    io.stderr.write(`gradstream predict: model of step ${m.step} (entry ${m.entryId}, hash ${m.hash.slice(0, 12)}) from ${where}\n`)
  }
  const sub = followModels(url, key).subscribe({
    next: (m) => {
      try {
        use(m)
        first()
      } catch (e) {
        failure = e
        first()
      }
    },
    error: (e: unknown) => {
      failure = e
      first()
    },
  })
  try {
    if (current === undefined) io.stderr.write(`gradstream predict: waiting for a model on ${where}\n`)
    await arrived
    if (failure !== undefined) throw failure
    const stream: Readable = v.input === '-' ? (io.stdin ?? process.stdin) : createReadStream(v.input)
    if (v.input !== '-')
      await new Promise<void>((resolve, reject) => {
        stream.once('open', () => resolve())
        stream.once('error', (e: NodeJS.ErrnoException) => reject(new GradstreamError(`--input: could not read ${v.input}: ${e.code ?? e.message}`)))
      })
    const lines = createInterface({ input: stream, crlfDelay: Infinity })
    const model = (): ModelSnapshot => {
      if (failure !== undefined) throw failure
      if (current === undefined) throw new GradstreamError(`${where}: no model`)
      return current
    }
    const counts = await predictLines(lines, model, format, io)
    if (counts.predicted === 0)
      throw new GradstreamError(`--input: no record of ${v.input === '-' ? 'stdin' : v.input} could be predicted (${counts.rejected} bad)`)
  } finally {
    sub.unsubscribe()
  }
}
