// Whether every entry of a flat vector is finite: one pass of sum_i x[i] * 0, which is 0
// exactly when no x[i] is infinite or NaN (0 * x is NaN for those, and NaN stays NaN).
// The training step checks the gradient before every update; over 235k parameters the
// JavaScript pass costs ~0.3-0.5 ms, the SIMD kernel (kernels.wat `probe`) with its copy
// a fraction of that. Both give the same answer (a boolean: no rounding question).

import type { F } from '../core/tensor.ts'
import { kernelBackend } from './backend.ts'
import { CHUNK, Layout, workspace } from './wasm/instance.ts'

/**
 * The TypeScript twin. Four running sums, not one: a single sum is a chain of dependent
 * additions (one per element, each waiting for the last), four let the CPU overlap them.
 */
export const allFiniteTs = (d: F): boolean => {
  let p0 = 0
  let p1 = 0
  let p2 = 0
  let p3 = 0
  const n = d.length
  let i = 0
  for (; i + 4 <= n; i += 4) {
    p0 += d[i] * 0
    p1 += d[i + 1] * 0
    p2 += d[i + 2] * 0
    p3 += d[i + 3] * 0
  }
  for (; i < n; i++) p0 += d[i] * 0
  return p0 + p1 + p2 + p3 === 0
}

/** Below this many floats the copy into the kernel memory costs more than the loop. */
const SMALL = 4096

/** The SIMD path: copies into the kernel memory and `probe`, CHUNK floats at a time. */
export const allFiniteSimd = (d: Float32Array): boolean => {
  const L = new Layout()
  const at = L.take(Math.min(d.length, CHUNK) * 4)
  const { k, f32 } = workspace(L.end)
  for (let i0 = 0; i0 < d.length; i0 += CHUNK) {
    const m = Math.min(CHUNK, d.length - i0)
    f32.set(d.subarray(i0, i0 + m), at >> 2)
    if (k.probe(at, m) !== 0) return false
  }
  return true
}

/** allFiniteTs's answer, on the SIMD kernel for long float32 vectors on the SIMD backend. */
export const allFinite = (d: F): boolean =>
  d.length >= SMALL && d instanceof Float32Array && kernelBackend() === 'simd' ? allFiniteSimd(d) : allFiniteTs(d)
