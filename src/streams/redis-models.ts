// Model publication over Redis Streams: the learner appends each published model to a
// capped stream (XADD <key> MAXLEN ~ N), and followers read the newest one and then every
// later one (XREAD BLOCK). An entry is: step, entry (the last log entry learned), hash,
// input (how to read records: JSON), model (the checkpoint's safetensors bytes). A
// follower that falls behind skips to the newest model: prediction services want the
// latest parameters, not the history (the learner's checkpoints keep that).

import type { Redis } from 'ioredis'
import { Observable } from 'rxjs'
import { GradstreamError } from '../core/errors.ts'
import type { Checkpoint } from '../io/checkpoint.ts'
import { decodeCheckpoint } from '../io/checkpoint.ts'
import type { ModelSink } from './log-source.ts'
import { connectRedis, showRedisUrl } from './redis-connection.ts'

/** A sink that appends models to `key`, keeping about `maxLen` of them (default 10). */
export const redisModelSink = async (url: string, key: string, maxLen = 10): Promise<ModelSink> => {
  if (!(Number.isInteger(maxLen) && maxLen >= 1)) throw new GradstreamError(`models: expected a positive cap on the stream length, got ${maxLen}`)
  const redis: Redis = await connectRedis(url)
  return {
    name: `${showRedisUrl(url)} stream "${key}"`,
    publish: async (m) => {
      await redis.call(
        'XADD', key, 'MAXLEN', '~', maxLen, '*',
        'step', String(m.step), 'entry', m.entryId, 'hash', m.hash, 'input', m.input,
        'model', Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength),
      )
    },
    close: async () => {
      redis.disconnect()
    },
  }
}

/** A model as a follower receives it. */
export interface FollowedModel {
  /** Its id in the models stream. */
  readonly id: string
  readonly step: number
  readonly entryId: string
  readonly hash: string
  /** How to read records for it (the JSON the learner published). */
  readonly input: unknown
  /** The decoded, checked checkpoint (parameters, model spec, optimizer). */
  readonly checkpoint: Checkpoint
}

const decodeEntry = (key: string, id: string, raw: Buffer[]): FollowedModel => {
  const f = new Map<string, Buffer>()
  for (let i = 0; i + 1 < raw.length; i += 2) f.set(raw[i].toString(), raw[i + 1])
  const text = (k: string): string => {
    const v = f.get(k)
    if (v === undefined) throw new GradstreamError(`${key} entry ${id}: expected a field "${k}"`)
    return v.toString()
  }
  const bytes = f.get('model')
  if (bytes === undefined) throw new GradstreamError(`${key} entry ${id}: expected a field "model"`)
  let input: unknown
  try {
    input = JSON.parse(text('input'))
  } catch {
    throw new GradstreamError(`${key} entry ${id}: the field "input" is not JSON`)
  }
  const step = Number(text('step'))
  return {
    id,
    step,
    entryId: text('entry'),
    hash: text('hash'),
    input,
    checkpoint: decodeCheckpoint(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), `${key} entry ${id}`),
  }
}

/**
 * The newest model of the stream `key` (when there is one) and then each newer one as it
 * is published. Cold; unsubscribing closes the connection. A bad entry is an error.
 */
export const followModels = (url: string, key: string, options: { readonly waitMs?: number } = {}): Observable<FollowedModel> =>
  new Observable<FollowedModel>((subscriber) => {
    let stopped = false
    let redis: Redis | undefined
    const waitMs = options.waitMs ?? 1000
    const run = async (): Promise<void> => {
      redis = await connectRedis(url)
      if (stopped) return
      let last = '0-0'
      const newest = (await redis.callBuffer('XREVRANGE', key, '+', '-', 'COUNT', 1)) as [Buffer, Buffer[]][]
      if (newest.length > 0) {
        last = newest[0][0].toString()
        subscriber.next(decodeEntry(key, last, newest[0][1]))
      }
      while (!stopped) {
        const reply = (await redis.callBuffer('XREAD', 'BLOCK', waitMs, 'STREAMS', key, last)) as [Buffer, [Buffer, Buffer[]][]][] | null
        if (stopped) return
        if (reply === null || reply.length === 0) continue
        const items = reply[0][1]
        const [id, fields] = items[items.length - 1] // only the newest matters
        last = id.toString()
        subscriber.next(decodeEntry(key, last, fields))
      }
    }
    run().catch((e: unknown) => {
      if (!stopped) subscriber.error(e)
    })
    return () => {
      stopped = true
      redis?.disconnect()
    }
  })
