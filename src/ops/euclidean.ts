// The Euclidean (squared error) loss over n elements.

import type { F } from '../core/tensor.ts'

// E = 1/2 sum_i (x_i - t_i)^2                          (deep-learning-lecture-notes eq 11)
export function euclideanForward(x: F, t: F, n: number): number {
  let s = 0
  for (let i = 0; i < n; i++) {
    const d = x[i] - t[i]
    s += d * d
  }
  return 0.5 * s
}

// dx = scale (x - t); scale = dE for 'sum', dE / B for 'mean' (eq 12's (y - t) factor)
export function euclideanBackward(dx: F, x: F, t: F, n: number, scale: number): void {
  for (let i = 0; i < n; i++) dx[i] = scale * (x[i] - t[i])
}
