// Batch normalisation over the last axis of x viewed as [N, C] (N = B for [B, F],
// N = B*H*W for NHWC images): Ioffe & Szegedy 2015, algorithm 1, with PyTorch's
// conventions (the biased batch variance normalises; eps inside the square root).
//
//   mean[c] = (1/N) sum_n x[n,c]           var[c] = (1/N) sum_n (x[n,c] - mean[c])^2
//   xhat    = (x - mean) * invStd          invStd[c] = 1 / sqrt(var[c] + eps)
//   y       = gamma * xhat + beta
//
// Backward (the same paper, section 3; with m = N): dgamma = sum_n dy xhat,
// dbeta = sum_n dy, and in training (mean and var depend on x)
//   dx = gamma invStd / N * (N dy - dbeta - xhat dgamma)
// while in evaluation (running statistics are constants) dx = gamma invStd dy.
// Every sum is carried in double precision and rounded once when stored.

import type { F } from '../core/tensor.ts'

// mean[c], var[c] (biased) of x[N,C]: two passes, so the variance does not cancel.
export function batchNormStats(mean: Float64Array, variance: Float64Array, x: F, N: number, C: number): void {
  mean.fill(0)
  variance.fill(0)
  for (let n = 0, o = 0; n < N; n++, o += C) for (let c = 0; c < C; c++) mean[c] += x[o + c]
  for (let c = 0; c < C; c++) mean[c] /= N
  for (let n = 0, o = 0; n < N; n++, o += C)
    for (let c = 0; c < C; c++) {
      const d = x[o + c] - mean[c]
      variance[c] += d * d
    }
  for (let c = 0; c < C; c++) variance[c] /= N
}

// xhat[n,c] = (x[n,c] - mean[c]) invStd[c];  y[n,c] = gamma[c] xhat[n,c] + beta[c]
export function batchNormForward(y: F, xhat: F, x: F, mean: ArrayLike<number>, invStd: ArrayLike<number>, gamma: F, beta: F, N: number, C: number): void {
  for (let n = 0, o = 0; n < N; n++, o += C)
    for (let c = 0; c < C; c++) {
      const h = (x[o + c] - mean[c]) * invStd[c]
      xhat[o + c] = h
      y[o + c] = gamma[c] * h + beta[c]
    }
}

// dgamma[c] = sum_n dy[n,c] xhat[n,c];  dbeta[c] = sum_n dy[n,c]   (kept in double: the input
// gradient reads them unrounded)
export function batchNormBackwardParams(dgamma: Float64Array, dbeta: Float64Array, dy: F, xhat: F, N: number, C: number): void {
  dgamma.fill(0)
  dbeta.fill(0)
  for (let n = 0, o = 0; n < N; n++, o += C)
    for (let c = 0; c < C; c++) {
      dgamma[c] += dy[o + c] * xhat[o + c]
      dbeta[c] += dy[o + c]
    }
}

// training: dx = gamma invStd / N * (N dy - dbeta - xhat dgamma)   (the double sums of the params
// pass); evaluation (training = false): dx = gamma invStd dy
export function batchNormBackwardInput(
  dx: F,
  dy: F,
  xhat: F,
  gamma: F,
  invStd: ArrayLike<number>,
  dgamma: Float64Array,
  dbeta: Float64Array,
  N: number,
  C: number,
  training: boolean,
): void {
  for (let n = 0, o = 0; n < N; n++, o += C)
    for (let c = 0; c < C; c++) {
      const k = gamma[c] * invStd[c]
      dx[o + c] = training ? (k / N) * (N * dy[o + c] - dbeta[c] - xhat[o + c] * dgamma[c]) : k * dy[o + c]
    }
}
