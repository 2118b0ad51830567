// W2 or W3 per step, one thread against N (a diagnostic, not part of `npm run bench`):
//
//   npx tsx bench/workloads/step-cpu.ts [w2|w3] [threads=2] [repeats=5]
//
// Runs epochs of W2 (MLP 784-256-128-10, batch 64, SGD 0.1) or W3 (the CNN, batch 32,
// SGD 0.05), in the fixed order, as a plain step loop, alternating the one-thread step and the N-thread sharded step (microbatches =
// N, the bench's "Nt" column) in one process, and prints for each: samples/s (median
// [min-max] over the repeats), CPU per step of the main thread and of all the others
// (pool workers and V8's helper threads: concurrent marking, sweeping) from
// /proc/self/task/*/schedstat (Linux), and the full mark-compacts of the main thread per
// 100 steps (and the scavenges). On a shared, loaded machine the rates spread; the CPU times say where the
// time goes: a step on N threads cannot take less than the CPU of all threads divided by
// the cores, nor less than the main thread's CPU.

import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { constants, PerformanceObserver } from 'node:perf_hooks'
import type { Batch } from '../../src/models/objective.ts'
import { sgd } from '../../src/node.ts'
import { warmUpKernels } from '../../src/ops/warm-up.ts'
import { WorkerPool } from '../../src/parallel/pool.ts'
import { localExecutor, shardedTrainStep } from '../../src/streams/shards.ts'
import type { Snapshot } from '../../src/streams/snapshot.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import type { StepInput } from '../../src/streams/steps.ts'
import { CLASSES, loadBenchData, PIXELS } from '../data.ts'
import { initialState, objectiveOf, w2Model, w3Model } from '../gradstream.ts'
import { summarize } from '../stats.ts'

const WORKLOADS = {
  w2: { batch: 64, lr: 0.1, model: w2Model },
  w3: { batch: 32, lr: 0.05, model: w3Model },
} as const
const [workload = 'w2', ...rest] = process.argv.slice(2, 5)
const [threads = 2, repeats = 5] = rest.map(Number)
if (!(workload === 'w2' || workload === 'w3') || !(Number.isInteger(threads) && threads >= 2) || !(Number.isInteger(repeats) && repeats >= 1)) {
  console.error(`usage: step-cpu.ts [w2|w3] [threads >= 2] [repeats >= 1], got ${process.argv.slice(2).join(' ')}`)
  process.exit(2)
}

const { batch: B, lr: LR, model: makeModel } = WORKLOADS[workload]
warmUpKernels()
const data = loadBenchData()
const steps = Math.floor(data.order.length / B)
// The batches of one epoch, gathered before timing.
const batches: Batch[] = Array.from({ length: steps }, (_, p) => {
  const x = new Float32Array(B * PIXELS)
  const y = new Float32Array(B * CLASSES)
  const labels = new Int32Array(B)
  for (let r = 0; r < B; r++) {
    const i = data.order[p * B + r]
    x.set(data.train.x.data.subarray(i * PIXELS, (i + 1) * PIXELS), r * PIXELS)
    labels[r] = data.train.labels[i]
    y[r * CLASSES + labels[r]] = 1
  }
  return { x: { shape: [B, 28, 28, 1], data: x }, y: { shape: [B, CLASSES], data: y }, labels, epoch: 0, position: p }
})

const model = makeModel()
const objective = objectiveOf(model)
const pool = await WorkerPool.create({ threads, objective, layout: initialState(model, LR).layout })
const variants: Record<string, () => (input: StepInput) => Snapshot> = {
  // The 1-thread step as train() runs it: one shard on the local executor (its step arena).
  '1 thread': () => shardedTrainStep(objective, sgd(LR), localExecutor(), 1),
  [`${threads} threads`]: () => shardedTrainStep(objective, sgd(LR), pool, threads),
}

/** CPU time (ns) of the main thread and of all other threads, or null off Linux. */
const cpu = (): { main: number; others: number } | null => {
  if (!existsSync('/proc/self/task')) return null
  let main = 0
  let others = 0
  for (const t of readdirSync('/proc/self/task')) {
    const ns = Number(readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0])
    if (Number(t) === process.pid) main += ns
    else others += ns
  }
  return { main, others }
}

let majors = 0
let minors = 0
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as { detail?: { kind?: number } }).detail?.kind
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minors++
  }
}).observe({ entryTypes: ['gc'] })

const epoch = (name: string, n: number): Snapshot => {
  const step = variants[name]()
  let s = initialState(model, LR)
  for (let p = 0; p < n; p++) s = step({ snapshot: s, batch: batches[p % steps] })
  return s
}

interface Runs {
  readonly rates: number[]
  readonly main: number[]
  readonly others: number[]
  readonly majors: number[]
  readonly minors: number[]
}
const runs = new Map<string, Runs>()
for (const name of Object.keys(variants)) console.log(`${name}: parameter hash after 60 steps ${hashParams(epoch(name, 60)).slice(0, 16)}`)
for (let r = 0; r < repeats; r++)
  for (const name of Object.keys(variants)) {
    epoch(name, 10)
    // Let the GC observer's entries of the warm-up arrive before counting.
    await new Promise((done) => setTimeout(done, 0))
    const m0 = majors
    const n0 = minors
    const c0 = cpu()
    const t0 = performance.now()
    epoch(name, steps)
    const ms = performance.now() - t0
    const c1 = cpu()
    await new Promise((done) => setTimeout(done, 0))
    const run = runs.get(name) ?? { rates: [], main: [], others: [], majors: [], minors: [] }
    runs.set(name, run)
    run.rates.push((steps * B) / (ms / 1000))
    run.majors.push(((majors - m0) * 100) / steps)
    run.minors.push(((minors - n0) * 100) / steps)
    if (c0 !== null && c1 !== null) {
      run.main.push((c1.main - c0.main) / steps / 1e6)
      run.others.push((c1.others - c0.others) / steps / 1e6)
    }
  }
await pool.terminate()

const med = (a: readonly number[]): string => (a.length === 0 ? 'n/a' : summarize([...a]).median.toFixed(2))
for (const [name, r] of runs) {
  const s = summarize(r.rates)
  console.log(
    `${name.padEnd(10)} ${s.median.toFixed(0)} [${s.min.toFixed(0)}-${s.max.toFixed(0)}] samples/s; ` +
      `CPU ms/step: main ${med(r.main)}, other threads ${med(r.others)}; per 100 steps: full mark-compacts ${med(r.majors)}, scavenges ${med(r.minors)}`,
  )
}
process.exit(0)
