// A vjp result whose input gradient is computed only when read.
//
// The first layer of a network never needs dx (nobody consumes the gradient of the
// data), and for a convolution it costs as much as the kernel gradient. Reading
// `dx` computes it once and caches it; from outside the result is an ordinary
// immutable value.

import type { Tensor } from '../core/tensor.ts'

export const withLazyDx = <P>(dparams: P, computeDx: () => Tensor): { dparams: P; dx: Tensor } => {
  let dx: Tensor | undefined
  return {
    dparams,
    get dx(): Tensor {
      if (dx === undefined) dx = computeDx()
      return dx
    },
  }
}
