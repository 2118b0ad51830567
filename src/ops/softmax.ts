// Softmax over the last axis and the fused softmax cross-entropy, on [B, C] rows.

import type { F } from '../core/tensor.ts'

// p[b,i] = e^{x_i - m} / sum_k e^{x_k - m},  m = max_k x_k  (cnn-layers-softmax eq 11,
// stabilised by subtracting the row max: inputs reach |x| ~ 800)
export function softmaxForward(p: F, x: F, B: number, C: number): void {
  for (let b = 0; b < B; b++) {
    const o = b * C
    let m = -Infinity
    for (let i = 0; i < C; i++) if (x[o + i] > m) m = x[o + i]
    let s = 0
    for (let i = 0; i < C; i++) {
      const e = Math.exp(x[o + i] - m)
      p[o + i] = e
      s += e
    }
    const inv = 1 / s
    for (let i = 0; i < C; i++) p[o + i] *= inv
  }
}

// dx = p * (dy - sum_i dy_i p_i)                       (cnn-layers-softmax eq 12, applied to dy)
export function softmaxBackward(dx: F, dy: F, p: F, B: number, C: number): void {
  for (let b = 0; b < B; b++) {
    const o = b * C
    let s = 0
    for (let i = 0; i < C; i++) s += dy[o + i] * p[o + i]
    for (let i = 0; i < C; i++) dx[o + i] = p[o + i] * (dy[o + i] - s)
  }
}

// L = -(1/B) sum_b sum_i t[b,i] log softmax(x[b])_i     (cnn-layers-softmax eqs 13-14)
// log softmax = x - m - log sum e^{x - m} (log-sum-exp), so a probability that
// underflows to 0 still gives a finite log. Writes the probabilities into p and
// returns the loss.
export function softmaxCrossEntropyForward(p: F, x: F, t: F, B: number, C: number): number {
  let total = 0
  for (let b = 0; b < B; b++) {
    const o = b * C
    let m = -Infinity
    for (let i = 0; i < C; i++) if (x[o + i] > m) m = x[o + i]
    let s = 0
    for (let i = 0; i < C; i++) {
      const e = Math.exp(x[o + i] - m)
      p[o + i] = e
      s += e
    }
    const lse = Math.log(s)
    const inv = 1 / s
    let lb = 0
    for (let i = 0; i < C; i++) {
      p[o + i] *= inv
      const ti = t[o + i]
      if (ti !== 0) lb -= ti * (x[o + i] - m - lse)
    }
    total += lb
  }
  return total / B
}

// dx = dL (p - t) / B: the fused gradient              (cnn-layers-softmax eq 15, batch mean)
export function softmaxCrossEntropyBackward(dx: F, p: F, t: F, B: number, C: number, dL: number): void {
  const scale = dL / B
  const n = B * C
  for (let i = 0; i < n; i++) dx[i] = scale * (p[i] - t[i])
}
