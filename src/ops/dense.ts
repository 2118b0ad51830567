// The fully connected layer.

import type { F } from '../core/tensor.ts'
import { gemm, gemmTs } from './gemm.ts'

// A single row (batch 1: online learning, one-sample inference) takes the TypeScript
// kernel on either backend: the weights would have to be copied into the SIMD kernels'
// memory for a product that reads each of them once (measured slower).
const rowProduct = (B: number): typeof gemm => (B === 1 ? gemmTs : gemm)

// y[B,O] = x[B,I] W[I,O] + b[O]          (matrix-backprop, A = Z W; cnn-layers-softmax eq 6)
export function denseForward(y: F, x: F, W: F, b: F, B: number, I: number, O: number): void {
  rowProduct(B)(y, x, W, B, O, I)
  for (let r = 0; r < B; r++) {
    const o = r * O
    for (let j = 0; j < O; j++) y[o + j] += b[j]
  }
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
function denseBiasGrad(db: F, dy: F, B: number, O: number): void {
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

// The listed rows of dW[I,O] = x^T dy, packed: dWrows[t, :] = x[:, rows[t]]^T dy, and
// db[O] = sum_b dy[b,:]. For inputs that are mostly zeros (MNIST pixels at batch 1: ~80%)
// this is the whole weight gradient in a fraction of the work (the zero-input skipping of
// the dense layer: models/dense.ts returns it as a row-sparse tensor, core/row-hint.ts).
// Bit-identical to denseBackwardParams on those rows: each element is the double sum over
// b ascending of the non-zero x[b,i] dy[b,j], rounded once, which is what the TypeScript
// gemm computes for B <= 256 (one KC slab; zero terms are skipped there too). The SIMD
// backend sums in float32, so models/dense.ts uses this at B = 1 only, where an element
// is one product, fl(x dy), on either backend.
export function denseBackwardParamsRows(dWrows: F, db: F, dy: F, x: F, B: number, I: number, O: number, rows: Int32Array, count: number): void {
  for (let t = 0; t < count; t++) {
    const i = rows[t]
    const o = t * O
    for (let j = 0; j < O; j++) {
      let s = 0
      for (let b = 0; b < B; b++) {
        const a = x[b * I + i]
        if (a !== 0) s += a * dy[b * O + j]
      }
      dWrows[o + j] = s
    }
  }
  denseBiasGrad(db, dy, B, O)
}
