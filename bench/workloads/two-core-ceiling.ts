// Diagnostic (not in `npm run bench`): how much faster two threads can multiply than one on
// this machine, with nothing shared and nothing copied. Each thread has its own SIMD kernel
// instance with A and B already in its memory and B already packed; a call is only the
// micro-kernel over the rows (gemm-simd.ts packedMm, the loop WorkerPool.gemm's rows run).
// Alone: one thread computes all n rows. Together: the main thread and a worker each
// compute n/2 rows at the same time. The ratio alone / together is the ceiling for W1's
// "two threads / one" target: the pool's product adds its staging and packing on top.
//
//   npx tsx bench/workloads/two-core-ceiling.ts [n=512] [rounds=3]

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { KC, packBytes, packedMm, packSlab } from '../../src/ops/gemm-simd.ts'
import { setKernelBackend } from '../../src/ops/backend.ts'
import { Layout, workspace } from '../../src/ops/wasm/instance.ts'

interface Job {
  readonly n: number
  readonly rows: number
  readonly ms: number
}

/** ms per product of `rows` rows of an n x n x n GEMM, run back to back for `ms`. */
const timeRows = ({ n, rows, ms }: Job): number => {
  setKernelBackend('simd')
  const slab = KC * n * 4
  const L = new Layout()
  const aAt = L.take(n * n * 4)
  const cAt = L.take(n * n * 4)
  const rsAt = L.take(n * 4)
  const csAt = L.take(n * 4)
  const bAt = L.take(n * n * 4 + 32)
  const apAt = L.take(packBytes(n, KC))
  const bpAt = L.take(Math.ceil(n / KC) * slab)
  const { k, f32, i32 } = workspace(L.end)
  for (let i = 0; i < n * n; i++) {
    f32[(aAt >> 2) + i] = Math.sin(i)
    f32[(bAt >> 2) + i] = Math.cos(i)
  }
  for (let i = 0; i < n; i++) i32[(rsAt >> 2) + i] = i * n * 4
  for (let t = 0; t < n; t++) i32[(csAt >> 2) + t] = t * 4
  for (let k0 = 0; k0 < n; k0 += KC) packSlab(k, f32, bpAt + (k0 / KC) * slab, bAt, n, k0, Math.min(KC, n - k0))
  const product = (): void => {
    for (let k0 = 0; k0 < n; k0 += KC) {
      const kc = Math.min(KC, n - k0)
      // B's slab in 8-column panels of kc x 8 (32-byte rows, kc * 32 bytes apart)
      packedMm(k, apAt, cAt, n * 4, aAt, rsAt, csAt + k0 * 4, bpAt + (k0 / KC) * slab, 32, kc * 32, rows, n, kc, k0 > 0 ? 1 : 0)
    }
  }
  for (let i = 0; i < 5; i++) product()
  const t0 = performance.now()
  let calls = 0
  while (performance.now() - t0 < ms) {
    product()
    calls++
  }
  return (performance.now() - t0) / calls
}

if (!isMainThread) {
  parentPort?.once('message', (job: Job) => parentPort?.postMessage(timeRows(job)))
  parentPort?.postMessage('ready')
} else if (workerData === null) {
  const n = Number(process.argv[2] ?? 512)
  const rounds = Number(process.argv[3] ?? 3)
  if (!Number.isInteger(n) || n < 16 || n % 16 !== 0) throw new Error(`two-core-ceiling: expected n a multiple of 16, got ${process.argv[2]}`)
  const boot = new URL('../../src/parallel/boot.mjs', import.meta.url)
  for (let r = 0; r < rounds; r++) {
    const alone = timeRows({ n, rows: n, ms: 1500 })
    const worker = new Worker(boot, { workerData: { entry: import.meta.url } })
    await new Promise((resolve) => worker.once('message', resolve))
    const theirs = new Promise<number>((resolve) => worker.once('message', resolve))
    worker.postMessage({ n, rows: n / 2, ms: 1600 })
    const mine = timeRows({ n, rows: n / 2, ms: 1500 })
    const other = await theirs
    await worker.terminate()
    const together = Math.max(mine, other)
    console.log(
      `n=${n}: alone ${alone.toFixed(2)} ms for ${n} rows; together ${mine.toFixed(2)} (main) / ${other.toFixed(2)} (worker) ms for ${n / 2} rows each; ceiling ${(alone / together).toFixed(2)}x`,
    )
  }
}
