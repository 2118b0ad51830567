// Tied-weight autoencoder kernels (deep-learning-lecture-notes eqs 55-60): the decoder
// uses the encoder's W transposed. x is [B, m], hidden [B, n], W [m, n].

import type { F } from '../core/tensor.ts'
import { gemm } from './gemm.ts'
import { sigmoidBackward, sigmoidForward } from './activations.ts'

// h[B,n] = sigma(x W + b)                                    (eq 55)
// r[B,m] = sigma(h W^T + b_hat)                               (eq 56)
export function tiedAutoencoderForward(h: F, r: F, x: F, W: F, b: F, bHat: F, B: number, m: number, n: number): void {
  gemm(h, x, W, B, n, m)
  for (let i = 0; i < B; i++) for (let j = 0; j < n; j++) h[i * n + j] += b[j]
  sigmoidForward(h, h, B * n)
  gemm(r, h, W, B, m, n, false, true)
  for (let i = 0; i < B; i++) for (let j = 0; j < m; j++) r[i * m + j] += bHat[j]
  sigmoidForward(r, r, B * m)
}

// Given dr = dL/dr:
//   dpr = dr r(1 - r)                  (decoder pre-activation; eq 60 for the squared error)
//   dbHat = sum_b dpr
//   dh  = dpr W;   dz = dh h(1 - h);   db = sum_b dz
//   dW  = x^T dz  +  dpr^T h           (encoder path + decoder path: eqs 57-58)
//   dx  = dz W^T                        (through the encoder only)
// dpr [B,m], dz [B,n] are scratch.
export function tiedAutoencoderBackward(
  dW: F,
  db: F,
  dbHat: F,
  dpr: F,
  dz: F,
  dr: F,
  x: F,
  h: F,
  r: F,
  W: F,
  B: number,
  m: number,
  n: number,
): void {
  sigmoidBackward(dpr, dr, r, B * m)
  dbHat.fill(0, 0, m)
  for (let i = 0; i < B; i++) for (let j = 0; j < m; j++) dbHat[j] += dpr[i * m + j]
  gemm(dz, dpr, W, B, n, m)
  sigmoidBackward(dz, dz, h, B * n)
  db.fill(0, 0, n)
  for (let i = 0; i < B; i++) for (let j = 0; j < n; j++) db[j] += dz[i * n + j]
  gemm(dW, x, dz, m, n, B, true, false)
  gemm(dW, dpr, h, m, n, B, true, false, true)
}
