// W1: C = A B in fp32, n x n for n = 128, 256, 512, entries uniform in [-1, 1).
// GFLOP/s = 2 n^3 / time per call; 3 warm-up calls; 7 repeats, each a batch of
// back-to-back calls lasting >= 50 ms. TF.js includes dataSync() so the product is
// actually computed and read back.

import { key, random } from '../../src/node.ts'
import { gemm } from '../../src/ops/gemm.ts'
import { WorkerPool } from '../../src/parallel/pool.ts'
import { timeBatches } from '../clock.ts'
import { REFERENCE } from '../reference.ts'
import type { Cell, Row } from '../report.ts'
import { cellsOf, measured, missing } from '../report.ts'
import { summarize } from '../stats.ts'
import type { TfBackend } from '../tfjs.ts'
import { tf, useBackend } from '../tfjs.ts'
import type { WorkloadContext, WorkloadResult } from './context.ts'
import { attempt } from './context.ts'
import { onBackend } from '../gradstream.ts'
import { jaxGemm } from '../jaxjs.ts'

const W1_SEED = 1

const operands = (n: number): [Float32Array, Float32Array] => {
  const [ka, kb] = random.split(key(W1_SEED + n), 2)
  return [random.uniform(ka, n * n, 'float32', -1, 1) as Float32Array, random.uniform(kb, n * n, 'float32', -1, 1) as Float32Array]
}

const gflops = (n: number, secondsPerCall: number): number => (2 * n ** 3) / secondsPerCall / 1e9

const gradstreamGemm = (n: number, ctx: WorkloadContext): Cell => {
  const { warmup, repeats, minBatchMs } = ctx.settings.w1
  const [A, B] = operands(n)
  const C = new Float32Array(n * n)
  const call = (): void => gemm(C, A, B, n, n, n)
  for (let i = 0; i < warmup; i++) call()
  return measured(summarize(timeBatches(call, repeats, minBatchMs).map((s) => gflops(n, s))))
}

/** The same product with its rows split over ctx.threads threads (WorkerPool.gemm). */
const gradstreamGemmThreads = async (n: number, ctx: WorkloadContext): Promise<Cell> => {
  if (ctx.threads <= 1) return missing('n/a: --threads 1')
  const { warmup, repeats, minBatchMs } = ctx.settings.w1
  const pool = await WorkerPool.create({ threads: ctx.threads, objective: null, layout: null })
  try {
    const [A, B] = operands(n)
    const C = new Float32Array(n * n)
    const call = (): void => pool.gemm(C, A, B, n, n, n)
    for (let i = 0; i < warmup; i++) call()
    return measured(summarize(timeBatches(call, repeats, minBatchMs).map((s) => gflops(n, s))))
  } finally {
    await pool.terminate()
  }
}

const tfjsGemm = async (backend: TfBackend, n: number, ctx: WorkloadContext): Promise<Cell> => {
  const status = await useBackend(backend)
  if (!status.ok) return missing(status.reason)
  const { warmup, repeats, minBatchMs } = ctx.settings.w1
  const [A, B] = operands(n)
  const a = tf.tensor2d(A, [n, n])
  const b = tf.tensor2d(B, [n, n])
  const call = (): void => {
    const c = tf.matMul(a, b)
    c.dataSync()
    c.dispose()
  }
  const r = await attempt(() => {
    for (let i = 0; i < warmup; i++) call()
    return timeBatches(call, repeats, minBatchMs)
  })
  a.dispose()
  b.dispose()
  return r.ok ? measured(summarize(r.value.map((s) => gflops(n, s)))) : missing(r.reason)
}

export const w1Gemm = async (ctx: WorkloadContext): Promise<WorkloadResult> => {
  const { sizes, repeats, minBatchMs, warmup } = ctx.settings.w1
  const rows: Row[] = []
  for (const n of sizes) {
    ctx.log(`W1 n=${n}: gradstream`)
    const gs = gradstreamGemm(n, ctx)
    ctx.log(`W1 n=${n}: gradstream ${ctx.threads} threads`)
    const gsN = await gradstreamGemmThreads(n, ctx)
    ctx.log(`W1 n=${n}: gradstream, TypeScript kernels, 1 and ${ctx.threads} threads`)
    const gsTs = await onBackend('ts', () => gradstreamGemm(n, ctx))
    const gsTsN = await onBackend('ts', () => gradstreamGemmThreads(n, ctx))
    ctx.log(`W1 n=${n}: jax-js`)
    const jax = await jaxGemm(n, ctx)
    ctx.log(`W1 n=${n}: TF.js cpu`)
    const cpu = await tfjsGemm('cpu', n, ctx)
    ctx.log(`W1 n=${n}: TF.js wasm`)
    const wasm = await tfjsGemm('wasm', n, ctx)
    rows.push({
      key: `n${n}`,
      label: `n=${n}`,
      unit: 'GFLOP/s',
      better: 'higher',
      cells: cellsOf(
        { gradstream: gs, gradstreamThreads: gsN, gradstreamTs: gsTs, gradstreamTsThreads: gsTsN, tfjsCpu: cpu, tfjsWasm: wasm, jaxjs: jax },
        'n/a',
      ),
      ...(n === 512 ? { reference: REFERENCE.w1n512 } : {}),
    })
  }
  return {
    id: 'W1',
    title: 'GEMM fp32, C = A B (n x n)',
    rows,
    details: [],
    notes: [
      `GFLOP/s = 2n^3 / time per call; ${warmup} warm-up calls, then ${repeats} repeats of back-to-back calls >= ${minBatchMs} ms each`,
      'gradstream: ops/gemm.ts on Float32Array (default backend: gemm-simd.ts, WebAssembly SIMD128; gs-ts: the TypeScript kernel); TF.js: tf.matMul + dataSync() on tensors made before timing',
      'jax-js: jit(np.matmul) on the wasm device + dataSync(), operands made before timing',
    ],
  }
}
