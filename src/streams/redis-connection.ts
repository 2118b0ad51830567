// One Redis connection (ioredis) for the learner, the producer and the followers.
//
// Connecting fails fast with one line (a wrong URL or a server that is not there is the
// user's to fix); once connected, a dropped connection is retried without limit and the
// commands wait for it (maxRetriesPerRequest: null), so a Redis restart or a network
// blip delays the learner instead of ending it. Blocking reads get their own connection.

import { Redis } from 'ioredis'
import { GradstreamError } from '../core/errors.ts'

/** A checked redis:// URL (the one-line error names what was given). */
export const checkRedisUrl = (url: string): URL => {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new GradstreamError(`--redis: expected a URL like redis://127.0.0.1:6379, got ${JSON.stringify(url)}`)
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new GradstreamError(`--redis: expected a redis:// or rediss:// URL, got ${JSON.stringify(url)}`)
  return u
}

/** The URL without its password, for messages. */
export const showRedisUrl = (url: string): string => {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString().replace(/\/$/, '')
  } catch {
    return url
  }
}

/** Opens a connection and waits until it is ready; a GradstreamError when it cannot. */
export const connectRedis = async (url: string): Promise<Redis> => {
  checkRedisUrl(url)
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(50 * times, 1000),
  })
  // Reconnection is handled by the client; errors it reports while retrying are not
  // ours, but the first one says why the first connection failed (ECONNREFUSED, ...).
  let first: NodeJS.ErrnoException | undefined
  redis.on('error', (e: NodeJS.ErrnoException) => {
    first ??= e
  })
  try {
    await redis.connect()
  } catch (e) {
    redis.disconnect()
    const err = first ?? (e as NodeJS.ErrnoException)
    throw new GradstreamError(`--redis: could not connect to ${showRedisUrl(url)}: ${err.code ?? err.message}`)
  }
  return redis
}

/** A command's reply as a string array (ioredis gives strings for bulk replies). */
export const asStrings = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => String(x)) : [])
