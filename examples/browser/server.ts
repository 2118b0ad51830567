// A static file server for the browser example and the browser tests: 127.0.0.1 only,
// GET/HEAD of files under one folder (no listing, no path outside it), and the two
// headers that make a page cross-origin isolated (so it may share memory with workers).

import { createReadStream, statSync } from 'node:fs'
import type { Server } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, sep } from 'node:path'

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
  '.css': 'text/css; charset=utf-8',
}

export interface StaticServer {
  readonly url: string
  readonly server: Server
  close(): Promise<void>
}

/**
 * Serves `root` on 127.0.0.1 (port 0: any free port). `isolated: false` leaves out the
 * COOP/COEP headers (a page without SharedArrayBuffer, for the one-thread fallback's test).
 */
export const serveStatic = (root: string, port = 0, { isolated = true }: { readonly isolated?: boolean } = {}): Promise<StaticServer> => {
  const base = normalize(root + sep)
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname)
    const file = normalize(join(base, path.endsWith('/') ? `${path}index.html` : path))
    const headers = {
      ...(isolated ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {}),
      'Cache-Control': 'no-store',
    }
    let ok = false
    try {
      ok = file.startsWith(base) && statSync(file).isFile()
    } catch {
      ok = false
    }
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !ok) {
      res.writeHead(ok ? 405 : 404, { ...headers, 'Content-Type': 'text/plain' }).end(ok ? 'method not allowed' : 'not found')
      return
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' })
    if (req.method === 'HEAD') res.end()
    else createReadStream(file).pipe(res)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const { port: p } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${p}/`,
        server,
        close: () => new Promise<void>((done) => server.close(() => done())),
      })
    })
  })
}
