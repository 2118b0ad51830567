// Worker bootstrap: registers tsx's ESM hooks in this thread, then loads the TypeScript
// entry named in workerData (workers do not inherit the parent's loader hooks).
import { register } from 'tsx/esm/api'
import { workerData } from 'node:worker_threads'

register()
await import(workerData.entry)
