// Heap and resident memory, measured after a full collection when node runs with
// --expose-gc (npm run bench does), so the figure is live data rather than garbage
// that happens not to be collected yet.

import { wasmMemoryBytes } from '../src/ops/wasm/instance.ts'

export interface MemorySample {
  /** V8 heap in use, MB. */
  readonly heapUsedMB: number
  /** Resident set size of the process, MB (includes typed-array backing stores). */
  readonly rssMB: number
  /** Typed-array and other off-heap buffers, MB. */
  readonly arrayBuffersMB: number
  /** This thread's SIMD kernel memory (WebAssembly), MB: 0 before the first SIMD call. */
  readonly wasmMB: number
  /** Whether a full GC ran before sampling. */
  readonly afterGc: boolean
}

const MB = 1024 * 1024

const gcFunction = (): (() => void) | undefined => {
  const g = (globalThis as { gc?: unknown }).gc
  return typeof g === 'function' ? (g as () => void) : undefined
}

export const gcAvailable = (): boolean => gcFunction() !== undefined

export const sampleMemory = (): MemorySample => {
  const gc = gcFunction()
  if (gc) gc()
  const m = process.memoryUsage()
  return { heapUsedMB: m.heapUsed / MB, rssMB: m.rss / MB, arrayBuffersMB: m.arrayBuffers / MB, wasmMB: wasmMemoryBytes() / MB, afterGc: gc !== undefined }
}
