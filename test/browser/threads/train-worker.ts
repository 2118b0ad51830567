// The training worker of test/browser/threads.test.ts: runs the package consumer's small
// training run (test/package/consumer/train-small.mjs) on the sources' browser entry with
// the threads asked for (and the shard worker's URL, if given), and posts its result with
// the notices the run printed; or, asked for `user`, a run with user-defined layer types.
import * as gs from '../../../src/index.ts'
import { trainSmall } from '../../package/consumer/train-small.mjs'
import { userLayerRun } from './user-run.ts'

interface WorkerScope {
  onmessage: ((e: { readonly data: { readonly threads: number; readonly url?: string; readonly user?: boolean } }) => void) | null
  postMessage(message: unknown): void
}
const scope = globalThis as unknown as WorkerScope

scope.onmessage = async (e) => {
  const notices: string[] = []
  const info = console.info
  console.info = (...args: unknown[]) => {
    notices.push(args.join(' '))
    info(...args)
  }
  try {
    const { threads, url, user } = e.data
    if (user === true) {
      const hash = await userLayerRun(threads, gs.webWorkers(url === undefined ? {} : { url }))
      scope.postMessage({ hash, notices })
      return
    }
    const run = await trainSmall(gs, url === undefined ? { threads } : { threads, executor: gs.webWorkers({ url }) })
    scope.postMessage({ ...run, notices, crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true })
  } catch (err) {
    scope.postMessage({ error: String(err instanceof Error ? err.stack : err) })
  } finally {
    console.info = info
  }
}
