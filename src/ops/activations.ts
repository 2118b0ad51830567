// Element-wise activations and their vector-Jacobian products, n elements each.
// Forward writes y from x; backward writes dx from dy and whatever the derivative
// needs (y for sigmoid/tanh/ReLU, x for the leaky family). Where the notes and the
// conformance vectors disagree, the vectors decide (conformance/README.md).

import type { F } from '../core/tensor.ts'
import { kernelBackend } from './backend.ts'
import { RELU_SMALL, reluBackwardSimd, reluForwardSimd } from './relu-simd.ts'

// y = 1 / (1 + e^-x)                                   (deep-learning-lecture-notes eq 2)
// Written per sign so neither branch overflows.
export function sigmoidForward(y: F, x: F, n: number): void {
  for (let i = 0; i < n; i++) {
    const z = x[i]
    if (z >= 0) y[i] = 1 / (1 + Math.exp(-z))
    else {
      const e = Math.exp(z)
      y[i] = e / (1 + e)
    }
  }
}

// dx = dy * y (1 - y)                                  (deep-learning-lecture-notes eq 3)
export function sigmoidBackward(dx: F, dy: F, y: F, n: number): void {
  for (let i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1 - y[i])
}

// y = tanh x                                           (convnet-notes, hyperbolic tangent)
export function tanhForward(y: F, x: F, n: number): void {
  for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i])
}

// dx = dy (1 - y^2)
export function tanhBackward(dx: F, dy: F, y: F, n: number): void {
  for (let i = 0; i < n; i++) dx[i] = dy[i] * (1 - y[i] * y[i])
}

export const LECUN_A = 1.7159
export const LECUN_S = 0.6666

// y = A tanh(S x), A = 1.7159, S = 0.6666              (convnet-notes, LeCun's tanh)
export function lecunTanhForward(y: F, x: F, n: number): void {
  for (let i = 0; i < n; i++) y[i] = LECUN_A * Math.tanh(LECUN_S * x[i])
}

// dx = dy A S (1 - tanh^2(S x)): the true derivative. The notes' closing shortcut
// "2B(1 - f^2)" is wrong (conformance/README.md); tanh(S x) is recomputed from x
// rather than recovered from y so float32 storage of y costs no accuracy.
export function lecunTanhBackward(dx: F, dy: F, x: F, n: number): void {
  const AS = LECUN_A * LECUN_S
  for (let i = 0; i < n; i++) {
    const t = Math.tanh(LECUN_S * x[i])
    dx[i] = dy[i] * AS * (1 - t * t)
  }
}

// y = max(0, x)                                        (deep-learning-lecture-notes eq 4)
export function reluForwardTs(y: F, x: F, n: number): void {
  for (let i = 0; i < n; i++) {
    const z = x[i]
    y[i] = z > 0 ? z : z === z ? 0 : z // NaN passes through, as in PyTorch
  }
}

// dx = dy 1[y > 0]: derivative 0 at 0                  (deep-learning-lecture-notes eq 5;
// not the 1/2 of cnn-layers-softmax eq 10, per the conformance vectors)
export function reluBackwardTs(dx: F, dy: F, y: F, n: number): void {
  for (let i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0
}

// The layer's entry points: the SIMD twins (relu-simd.ts, same bits) for float32 arrays of
// RELU_SMALL floats or more on the SIMD backend, else the loops above.
export function reluForward(y: F, x: F, n: number): void {
  if (n >= RELU_SMALL && y instanceof Float32Array && x instanceof Float32Array && kernelBackend() === 'simd')
    reluForwardSimd(y, x, n)
  else reluForwardTs(y, x, n)
}

export function reluBackward(dx: F, dy: F, y: F, n: number): void {
  if (n >= RELU_SMALL && dx instanceof Float32Array && dy instanceof Float32Array && y instanceof Float32Array && kernelBackend() === 'simd')
    reluBackwardSimd(dx, dy, y, n)
  else reluBackwardTs(dx, dy, y, n)
}

// y = x for x >= 0, x / a for x < 0, a > 1             (convnet-notes, Leaky ReLU)
export function leakyReluForward(y: F, x: F, n: number, a: number): void {
  const inv = 1 / a
  for (let i = 0; i < n; i++) {
    const z = x[i]
    y[i] = z >= 0 ? z : z * inv
  }
}

// dx = dy for x > 0, dy / a for x <= 0 (slope 1/a at 0, the z < 0 side, as PyTorch)
export function leakyReluBackward(dx: F, dy: F, x: F, n: number, a: number): void {
  const inv = 1 / a
  for (let i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : dy[i] * inv
}

// y[r,c] = x for x >= 0, x / a[c] for x < 0; c is the last axis (C channels)
//                                                      (convnet-notes, Parametric ReLU)
export function preluForward(y: F, x: F, a: F, rows: number, C: number): void {
  for (let r = 0, o = 0; r < rows; r++)
    for (let c = 0; c < C; c++, o++) {
      const z = x[o]
      y[o] = z >= 0 ? z : z / a[c]
    }
}

// dx = dy for x > 0, dy / a[c] for x <= 0;  da[c] += sum dy * (-x / a[c]^2) over x < 0
export function preluBackward(dx: F, da: F, dy: F, x: F, a: F, rows: number, C: number): void {
  da.fill(0, 0, C)
  for (let r = 0, o = 0; r < rows; r++)
    for (let c = 0; c < C; c++, o++) {
      const z = x[o]
      if (z > 0) dx[o] = dy[o]
      else {
        const ac = a[c]
        dx[o] = dy[o] / ac
        if (z < 0) da[c] -= (dy[o] * z) / (ac * ac)
      }
    }
}

// y = x for x >= 0, x / a[i] for x < 0, one slope per element
//                                                      (convnet-notes, Randomized Leaky ReLU)
export function rreluForward(y: F, x: F, a: F, n: number): void {
  for (let i = 0; i < n; i++) {
    const z = x[i]
    y[i] = z >= 0 ? z : z / a[i]
  }
}

// dx = dy for x > 0, dy / a[i] for x <= 0 (no gradient for the sampled slopes)
export function rreluBackward(dx: F, dy: F, x: F, a: F, n: number): void {
  for (let i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : dy[i] / a[i]
}
