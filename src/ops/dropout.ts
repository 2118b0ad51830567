// Inverted dropout (Srivastava et al. 2014, with the scaling moved to training as PyTorch
// does): keep[i] = 1 with probability 1 - rate, and
//   y = x keep / (1 - rate)          dx = dy keep / (1 - rate)
// so evaluation is the identity. `u` are uniform draws in [0, 1): kept when u >= rate.

import type { F } from '../core/tensor.ts'

// keep[i] = u[i] >= rate;  y[i] = keep[i] ? x[i] * scale : 0
export function dropoutForward(y: F, keep: Uint8Array, x: F, u: F, rate: number, scale: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const k = u[i] >= rate ? 1 : 0
    keep[i] = k
    y[i] = k === 1 ? x[i] * scale : 0
  }
}

// dx[i] = keep[i] ? dy[i] * scale : 0
export function dropoutBackward(dx: F, dy: F, keep: Uint8Array, scale: number, n: number): void {
  for (let i = 0; i < n; i++) dx[i] = keep[i] === 1 ? dy[i] * scale : 0
}
