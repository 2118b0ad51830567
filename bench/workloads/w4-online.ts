// W4: online learning, MLP 784-64-10 ReLU, batch 1, SGD lr 0.01, one update per sample
// in the fixed order. Updates/s: fresh model, 100 warm-up updates, then 2,000 timed
// (after a second of such runs per system, untimed: the process's JIT warm-up);
// 5 repeats with fresh models. Prequential accuracy over the whole 8,000-sample stream:
// each sample is predicted (separate forward + argmax) before the model learns from it.

import { gatherRows, oneHotRows, PIXELS } from '../data.ts'
import { initialParams, w4Model } from '../gradstream.ts'
import type { LongStreamResult } from '../gradstream-online.ts'
import { gradstreamLongStream, gradstreamOnline } from '../gradstream-online.ts'
import { now, repeatFor } from '../clock.ts'
import { REFERENCE } from '../reference.ts'
import type { Cell, Detail } from '../report.ts'
import { measured, missing, perSystem } from '../report.ts'
import { single, summarize } from '../stats.ts'
import type { TfBackend } from '../tfjs.ts'
import { requireBackend, tf } from '../tfjs.ts'
import { tfMlp, tfPredict, tfTrainStep } from '../tfjs-nets.ts'
import type { Attempt, WorkloadContext, WorkloadResult } from './context.ts'
import { attempt } from './context.ts'
import type { SystemId } from '../report.ts'
import type { Turn } from '../turns.ts'
import { inTurns, turnThen } from '../turns.ts'
import type { KernelBackend } from '../../src/ops/backend.ts'
import { kernelBackend, setKernelBackend } from '../../src/ops/backend.ts'

interface OnlineFigures {
  /** Updates/s of each repeat. */
  readonly rates: number[]
  readonly prequentialAccuracy: number
}

const gradstreamW4 = async (ctx: WorkloadContext, backend: KernelBackend, turn: Turn): Promise<OnlineFigures> => {
  const s = ctx.settings.w4
  const base = { train: ctx.data.train, order: ctx.data.order, hidden: s.hidden, lr: s.lr }
  const rates: number[] = []
  const myTurn = turnThen(turn, () => setKernelBackend(backend))
  await myTurn()
  // The process's warm-up for this system (untimed; the repeats then warm each fresh model up as WORKLOADS.md says).
  const t0 = now()
  do await gradstreamOnline({ ...base, updates: s.warmup + s.timed, warmup: s.warmup, prequential: false })
  while (now() - t0 < s.warmupMs)
  for (let r = 0; r < s.repeats; r++) {
    await myTurn()
    const res = await gradstreamOnline({ ...base, updates: s.warmup + s.timed, warmup: s.warmup, prequential: false })
    rates.push(res.timedUpdates / res.seconds)
  }
  await myTurn()
  const p = await gradstreamOnline({ ...base, updates: s.prequentialSamples, warmup: 0, prequential: true })
  return { rates, prequentialAccuracy: p.correct / p.predicted }
}

const tfjsW4 = async (backend: TfBackend, ctx: WorkloadContext, turn: Turn): Promise<OnlineFigures> => {
  const myTurn = turnThen(turn, () => requireBackend(backend))
  await myTurn()
  const s = ctx.settings.w4
  const { train, order } = ctx.data
  const params = initialParams(w4Model(s.hidden))
  // One sample, wrapped as the batch of one the step consumes (timed with the step).
  const sample = (i: number): [Float32Array, Float32Array] => {
    const idx = order.subarray(i, i + 1)
    return [gatherRows(train.x.data, idx, PIXELS), oneHotRows(train.labels, idx)]
  }
  const rates: number[] = []
  // Tensors are counted within our turn (the other runs' live in the same engine, unchanged meanwhile).
  const leakCheck = (before: number, what: string): void => {
    const leaked = tf.memory().numTensors - before
    if (leaked > 0) throw new Error(`TF.js ${backend}: ${leaked} tensors leaked by ${what} (bench bug)`)
  }
  const onlineRun = (net: ReturnType<typeof tfMlp>, opt: tf.Optimizer, from: number, to: number): void => {
    for (let i = from; i < to; i++) tfTrainStep(net, opt, ...sample(i), 1)
  }
  // The process's warm-up for this backend (untimed), as for gradstream.
  repeatFor(s.warmupMs, () => {
    const before = tf.memory().numTensors
    const net = tfMlp(params)
    const opt = tf.train.sgd(s.lr)
    try {
      onlineRun(net, opt, 0, s.warmup + s.timed)
    } finally {
      net.dispose()
      opt.dispose()
    }
    leakCheck(before, 'the warm-up')
  })
  for (let r = 0; r < s.repeats; r++) {
    await myTurn()
    const before = tf.memory().numTensors
    const net = tfMlp(params)
    const opt = tf.train.sgd(s.lr)
    try {
      onlineRun(net, opt, 0, s.warmup)
      const t1 = now()
      onlineRun(net, opt, s.warmup, s.warmup + s.timed)
      rates.push(s.timed / ((now() - t1) / 1000))
    } finally {
      net.dispose()
      opt.dispose()
    }
    leakCheck(before, 'a repeat of the online loop')
  }
  await myTurn()
  const before = tf.memory().numTensors
  const net = tfMlp(params)
  const opt = tf.train.sgd(s.lr)
  let correct = 0
  try {
    for (let i = 0; i < s.prequentialSamples; i++) {
      const [x, y] = sample(i)
      if (tfPredict(net, x, 1)[0] === train.labels[order[i]]) correct++
      tfTrainStep(net, opt, x, y, 1)
    }
  } finally {
    net.dispose()
    opt.dispose()
  }
  leakCheck(before, 'the prequential run')
  return { rates, prequentialAccuracy: correct / s.prequentialSamples }
}

const MB = (v: number): string => `${v.toFixed(1)} MB`

/** Memory at the start, the peak, and the end of the long stream: flat means no growth. */
const longStreamDetails = (r: Attempt<LongStreamResult>): Detail[] => {
  if (!r.ok) return [{ key: 'longStream', label: 'long stream memory', value: `n/a: ${r.reason}` }]
  const m = r.value.samples
  const heap = m.map((x) => x.memory.heapUsedMB)
  const rss = m.map((x) => x.memory.rssMB)
  const first = m[1] ?? m[0]
  const last = m[m.length - 1]
  return [
    { key: 'longStreamRecords', label: 'long stream (the learner, snapshot every 1,000)', value: `${r.value.records.toLocaleString('en-US')} records in ${r.value.seconds.toFixed(1)} s` },
    { key: 'longStreamHeap', label: `heap used at ${first.records.toLocaleString('en-US')} / end / peak`, value: `${MB(first.memory.heapUsedMB)} / ${MB(last.memory.heapUsedMB)} / ${MB(Math.max(...heap))}` },
    { key: 'longStreamRss', label: `RSS at ${first.records.toLocaleString('en-US')} / end / peak`, value: `${MB(first.memory.rssMB)} / ${MB(last.memory.rssMB)} / ${MB(Math.max(...rss))}` },
  ]
}

const rateCell = (r: Attempt<OnlineFigures>): Cell => (r.ok ? measured(summarize(r.value.rates)) : missing(r.reason))
const accCell = (r: Attempt<OnlineFigures>): Cell => (r.ok ? measured(single(r.value.prequentialAccuracy)) : missing(r.reason))

export const w4Online = async (ctx: WorkloadContext): Promise<WorkloadResult> => {
  const s = ctx.settings.w4
  ctx.log('W4: gradstream, its TypeScript kernels, TF.js cpu and wasm, interleaved repeat by repeat')
  const fast = kernelBackend()
  const done = await inTurns<SystemId, OnlineFigures>([
    ['gradstream', (turn) => gradstreamW4(ctx, fast, turn)],
    ['gradstreamTs', (turn) => gradstreamW4(ctx, 'ts', turn)],
    ['tfjsCpu', (turn) => tfjsW4('cpu', ctx, turn)],
    ['tfjsWasm', (turn) => tfjsW4('wasm', ctx, turn)],
  ])
  setKernelBackend(fast)
  const [gs, gsTs, cpu, wasm] = (['gradstream', 'gradstreamTs', 'tfjsCpu', 'tfjsWasm'] as const).map(
    (sys): Attempt<OnlineFigures> => done.get(sys) ?? { ok: false, reason: 'not run' },
  )
  ctx.log(`W4: gradstream, memory over ${s.longStream.toLocaleString('en-US')} records`)
  const long = await attempt(() =>
    gradstreamLongStream({ train: ctx.data.train, order: ctx.data.order, hidden: s.hidden, lr: s.lr, records: s.longStream, every: s.memoryEvery }),
  )
  const none: Attempt<OnlineFigures> = { ok: false, reason: 'n/a: batch-1 updates are sequential; no thread parallelism to use' }
  const jax: Attempt<OnlineFigures> = { ok: false, reason: 'n/a: not one of the jax-js workloads (W1, W2, W3, W5)' }
  const gsOnly: Attempt<LongStreamResult> = { ok: false, reason: 'n/a: the long stream runs on the default backend only (it measures memory)' }
  const runs = { gradstream: gs, gradstreamThreads: none, gradstreamTs: gsTs, gradstreamTsThreads: none, tfjsCpu: cpu, tfjsWasm: wasm, jaxjs: jax }
  return {
    id: 'W4',
    title: `online MLP 784-${s.hidden}-10 ReLU, batch 1, SGD lr ${s.lr}`,
    rows: [
      { key: 'updatesPerSec', label: 'updates/s', unit: 'updates/s', better: 'higher', cells: perSystem(runs, rateCell), reference: REFERENCE.w4Speed },
      {
        key: 'longStreamUpdatesPerSec',
        label: `long stream, updates/s (${s.longStream.toLocaleString('en-US')} records)`,
        unit: 'updates/s',
        better: 'higher',
        cells: perSystem({ ...runs, gradstream: long, gradstreamTs: gsOnly, tfjsCpu: gsOnly, tfjsWasm: gsOnly }, (r) => (r.ok ? measured(single(r.value.records / r.value.seconds)) : missing(r.reason))),
      },
      { key: 'prequentialAcc', label: `prequential acc (${s.prequentialSamples} samples)`, unit: 'acc', better: 'none', cells: perSystem(runs, accCell), reference: REFERENCE.w4Acc },
    ],
    details: longStreamDetails(long),
    notes: [
      `updates/s: fresh model, ${s.warmup} warm-up updates, ${s.timed} timed; median [min-max] of ${s.repeats} repeats with fresh models, after at least ${s.warmupMs} ms of such runs per system, untimed (the JIT's warm-up)`,
      'interleaved: repeat r of every system in turn (bench/turns.ts), so all are timed in the same minutes',
      'prequential: predict each sample with a separate forward + argmax, then learn from it, over the stream in the fixed order',
      'gradstream: the online operator (src/streams/online.ts) and its learner (src/streams/learner.ts): forward, backward and an in-place SGD on a private working copy (on the SIMD backend resident in WebAssembly memory: src/ops/resident.ts), the same step as every model and optimizer; a snapshot every 100 updates (bench/gradstream-online.ts)',
    ],
  }
}
