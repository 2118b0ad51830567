// A pool worker in a Web Worker (web-workers.ts): its first message carries the init,
// then it serves the pool's tasks (task-server.ts), blocking in Atomics.wait between
// them. Browsers have no synchronous receive: when a task needs messages not yet here
// (new arenas, model state), serve returns to the event loop, and each arriving message
// resumes it once all the pool posted (protocol.ts, MESSAGES) are in.

import type { ShardWorkerReport } from './web-workers.ts'
import type { TaskServer } from './task-server.ts'
import { taskServer } from './task-server.ts'
import type { WorkerInit, WorkerMessage } from './protocol.ts'
import * as P from './protocol.ts'

interface WorkerScope {
  onmessage: ((e: { readonly data: WorkerMessage | { readonly init: WorkerInit } }) => void) | null
  postMessage(message: ShardWorkerReport): void
  close(): void
}
const scope = globalThis as unknown as WorkerScope

let server: TaskServer | null = null
/** Messages before the server is built (none in practice: the pool posts after READY). */
const early: WorkerMessage[] = []
let received = 0
let posted = (): number => 0

const resume = (s: TaskServer): void => {
  if (s.serve(() => received >= posted()) === 'exit') scope.close()
}

const start = async (init: WorkerInit): Promise<void> => {
  const ctrl = new Int32Array(init.control)
  posted = () => Atomics.load(ctrl, init.index * P.SLOT + P.MESSAGES)
  const s = await taskServer(init)
  for (const m of early.splice(0)) s.apply(m)
  server = s
  s.ready()
  resume(s)
}

scope.onmessage = (e) => {
  const data = e.data
  if ('init' in data) {
    // A failure to start cannot be reported in shared memory (no task yet): post it.
    start(data.init).catch((err: unknown) => scope.postMessage({ failed: err instanceof Error ? err.message : String(err) }))
    return
  }
  received++
  if (server === null) {
    early.push(data)
    return
  }
  server.apply(data)
  if (received >= posted()) resume(server)
}
