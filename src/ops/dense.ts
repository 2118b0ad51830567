// The fully connected layer.

import type { F } from '../core/tensor.ts'
import { gemm, gemmTs } from './gemm.ts'

// A single row (batch 1: online learning, one-sample inference) takes the TypeScript
// kernel on either backend: the weights would have to be copied into the SIMD kernels'
// memory for a product that reads each of them once (measured slower), and the fused
// online step (fused-dense.ts) reproduces exactly these double-precision sums.
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
  db.fill(0, 0, O)
  for (let r = 0; r < B; r++) {
    const o = r * O
    for (let j = 0; j < O; j++) db[j] += dy[o + j]
  }
}
