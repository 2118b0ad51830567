// Threads in a browser: the worker pool (pool.ts) on Web Workers sharing memory
// (SharedArrayBuffer + Atomics), the same protocol and the same shard arithmetic as Node's
// worker threads, so a run gives the same bits on any thread count and either platform.
//
// The pool's step is synchronous: the training thread computes its own shards, then
// blocks with Atomics.wait until the workers' shards are in (ShardExecutor.run). A page's
// main thread may not block, a Web Worker may: threads are used when training runs in a
// Web Worker of a cross-origin isolated page (the only pages given SharedArrayBuffer),
// and the run trains on one thread otherwise (ThreadsUnavailable: a notice, same bits).
//
// The shard workers run web-worker.js (src/parallel/web-worker.ts, the package's
// `gradstream/web-worker` entry). By default it is found beside this module
// (`new URL('./web-worker.js', import.meta.url)`: unbundled ESM, and bundlers that follow
// that pattern, Vite and webpack); with esbuild, build it as its own entry and pass its
// URL (webWorkers({ url })).

import type { ExecutorFactory, ThreadsUnavailable } from '../streams/shards.ts'
import { WorkerPool } from './pool.ts'
import * as P from './protocol.ts'
import type { Spawn, WorkerInit, WorkerMessage } from './protocol.ts'

/** What a shard worker posts back: only a failure to start (tasks report in shared memory). */
export interface ShardWorkerReport {
  readonly failed: string
}

interface WebWorker {
  postMessage(message: unknown): void
  terminate(): void
  onerror: ((e: { readonly message?: string; preventDefault?: () => void }) => void) | null
  onmessage: ((e: { readonly data: ShardWorkerReport }) => void) | null
}
// The browser's Worker, declared here: the library is compiled without the DOM types.
declare const Worker: new (url: string | URL, options: { type: 'module'; name?: string }) => WebWorker

export interface WebWorkersOptions {
  /** URL of web-worker.js (default: beside this module). */
  readonly url?: string | URL
  /** Give up waiting for a worker's shard after this long (default 120 s). */
  readonly timeoutMs?: number
  /** Give up on workers that have not started after this long (default 60 s). */
  readonly startTimeoutMs?: number
}

/** Can this thread block in Atomics.wait? (A Web Worker can, a page's main thread cannot.) */
const canBlock = (): boolean => {
  try {
    // 1 is not the value stored, so a thread allowed to wait returns 'not-equal' at once.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0)
    return true
  } catch {
    return false
  }
}

/** Why Web Worker threads cannot run here, or null when they can. */
export const webThreadsUnavailable = (): string | null => {
  if (typeof Worker === 'undefined') return 'no Web Workers in this runtime (in Node, the Node entry trains on worker threads)'
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== true)
    return 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp for SharedArrayBuffer)'
  if (!canBlock()) return "training runs on the page's main thread, which may not block; train in a Web Worker to use threads"
  return null
}

/** Starts a shard worker as a module Web Worker; `init` goes in its first message. */
const webSpawn =
  (url: string | URL | undefined): Spawn =>
  (init: WorkerInit, fail: (why: string) => void) => {
    const name = `gradstream shard worker ${init.index}`
    // The default is written out as `new Worker(new URL(...), ...)` so bundlers see it.
    const worker =
      url === undefined
        ? new Worker(new URL('./web-worker.js', import.meta.url), { type: 'module', name })
        : new Worker(url, { type: 'module', name })
    worker.onerror = (e) => fail(`worker ${init.index} failed: ${e.message ?? 'could not load web-worker.js (is it served beside the bundle? see webWorkers({ url }))'}`)
    worker.onmessage = (e) => fail(`worker ${init.index} failed: ${e.data.failed}`)
    // The worker counts the messages it has had against this count (protocol.ts, MESSAGES).
    const ctrl = new Int32Array(init.control)
    let sent = 0
    worker.postMessage({ init })
    return {
      post: (message: WorkerMessage) => {
        Atomics.store(ctrl, init.index * P.SLOT + P.MESSAGES, ++sent)
        worker.postMessage(message)
      },
      terminate: async () => worker.terminate(),
    }
  }

/**
 * Web Workers as the executor of `train({ threads })` in a browser: starts threads - 1
 * shard workers for the run, or answers ThreadsUnavailable (the run trains on one thread)
 * where they cannot run.
 */
export const webWorkers =
  (options: WebWorkersOptions = {}): ExecutorFactory =>
  async ({ threads, objective, layout }) => {
    const why = webThreadsUnavailable()
    if (why !== null) return { unavailable: why } satisfies ThreadsUnavailable
    return WorkerPool.create({
      threads,
      objective,
      layout,
      spawn: webSpawn(options.url),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
    })
  }
