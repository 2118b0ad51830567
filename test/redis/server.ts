// A real redis-server for one test file: a free port on 127.0.0.1, no persistence,
// stopped after. The suite runs with `npm run test:redis` (not `npm test`), and .ci/run
// installs redis-server with apt-get when it is missing.

import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'

export interface RedisServer {
  readonly url: string
  readonly port: number
  /** A client for the test's own checks (closed by stop). */
  readonly client: Redis
  stop(): Promise<void>
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      const port = typeof a === 'object' && a !== null ? a.port : 0
      s.close(() => resolve(port))
    })
  })

const waitReady = (child: ChildProcess): Promise<void> =>
  new Promise((resolve, reject) => {
    let out = ''
    const onData = (b: Buffer): void => {
      out += b.toString()
      if (/Ready to accept connections/.test(out)) {
        child.stdout?.off('data', onData)
        resolve()
      }
    }
    child.stdout?.on('data', onData)
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out.slice(-500)}`)))
  })

export const startRedis = async (): Promise<RedisServer> => {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    try {
      await waitReady(child)
    } catch (e) {
      if (attempt < 3) continue // the port was taken between the probe and the start
      throw e
    }
    child.stdout?.resume()
    const url = `redis://127.0.0.1:${port}`
    const client = new Redis(url, { maxRetriesPerRequest: 1 })
    return {
      url,
      port,
      client,
      stop: async () => {
        client.disconnect()
        if (child.exitCode !== null) return
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve())
          child.kill('SIGTERM')
        })
      },
    }
  }
}

/** [id, fields] of every entry of a stream, in order. */
export const entries = async (client: Redis, key: string): Promise<[string, string[]][]> =>
  (await client.xrange(key, '-', '+')) as [string, string[]][]
