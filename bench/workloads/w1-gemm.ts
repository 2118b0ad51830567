// W1: C = A B in fp32, n x n for n = 128, 256, 512, entries uniform in [-1, 1).
// GFLOP/s = 2 n^3 / time per call; 3 warm-up calls; 7 repeats, each a batch of
// back-to-back calls lasting >= 50 ms. TF.js includes dataSync() so the product is
// actually computed and read back. The systems are timed interleaved, round by round.

import { key, random } from '../../src/node.ts'
import { gemm } from '../../src/ops/gemm.ts'
import { WorkerPool } from '../../src/parallel/pool.ts'
import type { TimedSystem } from '../clock.ts'
import { interleavedBatches } from '../clock.ts'
import { REFERENCE } from '../reference.ts'
import type { Cell, Row } from '../report.ts'
import { cellsOf, measured, missing } from '../report.ts'
import { summarize } from '../stats.ts'
import type { TfBackend } from '../tfjs.ts'
import { requireBackend, tf } from '../tfjs.ts'
import type { WorkloadContext, WorkloadResult } from './context.ts'
import { attempt } from './context.ts'
import { onBackend } from '../gradstream.ts'
import type { KernelBackend } from '../../src/ops/backend.ts'
import { kernelBackend, setKernelBackend } from '../../src/ops/backend.ts'
import { jaxGemm } from '../jaxjs.ts'

const W1_SEED = 1

const operands = (n: number): [Float32Array, Float32Array] => {
  const [ka, kb] = random.split(key(W1_SEED + n), 2)
  return [random.uniform(ka, n * n, 'float32', -1, 1) as Float32Array, random.uniform(kb, n * n, 'float32', -1, 1) as Float32Array]
}

const gflops = (n: number, secondsPerCall: number): number => (2 * n ** 3) / secondsPerCall / 1e9

/** gemm on kernel backend b, this thread alone. */
const gradstreamGemm = (n: number, b: KernelBackend): TimedSystem => {
  const [A, B] = operands(n)
  const C = new Float32Array(n * n)
  return { before: () => void setKernelBackend(b), call: () => gemm(C, A, B, n, n, n), close: () => {} }
}

/** The same product with its rows split over `threads` threads (WorkerPool.gemm), on backend b. */
const gradstreamGemmThreads = async (n: number, b: KernelBackend, threads: number): Promise<TimedSystem> => {
  // Pool workers take the backend of the thread that creates them.
  const pool = await onBackend(b, () => WorkerPool.create({ threads, objective: null, layout: null }))
  const [A, B] = operands(n)
  const C = new Float32Array(n * n)
  return { before: () => void setKernelBackend(b), call: () => pool.gemm(C, A, B, n, n, n), close: () => pool.terminate() }
}

const tfjsGemm = async (backend: TfBackend, n: number): Promise<TimedSystem> => {
  await requireBackend(backend)
  const [A, B] = operands(n)
  // Made while `backend` is active, so they live in its memory (no moves between backends).
  const a = tf.tensor2d(A, [n, n])
  const b = tf.tensor2d(B, [n, n])
  return {
    before: () => requireBackend(backend),
    call: () => {
      const c = tf.matMul(a, b)
      c.dataSync()
      c.dispose()
    },
    close: () => {
      a.dispose()
      b.dispose()
    },
  }
}

type W1System = 'gradstream' | 'gradstreamThreads' | 'gradstreamTs' | 'gradstreamTsThreads' | 'jaxjs' | 'tfjsCpu' | 'tfjsWasm'

/**
 * Every system's GFLOP/s for n x n, timed interleaved (clock.ts, interleavedBatches): a
 * system that cannot start (or fails while timed) gets a missing cell with the reason.
 */
const w1Row = async (n: number, ctx: WorkloadContext): Promise<Record<W1System, Cell>> => {
  const { warmup, repeats, minBatchMs } = ctx.settings.w1
  const fast = kernelBackend()
  const threads = (b: KernelBackend) => (ctx.threads <= 1 ? Promise.reject(new Error('n/a: --threads 1')) : gradstreamGemmThreads(n, b, ctx.threads))
  const setups: Record<W1System, () => Promise<TimedSystem> | TimedSystem> = {
    gradstream: () => gradstreamGemm(n, fast),
    gradstreamThreads: () => threads(fast),
    gradstreamTs: () => gradstreamGemm(n, 'ts'),
    gradstreamTsThreads: () => threads('ts'),
    jaxjs: () => jaxGemm(n),
    tfjsCpu: () => tfjsGemm('cpu', n),
    tfjsWasm: () => tfjsGemm('wasm', n),
  }
  const started: Array<[W1System, TimedSystem]> = []
  const cells = {} as Record<W1System, Cell>
  for (const [name, setup] of Object.entries(setups) as Array<[W1System, () => Promise<TimedSystem> | TimedSystem]>) {
    const s = await attempt(setup)
    if (s.ok) started.push([name, s.value])
    else cells[name] = missing(name === 'jaxjs' ? `jax-js failed: ${s.reason}` : s.reason)
  }
  const timed = await attempt(() => interleavedBatches(started.map(([, s]) => s), warmup, repeats, minBatchMs))
  setKernelBackend(fast)
  for (const [name, s] of started) {
    cells[name] = timed.ok ? measured(summarize(timed.value[started.findIndex(([m]) => m === name)].map((t) => gflops(n, t)))) : missing(timed.reason)
    await s.close()
  }
  return cells
}

export const w1Gemm = async (ctx: WorkloadContext): Promise<WorkloadResult> => {
  const { sizes, repeats, minBatchMs, warmup } = ctx.settings.w1
  const rows: Row[] = []
  for (const n of sizes) {
    ctx.log(`W1 n=${n}: every system, interleaved (${repeats} rounds)`)
    const cells = await w1Row(n, ctx)
    rows.push({
      key: `n${n}`,
      label: `n=${n}`,
      unit: 'GFLOP/s',
      better: 'higher',
      cells: cellsOf(cells, 'n/a'),
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
      'interleaved: each round times one batch of every system in turn, so all are timed in the same minutes (a VM whose speed drifts moves them together)',
      'gradstream: ops/gemm.ts on Float32Array (default backend: gemm-simd.ts, WebAssembly SIMD128; gs-ts: the TypeScript kernel); TF.js: tf.matMul + dataSync() on tensors made before timing',
      'jax-js: jit(np.matmul) on the wasm device + dataSync(), operands made before timing',
    ],
  }
}
