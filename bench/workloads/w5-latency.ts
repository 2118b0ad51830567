// W5: inference latency of the W3 net at batch 1: forward + softmax on test samples
// 0..999, each timed alone after 100 warm-up inferences; the 10 probabilities are read
// out as plain numbers inside the timed span. Figure: median and p90 microseconds.
// All systems use the same (initial, Glorot) weights; the bench also checks that their
// probabilities agree, so a fast wrong answer cannot pass unnoticed. The systems take
// turns, 100 samples at a time (bench/turns.ts).

import type { Tensor } from '../../src/node.ts'
import { evalCtx, predictor, softmax } from '../../src/node.ts'
import { now } from '../clock.ts'
import { PIXELS } from '../data.ts'
import { initialParams, w3Model } from '../gradstream.ts'
import { REFERENCE } from '../reference.ts'
import type { Cell, Detail } from '../report.ts'
import { measured, missing, perSystem } from '../report.ts'
import { single, summarize } from '../stats.ts'
import type { TfBackend } from '../tfjs.ts'
import { requireBackend } from '../tfjs.ts'
import { tfCnn, tfProbabilities } from '../tfjs-nets.ts'
import type { Attempt, WorkloadContext, WorkloadResult } from './context.ts'
import type { SystemId } from '../report.ts'
import type { Turn } from '../turns.ts'
import { inTurns, turnThen } from '../turns.ts'
import type { KernelBackend } from '../../src/ops/backend.ts'
import { kernelBackend, setKernelBackend } from '../../src/ops/backend.ts'
import { jaxInference } from '../jaxjs.ts'

interface Latencies {
  /** Microseconds of each timed inference. */
  readonly micros: number[]
  /** Probabilities of test sample 0 (to compare systems). */
  readonly first: number[]
}

/** Samples timed per turn: the systems take turns chunk by chunk (bench/turns.ts). */
const CHUNK = 100

/**
 * Times infer(i) for warm-ups, then for each sample alone, CHUNK samples per turn; `mine`
 * waits for the turn and makes the system current (a kernel or TF.js backend).
 */
const timeEach = async (infer: (i: number) => number[], ctx: WorkloadContext, mine: () => Promise<void>): Promise<Latencies> => {
  const { warmup, samples } = ctx.settings.w5
  const N = ctx.data.test.x.shape[0]
  await mine()
  for (let i = 0; i < warmup; i++) infer(i % N)
  const micros: number[] = []
  let sink = 0
  for (let i = 0; i < samples; i++) {
    if (i % CHUNK === 0) await mine()
    const t0 = now()
    const p = infer(i)
    micros.push((now() - t0) * 1000)
    sink += p[0]
  }
  if (!Number.isFinite(sink)) throw new Error('W5: non-finite probabilities')
  return { micros, first: infer(0) }
}

const sampleOf = (ctx: WorkloadContext, i: number): Float32Array => ctx.data.test.x.data.subarray(i * PIXELS, (i + 1) * PIXELS) as Float32Array

const gradstreamW5 = async (ctx: WorkloadContext, backend: KernelBackend, turn: Turn): Promise<Latencies> => {
  const mine = turnThen(turn, () => setKernelBackend(backend))
  await mine()
  // The inference entry point, as a user would call it: the model bound to its parameters
  // once (models/predictor.ts), on this system's backend.
  const model = w3Model()
  const predict = predictor(model, initialParams(model))
  const sm = softmax()
  return timeEach((i) => {
    // Wrap the sample as a [1, 28, 28, 1] tensor (a copy, like the TF.js side makes).
    const x: Tensor = { shape: [1, 28, 28, 1], data: sampleOf(ctx, i).slice() }
    return Array.from(sm.forward({}, predict(x), evalCtx).y.data)
  }, ctx, mine)
}

const tfjsW5 = async (backend: TfBackend, ctx: WorkloadContext, turn: Turn): Promise<Latencies> => {
  const mine = turnThen(turn, () => requireBackend(backend))
  await mine()
  const net = tfCnn(initialParams(w3Model()))
  try {
    return await timeEach((i) => tfProbabilities(net, sampleOf(ctx, i)), ctx, mine)
  } finally {
    net.dispose()
  }
}

const maxAbsDiff = (a: readonly number[], b: readonly number[]): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0)

export const w5Latency = async (ctx: WorkloadContext): Promise<WorkloadResult> => {
  const s = ctx.settings.w5
  ctx.log(`W5: gradstream, its TypeScript kernels, TF.js cpu and wasm, jax-js, interleaved ${CHUNK} samples at a time`)
  const fast = kernelBackend()
  const done = await inTurns<SystemId, Latencies>([
    ['gradstream', (turn) => gradstreamW5(ctx, fast, turn)],
    ['tfjsCpu', (turn) => tfjsW5('cpu', ctx, turn)],
    ['tfjsWasm', (turn) => tfjsW5('wasm', ctx, turn)],
    ['gradstreamTs', (turn) => gradstreamW5(ctx, 'ts', turn)],
    [
      'jaxjs',
      async (turn) => {
        await turn()
        const infer = await jaxInference(initialParams(w3Model()))
        return timeEach((i) => infer(sampleOf(ctx, i)), ctx, turn)
      },
    ],
  ])
  setKernelBackend(fast)
  const [gs, cpu, wasm, gsTs, jax] = (['gradstream', 'tfjsCpu', 'tfjsWasm', 'gradstreamTs', 'jaxjs'] as const).map(
    (sys): Attempt<Latencies> => done.get(sys) ?? { ok: false, reason: 'not run' },
  )
  const none: Attempt<Latencies> = { ok: false, reason: 'n/a: one batch-1 inference; no thread parallelism to use' }
  const runs = { gradstream: gs, gradstreamThreads: none, gradstreamTs: gsTs, gradstreamTsThreads: none, tfjsCpu: cpu, tfjsWasm: wasm, jaxjs: jax }
  const cell = (pick: 'median' | 'p90') => (r: Attempt<Latencies>): Cell => {
    if (!r.ok) return missing(r.reason)
    const sum = summarize(r.value.micros)
    // The p90 row shows the one figure; the median row carries min-max (and p90 in JSON).
    return measured(pick === 'median' ? sum : single(sum.p90))
  }
  const details: Detail[] = []
  const keys = { 'TF.js cpu': 'TfjsCpu', 'TF.js wasm': 'TfjsWasm', 'jax-js': 'Jaxjs', 'gradstream TypeScript kernels': 'GradstreamTs' }
  for (const [name, r] of [['TF.js cpu', cpu], ['TF.js wasm', wasm], ['jax-js', jax], ['gradstream TypeScript kernels', gsTs]] as const)
    if (gs.ok && r.ok)
      details.push({
        key: `maxAbsDiffVs${keys[name]}`,
        label: `max |p_gradstream - p_${name}| on test sample 0`,
        value: maxAbsDiff(gs.value.first, r.value.first),
      })
  return {
    id: 'W5',
    title: 'inference latency, W3 net, batch 1 (forward + softmax, probabilities read out)',
    rows: [
      { key: 'medianMicros', label: 'median latency', unit: 'us', better: 'lower', cells: perSystem(runs, cell('median')), reference: REFERENCE.w5Median },
      { key: 'p90Micros', label: 'p90 latency', unit: 'us', better: 'lower', cells: perSystem(runs, cell('p90')) },
    ],
    details,
    notes: [
      `test samples 0..${s.samples - 1}, each timed alone after ${s.warmup} warm-ups; min-max over the samples`,
      `interleaved: the systems take turns, ${CHUNK} samples each (bench/turns.ts), so all are timed in the same minutes`,
      'latency rows: lower is better, so gs/TF.js < 1 means gradstream is faster',
    ],
  }
}
