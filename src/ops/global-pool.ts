// Global average pooling over the spatial axes of NHWC images:
//   y[b,c] = (1/(H W)) sum_{i,j} x[b,i,j,c]        dx[b,i,j,c] = dy[b,c] / (H W)
// (the average pooling of cnn-derivation-lenet with one window the size of the image).
// Sums are carried in double precision and rounded once.

import type { F } from '../core/tensor.ts'

// y[B,C] from x[B,S,C], S = H*W
export function globalAvgPoolForward(y: F, x: F, B: number, S: number, C: number): void {
  const acc = new Float64Array(C)
  for (let b = 0; b < B; b++) {
    acc.fill(0)
    for (let s = 0, o = b * S * C; s < S; s++, o += C) for (let c = 0; c < C; c++) acc[c] += x[o + c]
    for (let c = 0; c < C; c++) y[b * C + c] = acc[c] / S
  }
}

// dx[B,S,C] from dy[B,C]
export function globalAvgPoolBackward(dx: F, dy: F, B: number, S: number, C: number): void {
  for (let b = 0; b < B; b++)
    for (let s = 0, o = b * S * C; s < S; s++, o += C) for (let c = 0; c < C; c++) dx[o + c] = dy[b * C + c] / S
}
