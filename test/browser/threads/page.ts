// The page of test/browser/threads.test.ts: `globalThis.inWorker(threads, url?, user?)` trains in a
// Web Worker (where threads may block), `globalThis.onPage(threads)` on the page's main
// thread (where they may not: one thread, a notice, the same bits).
import * as gs from '../../../src/index.ts'
import { trainSmall } from '../../package/consumer/train-small.mjs'

interface WebWorker {
  onmessage: ((e: { readonly data: unknown }) => void) | null
  postMessage(message: unknown): void
  terminate(): void
}
declare const Worker: new (url: URL, options: { type: 'module' }) => WebWorker

const g = globalThis as unknown as Record<string, unknown>

g.inWorker = (threads: number, url?: string, user?: boolean): Promise<unknown> =>
  new Promise((resolve) => {
    const worker = new Worker(new URL('./train-worker.js', import.meta.url), { type: 'module' })
    worker.onmessage = (e) => {
      worker.terminate()
      resolve(e.data)
    }
    worker.postMessage({ threads, url, user })
  })

g.onPage = async (threads: number): Promise<unknown> => {
  const notices: string[] = []
  const info = console.info
  console.info = (...args: unknown[]) => {
    notices.push(args.join(' '))
    info(...args)
  }
  try {
    return { ...(await trainSmall(gs, { threads })), notices }
  } catch (e) {
    return { error: String(e instanceof Error ? e.stack : e) }
  } finally {
    console.info = info
  }
}
g.ready = true
