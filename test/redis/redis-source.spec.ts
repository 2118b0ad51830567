// The Redis consumer (streams/redis-source.ts) against a real redis-server: read order
// (pending before new), bounded reads, commit acknowledges exactly up to an id, a
// restarted consumer takes over another's pending entries, dead letters are idempotent.

import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { entryRecord } from '../../src/streams/log-source.ts'
import { compareStreamIds, redisConsumer } from '../../src/streams/redis-source.ts'
import type { RedisServer } from './server.ts'
import { entries, startRedis } from './server.ts'

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

const add = async (key: string, n: number): Promise<string[]> => {
  const ids: string[] = []
  for (let i = 0; i < n; i++) ids.push((await redis.client.xadd(key, '*', 'i', String(i))) as string)
  return ids
}

describe('entryRecord', () => {
  it('reads field/value pairs, a json field, and says why not', () => {
    const pairs = entryRecord(['a', '1', 'b', 'x', '__proto__', '2'])
    expect(E.isRight(pairs)).toBe(true)
    if (E.isRight(pairs)) {
      expect(Object.getPrototypeOf(pairs.right)).toBe(null)
      expect({ ...pairs.right }).toEqual({ a: '1', b: 'x', ['__proto__']: '2' })
    }
    expect(entryRecord(['json', '{"a":1,"k":"c"}'])).toEqual(E.right({ a: 1, k: 'c' }))
    const invalid = entryRecord(['json', '{"a":'])
    expect(E.isLeft(invalid) && invalid.left.reason).toBe('invalid json')
    const array = entryRecord(['json', '[1,2]'])
    expect(E.isLeft(array) && array.left.reason).toBe('not an object')
    const odd = entryRecord(['a', '1', 'b'])
    expect(E.isLeft(odd) && odd.left.reason).toBe('wrong field count')
  })
})

describe('compareStreamIds', () => {
  it('orders by time, then sequence, as numbers', () => {
    expect(compareStreamIds('9-5', '10-0')).toBe(-1)
    expect(compareStreamIds('10-10', '10-9')).toBe(1)
    expect(compareStreamIds('1796527842309-0', '1796527842309-0')).toBe(0)
  })
})

describe('redisConsumer', () => {
  it('reads at most n entries, in order, then blocks briefly and returns none', async () => {
    const ids = await add('s1', 7)
    const c = await redisConsumer({ url: redis.url, stream: 's1', group: 'g' })
    await c.open(undefined)
    const a = await c.read(3, 50)
    const b = await c.read(3, 50)
    const d = await c.read(3, 50)
    const e = await c.read(3, 50)
    expect([...a, ...b, ...d].map((x) => x.id)).toEqual(ids)
    expect(a.length).toBe(3)
    expect(d.length).toBe(1)
    expect(e).toEqual([])
    expect(a[0].fields).toEqual(['i', '0'])
    expect(a[0].appendedAt).toBe(Number(ids[0].split('-')[0]))
    await c.close()
  })

  it('commit acknowledges exactly the entries up to the id; a new consumer re-reads the rest first', async () => {
    const ids = await add('s2', 10)
    const c1 = await redisConsumer({ url: redis.url, stream: 's2', group: 'g', consumer: 'one' })
    await c1.open(undefined)
    expect((await c1.read(10, 50)).length).toBe(10)
    await c1.commit(ids[3])
    const pending = (await redis.client.xpending('s2', 'g', '-', '+', 100)) as [string, string, number, number][]
    expect(pending.map((p) => p[0])).toEqual(ids.slice(4))
    await c1.close() // a crash: 6 entries stay pending with consumer "one"
    const more = await add('s2', 2)
    // A learner restarted elsewhere, whose checkpoint contains up to ids[5].
    const c2 = await redisConsumer({ url: redis.url, stream: 's2', group: 'g', consumer: 'two' })
    await c2.open(ids[5])
    const got: string[] = []
    for (let r = await c2.read(3, 50); r.length > 0; r = await c2.read(3, 50)) got.push(...r.map((x) => x.id))
    expect(got).toEqual([...ids.slice(6), ...more])
    const left = (await redis.client.xpending('s2', 'g', '-', '+', 100)) as [string, string, number, number][]
    expect(left.map((p) => p[0])).toEqual([...ids.slice(6), ...more])
    expect(new Set(left.map((p) => p[1]))).toEqual(new Set(['two']))
    await c2.commit(more[1])
    expect(await redis.client.xpending('s2', 'g', '-', '+', 100)).toEqual([])
    await c2.close()
  })

  it('a full read asks for the next entries at once, holding at most two reads; any read size continues in order', async () => {
    const ids = await add('s5', 20)
    const c = await redisConsumer({ url: redis.url, stream: 's5', group: 'g' })
    await c.open(undefined)
    const pendingCount = async (): Promise<number> => ((await redis.client.xpending('s5', 'g')) as [number])[0]
    const a = await c.read(5, 50)
    expect(a.map((x) => x.id)).toEqual(ids.slice(0, 5))
    // the read made ahead: entries 5-9 are given to this consumer before it asks for them
    while ((await pendingCount()) < 10) await new Promise((r) => setTimeout(r, 5))
    await new Promise((r) => setTimeout(r, 100))
    expect(await pendingCount()).toBe(10) // and no more than that
    const b = await c.read(5, 50)
    expect(b.map((x) => x.id)).toEqual(ids.slice(5, 10))
    await c.commit(ids[4])
    const left = (await redis.client.xpending('s5', 'g', '-', '+', 100)) as [string][]
    expect(left[0][0]).toBe(ids[5])
    // Reads of another size drop the read made ahead (ids 10-14, given already) and
    // take its entries from the pending list: nothing is skipped or repeated.
    const got: string[] = [...a, ...b].map((x) => x.id)
    for (let r = await c.read(3, 50); r.length > 0; r = await c.read(3, 50)) got.push(...r.map((x) => x.id))
    expect(got).toEqual(ids)
    await c.commit(ids[19])
    expect(await pendingCount()).toBe(0)
    await c.close()
  })

  it('never answers with the empty reply of a read made ahead: entries added since are returned', async () => {
    const ids = await add('s6', 4)
    const c = await redisConsumer({ url: redis.url, stream: 's6', group: 'g' })
    await c.open(undefined)
    expect((await c.read(4, 50)).map((x) => x.id)).toEqual(ids) // full: a read is made ahead, and finds nothing
    await new Promise((r) => setTimeout(r, 30))
    const later = await add('s6', 2)
    expect((await c.read(4, 50)).map((x) => x.id)).toEqual(later)
    await c.close()
  })

  it('refuses to start from scratch on a group that already acknowledged entries', async () => {
    const ids = await add('s3', 3)
    const c1 = await redisConsumer({ url: redis.url, stream: 's3', group: 'g' })
    await c1.open(undefined)
    await c1.read(3, 50)
    await c1.commit(ids[2])
    await c1.close()
    const c2 = await redisConsumer({ url: redis.url, stream: 's3', group: 'g' })
    await expect(c2.open(undefined)).rejects.toThrow(/already acknowledged 3 entries, but there is no checkpoint/)
    await c2.close()
  })

  it('copies a dead letter once under its own id, with its reason', async () => {
    const [id] = await add('s4', 1)
    const c = await redisConsumer({ url: redis.url, stream: 's4', group: 'g' })
    await c.open(undefined)
    const [e] = await c.read(1, 50)
    await c.deadLetter(e, 'missing label', 'no label')
    await c.deadLetter(e, 'missing label', 'no label') // after a crash: the same copy again
    expect(await entries(redis.client, 's4:rejected')).toEqual([[id, ['i', '0', 'reason', 'missing label', 'detail', 'no label']]])
    await c.close()
  })

  it('fails to connect with one line naming the URL', async () => {
    await expect(redisConsumer({ url: 'redis://127.0.0.1:1', stream: 's' })).rejects.toThrow(/^--redis: could not connect to redis:\/\/127\.0\.0\.1:1: ECONNREFUSED$/)
    await expect(redisConsumer({ url: 'http://x', stream: 's' })).rejects.toThrow('--redis: expected a redis:// or rediss:// URL, got "http://x"')
  })
})
