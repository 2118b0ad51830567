// Optimizer update rules over n parameters. Pure at the call site: every output is a
// separate array from every input. Hyperparameter constants are computed in float64
// (1 - 0.999 is not exact in float32; conformance/README.md).
// cnn-layers-softmax eqs 18-21 (the SGD update); PyTorch's torch.optim conventions.

import type { F } from '../core/tensor.ts'
import { kernelBackend } from './backend.ts'
import { residentOf, residentSgdOuter } from './resident.ts'
import { SGD_SIMD_MIN, sgdStepSimd } from './sgd-simd.ts'

// p' = p - lr (g + wd p)
// Every step returns 1 when each parameter it wrote is finite as stored (0 otherwise):
// the learner keeps track of whether its parameters are all finite without a pass of
// its own (streams/learner.ts), which sgdRowsInPlace relies on.
// On the SIMD backend a float32 buffer takes the kernel (ops/sgd-simd.ts): the same bits.
export function sgdStep(pOut: F, p: F, g: F, n: number, lr: number, wd: number): number {
  if (n >= SGD_SIMD_MIN && pOut instanceof Float32Array && p instanceof Float32Array && g instanceof Float32Array && kernelBackend() === 'simd')
    return sgdStepSimd(pOut, p, g, n, lr, wd)
  return sgdStepTs(pOut, p, g, n, lr, wd)
}

/** sgdStep's TypeScript twin (the reference, and the path for short or float64 buffers). */
export function sgdStepTs(pOut: F, p: F, g: F, n: number, lr: number, wd: number): number {
  let ok = 1
  for (let i = 0; i < n; i++) {
    pOut[i] = p[i] - lr * (g[i] + wd * p[i])
    const v = pOut[i]
    if (v - v !== 0) ok = 0
  }
  return ok
}

// sgdStep without weight decay, in place, on the listed rows of rowLen elements only.
// Every other row has g = +0, where p - lr (0 + 0 p) = p for finite p: skipping it changes
// no bit, so the caller guarantees that every p is finite (a non-finite p would become
// NaN there). A dense layer's gradient for sparse inputs (core/row-hint.ts) has ~80%
// such rows at batch 1 on MNIST: this is the batch-1 online step's saving.
// g holds the listed rows packed (rows.length x rowLen).
export function sgdRowsInPlace(p: F, g: F, rows: Int32Array, rowLen: number, lr: number): number {
  let ok = 1
  for (let t = 0; t < rows.length; t++) {
    const o = rows[t] * rowLen
    const q = t * rowLen
    for (let j = 0; j < rowLen; j++) {
      // A +0 inside a listed row is skipped too (finite p: the same identity); after a
      // ReLU about half of dy, hence of these rows, is zero. (A -0 is not: -0 - lr (-0 + 0 (-0)) is +0.)
      const gj = g[q + j]
      if (gj === 0 && 1 / gj > 0) continue
      const i = o + j
      p[i] = p[i] - lr * (gj + 0 * p[i])
      const v = p[i]
      if (v - v !== 0) ok = 0
    }
  }
  return ok
}

// sgdRowsInPlace for rank-1 rows, g[t, j] = fl(0 + u[t] v[j]) (a batch-1 dense layer's
// weight gradient, x[i] dy, as gemm rounds it: core/row-hint.ts), each element
// computed where it is used: one pass over each listed row, the work of a fused
// dense+SGD kernel, with sgdStep's expression (so its bits) on every element written.
// Same precondition: every p is finite. The columns where v is zero (after a ReLU about
// half) are skipped: there g is +0 and p - lr (+0 + 0 p) = p for finite p, -0 included.
// cols: scratch of at least rowLen elements.
export function sgdOuterRowsInPlace(p: F, u: F, v: F, rows: Int32Array, rowLen: number, lr: number, cols: Int32Array): number {
  // Parameters resident in a kernel instance's memory (ops/resident.ts): the SIMD twin
  // (kernels.wat, sgd_outer), the same bits, in place.
  const r = p instanceof Float32Array ? residentOf(p) : undefined
  if (r !== undefined) {
    const ok = residentSgdOuter(r, p as Float32Array, u, v, rows, rowLen, lr)
    if (ok >= 0) return ok
  }
  let n = 0
  for (let j = 0; j < rowLen; j++) if (v[j] !== 0) cols[n++] = j
  let ok = 1
  const f32 = p instanceof Float32Array
  for (let t = 0; t < rows.length; t++) {
    const o = rows[t] * rowLen
    const a = u[t]
    for (let c = 0; c < n; c++) {
      const j = cols[c]
      const i = o + j
      const g = f32 ? Math.fround(0 + a * v[j]) : 0 + a * v[j]
      p[i] = p[i] - lr * (g + 0 * p[i])
      const q = p[i]
      if (q - q !== 0) ok = 0
    }
  }
  return ok
}

// v' = mu v + g';  p' = p - lr v'            (momentum, PyTorch: no dampening)
// p' = p - lr (g' + mu v')                   (nesterov)
// with g' = g + wd p (L2 weight decay)
export function momentumStep(
  pOut: F,
  vOut: F,
  p: F,
  v: F,
  g: F,
  n: number,
  lr: number,
  mu: number,
  wd: number,
  nesterov: boolean,
): number {
  let ok = 1
  for (let i = 0; i < n; i++) {
    const gi = g[i] + wd * p[i]
    const vi = mu * v[i] + gi
    vOut[i] = vi
    pOut[i] = p[i] - lr * (nesterov ? gi + mu * vi : vi)
    const s = pOut[i]
    if (s - s !== 0) ok = 0
  }
  return ok
}

// t = step after this update (1-based).
// m' = b1 m + (1 - b1) g';  v' = b2 v + (1 - b2) g'^2
// p' = p - lr (m' / (1 - b1^t)) / (sqrt(v' / (1 - b2^t)) + eps)     (Adam, PyTorch)
export function adamStep(
  pOut: F,
  mOut: F,
  vOut: F,
  p: F,
  m: F,
  v: F,
  g: F,
  n: number,
  lr: number,
  b1: number,
  b2: number,
  eps: number,
  t: number,
  wd: number,
): number {
  let ok = 1
  const c1 = 1 - Math.pow(b1, t)
  const c2 = 1 - Math.pow(b2, t)
  const a1 = 1 - b1
  const a2 = 1 - b2
  for (let i = 0; i < n; i++) {
    const gi = g[i] + wd * p[i]
    const mi = b1 * m[i] + a1 * gi
    const vi = b2 * v[i] + a2 * gi * gi
    mOut[i] = mi
    vOut[i] = vi
    pOut[i] = p[i] - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps)
    const s = pOut[i]
    if (s - s !== 0) ok = 0
  }
  return ok
}
