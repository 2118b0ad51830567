// Starting a pool worker as a Node worker thread (pool.ts's default Spawn).
//
// node:worker_threads is reached through process.getBuiltinModule (Node >= 20.16), not a
// static import: pool.ts is shared with the browser's Web Worker executor
// (web-workers.ts), and a static `node:` import anywhere in its graph would stop the
// browser build of the core entry (test/package/browser-safe.test.ts). This function only
// ever runs in Node.

import type { MessagePort } from 'node:worker_threads'
import { GradstreamError } from '../core/errors.ts'
import type { Spawn, WorkerInit } from './protocol.ts'

/** What a Node worker receives as workerData: the common init, its entry and its port. */
export interface NodeWorkerData extends WorkerInit {
  readonly entry: string
  readonly port: MessagePort
}

// Compiled (dist/parallel/pool.js), the worker is the compiled worker.js, loaded directly.
// From the TypeScript sources (tsx, vitest), workers do not inherit the parent's loader
// hooks, so boot.mjs registers tsx in the worker and then imports worker.ts.
const COMPILED = import.meta.url.endsWith('.js')
const ENTRY = new URL(COMPILED ? './worker.js' : './worker.ts', import.meta.url).href
const BOOT = COMPILED ? new URL(ENTRY) : new URL('./boot.mjs', import.meta.url)

export const nodeWorkerThreads: Spawn = (init, fail) => {
  const threads = globalThis.process?.getBuiltinModule?.('node:worker_threads')
  if (threads === undefined) throw new GradstreamError('worker pool: expected Node >= 20.16 (worker threads), got a runtime without them')
  const { port1, port2 } = new threads.MessageChannel()
  const data: NodeWorkerData = { ...init, entry: ENTRY, port: port2 }
  const worker = new threads.Worker(BOOT, { workerData: data, transferList: [port2] })
  worker.unref()
  worker.on('error', (e: Error) => fail(`worker ${init.index} failed: ${e.message}`))
  worker.on('exit', (code) => fail(`worker ${init.index} exited (code ${code})`))
  return {
    post: (message) => port1.postMessage(message),
    terminate: async () => {
      await worker.terminate()
      port1.close()
    },
  }
}
