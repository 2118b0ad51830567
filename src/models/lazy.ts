// A vjp result whose input gradient is computed only when read.
//
// The first layer of a network never needs dx (nobody consumes the gradient of the
// data), and for a convolution it costs as much as the kernel gradient. Reading
// `dx` computes it once and caches it; from outside the result is an ordinary
// immutable value.
//
// A class with the getter on its prototype, not an object literal with `get dx()`: V8
// gives each such literal its own accessor (per-object, kept out of the young
// generation), so every step's gradients and inputs the closure holds survived the
// young-generation collections, were promoted, and forced a full mark-compact every
// ~16 steps of W2 (measured: ~1.3 ms of helper-thread CPU per step, none with the class).

import type { Tensor } from '../core/tensor.ts'

class LazyDx<P> {
  #dx: Tensor | undefined
  readonly #compute: () => Tensor
  constructor(
    readonly dparams: P,
    compute: () => Tensor,
  ) {
    this.#compute = compute
  }

  get dx(): Tensor {
    if (this.#dx === undefined) this.#dx = this.#compute()
    return this.#dx
  }
}

export const withLazyDx = <P>(dparams: P, computeDx: () => Tensor): { dparams: P; dx: Tensor } => new LazyDx(dparams, computeDx)
