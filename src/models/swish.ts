// swish(): y = x sigmoid(x) (Ramachandran et al. 2017; SiLU in PyTorch), a parameter-free
// element-wise activation declared through the registry (define.ts): this file is all of it.
//   y  = x s,  s = 1 / (1 + e^-x)
//   dx = dy (s + x s (1 - s)) = dy s (1 + x (1 - s))          (the derivative reads x)
// s is written per sign so neither branch overflows (as ops/activations.ts' sigmoid).

import type { F } from '../core/tensor.ts'
import { defineActivation } from './activations.ts'

const sig = (z: number): number => {
  if (z >= 0) return 1 / (1 + Math.exp(-z))
  const e = Math.exp(z)
  return e / (1 + e)
}

// y[i] = x[i] s(x[i])
export function swishForward(y: F, x: F, n: number): void {
  for (let i = 0; i < n; i++) y[i] = x[i] * sig(x[i])
}

// dx[i] = dy[i] s (1 + x (1 - s)),  s = s(x[i])
export function swishBackward(dx: F, dy: F, x: F, n: number): void {
  for (let i = 0; i < n; i++) {
    const s = sig(x[i])
    dx[i] = dy[i] * s * (1 + x[i] * (1 - s))
  }
}

/** Swish / SiLU: x sigmoid(x). */
export const swish = defineActivation({ type: 'swish', forward: swishForward, backward: swishBackward, uses: 'x' })
