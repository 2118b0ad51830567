// Optimizer update rules over n parameters. Pure at the call site: every output is a
// separate array from every input. Hyperparameter constants are computed in float64
// (1 - 0.999 is not exact in float32; conformance/README.md).
// cnn-layers-softmax eqs 18-21 (the SGD update); PyTorch's torch.optim conventions.

import type { F } from '../core/tensor.ts'

// p' = p - lr (g + wd p)
// In place (pOut === p) without weight decay, an element whose gradient is exactly zero
// is left alone: p - lr (0 + 0 p) = p for every finite p (signed zeros included), so
// skipping it changes no bit; a non-finite p still goes through the formula (-> NaN).
// Online learning on sparse inputs has mostly-zero gradients (a dense layer's rows for
// zero inputs), so this skips most of the writes and arithmetic of a batch-1 step.
export function sgdStep(pOut: F, p: F, g: F, n: number, lr: number, wd: number): void {
  if (pOut === p && wd === 0) {
    for (let i = 0; i < n; i++) {
      const gi = g[i]
      const pi = p[i]
      if (gi === 0 && pi - pi === 0) continue
      p[i] = pi - lr * (gi + 0 * pi)
    }
    return
  }
  for (let i = 0; i < n; i++) pOut[i] = p[i] - lr * (g[i] + wd * p[i])
}

// v' = mu v + g';  p' = p - lr v'            (momentum, PyTorch: no dampening)
// p' = p - lr (g' + mu v')                   (nesterov)
// with g' = g + wd p (L2 weight decay)
export function momentumStep(
  pOut: F,
  vOut: F,
  p: F,
  v: F,
  g: F,
  n: number,
  lr: number,
  mu: number,
  wd: number,
  nesterov: boolean,
): void {
  for (let i = 0; i < n; i++) {
    const gi = g[i] + wd * p[i]
    const vi = mu * v[i] + gi
    vOut[i] = vi
    pOut[i] = p[i] - lr * (nesterov ? gi + mu * vi : vi)
  }
}

// t = step after this update (1-based).
// m' = b1 m + (1 - b1) g';  v' = b2 v + (1 - b2) g'^2
// p' = p - lr (m' / (1 - b1^t)) / (sqrt(v' / (1 - b2^t)) + eps)     (Adam, PyTorch)
export function adamStep(
  pOut: F,
  mOut: F,
  vOut: F,
  p: F,
  m: F,
  v: F,
  g: F,
  n: number,
  lr: number,
  b1: number,
  b2: number,
  eps: number,
  t: number,
  wd: number,
): void {
  const c1 = 1 - Math.pow(b1, t)
  const c2 = 1 - Math.pow(b2, t)
  const a1 = 1 - b1
  const a2 = 1 - b2
  for (let i = 0; i < n; i++) {
    const gi = g[i] + wd * p[i]
    const mi = b1 * m[i] + a1 * gi
    const vi = b2 * v[i] + a2 * gi * gi
    mOut[i] = mi
    vOut[i] = vi
    pOut[i] = p[i] - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps)
  }
}
