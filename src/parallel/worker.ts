// A pool worker in a Node worker thread: serves the pool's tasks (task-server.ts) until
// told to exit, taking the pool's messages synchronously (receiveMessageOnPort) when a
// task needs them.

import { receiveMessageOnPort, workerData } from 'node:worker_threads'
import type { NodeWorkerData } from './node-spawn.ts'
import type { WorkerMessage } from './protocol.ts'
import { taskServer } from './task-server.ts'

const init = workerData as NodeWorkerData
const server = await taskServer(init)
server.ready()
server.serve(() => {
  for (let m = receiveMessageOnPort(init.port); m !== undefined; m = receiveMessageOnPort(init.port)) server.apply(m.message as WorkerMessage)
  return true
})
init.port.close()
