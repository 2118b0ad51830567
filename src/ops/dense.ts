// The fully connected layer.

import type { F } from '../core/tensor.ts'
import { gemm, gemmTs } from './gemm.ts'
import { kernelBackend } from './backend.ts'
import { residentDenseRow, residentOf } from './resident.ts'
import { Layout, workspace } from './wasm/instance.ts'

// A single row (batch 1: the input gradient, or denseForward called at B = 1; the layer's
// forward takes denseForwardRow) takes the TypeScript kernel on either backend: the
// weights would have to be copied into the SIMD kernels' memory for a product that reads
// each of them once (measured slower).
const rowProduct = (B: number): typeof gemm => (B === 1 ? gemmTs : gemm)

// y[B,O] = x[B,I] W[I,O] + b[O]          (matrix-backprop, A = Z W; cnn-layers-softmax eq 6)
export function denseForward(y: F, x: F, W: F, b: F, B: number, I: number, O: number): void {
  rowProduct(B)(y, x, W, B, O, I)
  for (let r = 0; r < B; r++) {
    const o = r * O
    for (let j = 0; j < O; j++) y[o + j] += b[j]
  }
}

// y[1,O] = x[1,I] W[I,O] + b[O] at batch 1, over the listed inputs only (the non-zero
// ones, denseNonZeroInputs): the same bits as denseForward at B = 1, whose kernel also
// skips zero inputs (gemm.ts, gemmDirect) and sums each output in double, inputs
// ascending, rounded once before the bias is added. Listing the non-zero inputs once
// instead of testing all I of them for every block of outputs is the saving (MNIST at
// batch 1: ~150 of 784).
export function denseForwardRows(y: F, x: F, W: F, b: F, O: number, rows: Int32Array, count: number): void {
  let j0 = 0
  for (; j0 + 8 <= O; j0 += 8) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0
    for (let t = 0; t < count; t++) {
      const i = rows[t]
      const a = x[i]
      const o = i * O + j0
      s0 += a * W[o]; s1 += a * W[o + 1]; s2 += a * W[o + 2]; s3 += a * W[o + 3]
      s4 += a * W[o + 4]; s5 += a * W[o + 5]; s6 += a * W[o + 6]; s7 += a * W[o + 7]
    }
    y[j0] = s0; y[j0 + 1] = s1; y[j0 + 2] = s2; y[j0 + 3] = s3
    y[j0 + 4] = s4; y[j0 + 5] = s5; y[j0 + 6] = s6; y[j0 + 7] = s7
  }
  for (let j = j0; j < O; j++) {
    let s = 0
    for (let t = 0; t < count; t++) {
      const i = rows[t]
      s += x[i] * W[i * O + j]
    }
    y[j] = s
  }
  for (let j = 0; j < O; j++) y[j] += b[j]
}

// denseForwardRows on parameters resident in a kernel instance's memory (a learner's
// working copy on the SIMD backend: ops/resident.ts) runs in that kernel (kernels.wat,
// dense_row: f64x2, the same bits). On the SIMD backend, parameters elsewhere are copied
// into the kernel memory for dense_row when at least 3 in 10 inputs are listed: the copy
// reads every weight, the TypeScript loop only the listed rows. Measured (us per call, the
// loop / copy and kernel): 256x120 with 127 listed 11.4 / 6.8, with 255 listed 32.1 / 9.2
// (W5's first dense layer); 784x64 with 156 listed (W4's MNIST inputs) 6.3 / 7.4.
export function denseForwardRow(y: F, x: F, W: F, b: F, O: number, rows: Int32Array, count: number): void {
  if (!(W instanceof Float32Array && b instanceof Float32Array && x instanceof Float32Array)) return denseForwardRows(y, x, W, b, O, rows, count)
  const r = residentOf(W)
  if (r !== undefined && residentOf(b) === r && residentDenseRow(r, y, x, W, b, O, rows, count)) return
  if (r === undefined && kernelBackend() === 'simd' && O >= 8 && 10 * count >= 3 * (W.length / O)) return denseRowCopied(y, x, W, b, O, rows, count)
  denseForwardRows(y, x, W, b, O, rows, count)
}

/** dense_row on copies of W, b and the listed inputs in the kernel memory (denseForwardRow). */
function denseRowCopied(y: F, x: Float32Array, W: Float32Array, b: Float32Array, O: number, rows: Int32Array, count: number): void {
  const L = new Layout()
  const wAt = L.take(W.length * 4)
  const bAt = L.take(O * 4)
  const rowsAt = L.take(count * 4)
  const uAt = L.take(count * 4)
  const yAt = L.take(O * 4)
  const { k, f32, i32 } = workspace(L.end)
  f32.set(W, wAt >> 2)
  f32.set(b.subarray(0, O), bAt >> 2)
  for (let t = 0, ro = rowsAt >> 2, uo = uAt >> 2; t < count; t++) {
    i32[ro + t] = rows[t]
    f32[uo + t] = x[rows[t]]
  }
  k.dense_row(yAt, uAt, rowsAt, count, wAt, bAt, O)
  y.set(f32.subarray(yAt >> 2, (yAt >> 2) + O))
}

// dx[B,I] = dy[B,O] W[I,O]^T                                    (cnn-layers-softmax eq 7)
export function denseBackwardInput(dx: F, dy: F, W: F, B: number, I: number, O: number): void {
  rowProduct(B)(dx, dy, W, B, I, O, false, true)
}

// dW[I,O] = x^T dy;  db[O] = sum_b dy[b,:]             (cnn-layers-softmax eq 8; matrix-backprop)
export function denseBackwardParams(dW: F, db: F, dy: F, x: F, B: number, I: number, O: number): void {
  gemm(dW, x, dy, I, O, B, true, false)
  denseBiasGrad(db, dy, B, O)
}

// db[O] = sum_b dy[b,:]                                          (cnn-layers-softmax eq 8)
export function denseBiasGrad(db: F, dy: F, B: number, O: number): void {
  db.fill(0, 0, O)
  for (let r = 0; r < B; r++) {
    const o = r * O
    for (let j = 0; j < O; j++) db[j] += dy[o + j]
  }
}

// The rows i of x^T that are not all zero (some x[b,i] != 0), ascending, into rows; returns
// how many. Row i of dW = x^T dy is exactly +0 for every other i.
export function denseNonZeroInputs(rows: Int32Array, x: F, B: number, I: number): number {
  let count = 0
  for (let i = 0; i < I; i++) {
    let nz = false
    for (let b = 0; b < B && !nz; b++) nz = x[b * I + i] !== 0
    if (nz) rows[count++] = i
  }
  return count
}
