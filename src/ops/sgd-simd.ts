// The dense SGD step (ops/optim.ts sgdStep) in the SIMD kernel (kernels.wat `sgd`):
// p' = fl32(p - lr (g + wd p)) over a flat float32 parameter buffer. On two threads this
// runs on the main thread once per step over every parameter (235k in W2) while the
// worker waits, where the JavaScript loop cost ~1 ms; the kernel with its copies a
// fraction of that. Same bits as the twin (kernels.wat says why; tested in
// test/ops/sgd-simd.test.ts), so which one runs changes the speed only.

import { streamPair } from './wasm/instance.ts'

/** Below this many floats the copies into the kernel memory cost more than they save. */
export const SGD_SIMD_MIN = 1024

/**
 * pOut = fl32(p - lr (g + wd p)) over n floats in the kernel, CHUNK at a time (pOut may be
 * p). Returns 1 when every value stored is finite, else 0 (sgdStep's contract).
 */
export function sgdStepSimd(pOut: Float32Array, p: Float32Array, g: Float32Array, n: number, lr: number, wd: number): number {
  const probe = streamPair(pOut, p, g, n, false, (k, pAt, gAt, m) => k.sgd(pAt, gAt, m, lr, wd))
  return probe === 0 ? 1 : 0
}
