// `gradstream dashboard`: an HTTP server on 127.0.0.1 (by default) for the page and the
// JSON API over the given runs.
//
// Access: a random token (node:crypto, 24 bytes) is made per server; the page and every
// API request must carry it (`?token=` or `Authorization: Bearer`), else 403. It keeps
// other web pages (which can send requests to localhost but cannot know the token) and
// other local users from reading runs or starting training. The page's script and styles
// hold no data and are served without it. No CORS headers are sent.

import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { GradstreamError } from '../core/errors.ts'
import { createApi, HttpError, sendError } from './api.ts'
import { Forks } from './forks.ts'
import type { PageAssets } from './page-assets.ts'
import { CONTENT_TYPES, pageAssets } from './page-assets.ts'
import type { ReplayCacheOptions } from './replay-cache.ts'
import { ReplayCache } from './replay-cache.ts'
import { RunRegistry } from './runs.ts'

/** The default port (documented in the README and the usage text). */
export const DEFAULT_PORT = 6114

export interface DashboardOptions {
  /** Run directories, or directories holding run directories one level down. */
  readonly dirs: readonly string[]
  /** More directories the input files of online runs may lie in (besides `dirs`). */
  readonly dataDirs?: readonly string[]
  /** 0 picks a free port (default DEFAULT_PORT). */
  readonly port?: number
  readonly host?: string
  /** Fixed token (tests); default: 24 random bytes, base64url. */
  readonly token?: string
  readonly cache?: ReplayCacheOptions
}

export interface Dashboard {
  readonly url: string
  readonly port: number
  readonly token: string
  readonly registry: RunRegistry
  readonly cache: ReplayCache
  readonly forks: Forks
  /** Stops listening; with `stopForks`, waits for forks to reach their next checkpoint and stops them. */
  close(options?: { stopForks?: boolean }): Promise<void>
}

const tokenOf = (req: IncomingMessage, url: URL): string | null => {
  const auth = req.headers.authorization
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7).trim()
  return url.searchParams.get('token')
}

const sameToken = (a: string | null, b: string): boolean => {
  if (a === null) return false
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const ASSETS: { readonly [path: string]: keyof PageAssets } = { '/app.js': 'app.js', '/app.css': 'app.css' }

export const startDashboard = async (options: DashboardOptions): Promise<Dashboard> => {
  const registry = new RunRegistry(options.dirs, options.dataDirs)
  const cache = new ReplayCache(options.cache)
  const forks = new Forks()
  const token = options.token ?? randomBytes(24).toString('base64url')
  const host = options.host ?? '127.0.0.1'
  const api = createApi({ registry, cache, forks })

  const serveAsset = async (res: ServerResponse, name: keyof PageAssets): Promise<void> => {
    const body = (await pageAssets())[name]
    res.writeHead(200, { 'content-type': CONTENT_TYPES[name], 'content-length': body.length, 'cache-control': 'no-cache' })
    res.end(body)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const asset = ASSETS[url.pathname]
    if (asset !== undefined && req.method === 'GET') return serveAsset(res, asset)
    if (url.pathname !== '/' && url.pathname !== '/index.html' && !url.pathname.startsWith('/api/'))
      return sendError(res, 404, `no such path ${url.pathname}`)
    if (!sameToken(tokenOf(req, url), token))
      return sendError(res, 403, 'expected the token printed by gradstream dashboard (?token=... or Authorization: Bearer ...)')
    if (url.pathname.startsWith('/api/')) return api(req, res, url)
    if (req.method !== 'GET') return sendError(res, 405, `${url.pathname}: expected GET, got ${req.method}`)
    return serveAsset(res, 'index.html')
  }

  const server: Server = createServer((req, res) => {
    // No keep-alive: a client reusing a socket the server is just closing as idle gets
    // ECONNRESET (seen under load); a fresh local connection per request costs ~0.1 ms.
    res.setHeader('connection', 'close')
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) return void res.destroy()
      if (e instanceof HttpError) return sendError(res, e.status, e.message)
      const message = e instanceof Error ? e.message.split('\n')[0] : String(e)
      sendError(res, e instanceof GradstreamError ? 422 : 500, message)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new GradstreamError(
          e.code === 'EADDRINUSE'
            ? `--port: expected a free port, but ${options.port ?? DEFAULT_PORT} is in use (--port 0 picks a free one)`
            : `cannot listen on ${host}:${options.port ?? DEFAULT_PORT}: ${e.message}`,
        ),
      ),
    )
    server.listen(options.port ?? DEFAULT_PORT, host, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  const shown = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${shown}:${port}/?token=${token}`,
    port,
    token,
    registry,
    cache,
    forks,
    close: async (o = {}) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      cache.close()
      if (o.stopForks === true) await forks.stopAll()
      await closed
    },
  }
}
