// Bernoulli-Bernoulli restricted Boltzmann machine kernels
// (deep-learning-lecture-notes eqs 35-44). v is [B, m] visible, h is [B, n] hidden,
// W is [m, n], a [m] the visible bias, b [n] the hidden bias.

import type { F } from '../core/tensor.ts'
import { gemm } from './gemm.ts'

const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)))

/** log(1 + e^z) without overflow. */
export const softplus = (z: number): number => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)))

// ph[B,n] = sigma(v W + b):  p(h_j = 1 | v)                (eqs 39-41)
export function rbmHiddenProbs(ph: F, v: F, W: F, b: F, B: number, m: number, n: number): void {
  gemm(ph, v, W, B, n, m)
  for (let r = 0; r < B; r++) for (let j = 0; j < n; j++) ph[r * n + j] = sigmoid(ph[r * n + j] + b[j])
}

// pv[B,m] = sigma(h W^T + a):  p(v_i = 1 | h)              (eqs 38, 42-44)
export function rbmVisibleProbs(pv: F, h: F, W: F, a: F, B: number, m: number, n: number): void {
  gemm(pv, h, W, B, m, n, false, true)
  for (let r = 0; r < B; r++) for (let i = 0; i < m; i++) pv[r * m + i] = sigmoid(pv[r * m + i] + a[i])
}

// s = 1[u < p]: a Bernoulli sample from given uniforms (strict <, as the vectors)
export function bernoulliSample(s: F, p: F, u: F, count: number): void {
  for (let i = 0; i < count; i++) s[i] = u[i] < p[i] ? 1 : 0
}

// F(v) = -a.v - sum_j softplus(b_j + (v W)_j), one per row   (free energy; eq 37 summed over h)
// pre is [B, n] scratch for v W.
export function rbmFreeEnergy(out: F, pre: F, v: F, W: F, a: F, b: F, B: number, m: number, n: number): void {
  gemm(pre, v, W, B, n, m)
  for (let r = 0; r < B; r++) {
    let f = 0
    for (let i = 0; i < m; i++) f -= a[i] * v[r * m + i]
    for (let j = 0; j < n; j++) f -= softplus(b[j] + pre[r * n + j])
    out[r] = f
  }
}

// The CD "gradient" (ascent direction negated, so a minimising optimizer performs CD):
//   dW = -(v0^T ph0 - vk^T phk) / B,  da = -mean_b(v0 - vk),  db = -mean_b(ph0 - phk)
// Positive phase: data v0 and probabilities ph0; negative phase: sample vk and
// probabilities phk (Hinton, "A practical guide to training RBMs", sec. 3).
// tmp is [m, n] scratch.
export function cdGradients(
  dW: F,
  da: F,
  db: F,
  tmp: F,
  v0: F,
  ph0: F,
  vk: F,
  phk: F,
  B: number,
  m: number,
  n: number,
): void {
  gemm(tmp, v0, ph0, m, n, B, true, false) // positive statistics v0^T ph0
  gemm(dW, vk, phk, m, n, B, true, false) // negative statistics vk^T phk
  const inv = 1 / B
  for (let i = 0; i < m * n; i++) dW[i] = (dW[i] - tmp[i]) * inv
  da.fill(0, 0, m)
  db.fill(0, 0, n)
  for (let r = 0; r < B; r++) {
    for (let i = 0; i < m; i++) da[i] -= (v0[r * m + i] - vk[r * m + i]) * inv
    for (let j = 0; j < n; j++) db[j] -= (ph0[r * n + j] - phk[r * n + j]) * inv
  }
}
