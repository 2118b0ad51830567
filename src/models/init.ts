// Weight initialisers. Every draw comes from the key handed to `init`.

import type { Key } from '../core/rng.ts'
import { uniform } from '../core/rng.ts'
import type { Shape, Tensor } from '../core/tensor.ts'
import { size, zeros } from '../core/tensor.ts'

export type InitName = 'glorot' | 'he' | 'lecun'

/** Half-width r of the uniform range U(-r, r) of each initialiser. */
export const initRange = (name: InitName, fanIn: number, fanOut: number): number =>
  name === 'he' ? Math.sqrt(6 / fanIn) : name === 'lecun' ? Math.sqrt(3 / fanIn) : Math.sqrt(6 / (fanIn + fanOut))

/**
 * Glorot (Xavier) uniform: U(-r, r), r = sqrt(6 / (fanIn + fanOut)). The default for
 * every weight (WORKLOADS.md uses it; conv fan-in = kh*kw*inC, fan-out = kh*kw*outC).
 */
export const glorotUniform = (key: Key, shape: Shape, fanIn: number, fanOut: number): Tensor => {
  const r = initRange('glorot', fanIn, fanOut)
  return { shape: Object.freeze([...shape]), data: uniform(key, size(shape), 'float32', -r, r) }
}

/** He (Kaiming) uniform: U(-r, r), r = sqrt(6 / fanIn); suits ReLU stacks. */
export const heUniform = (key: Key, shape: Shape, fanIn: number): Tensor => {
  const r = initRange('he', fanIn, 0)
  return { shape: Object.freeze([...shape]), data: uniform(key, size(shape), 'float32', -r, r) }
}

/** LeCun uniform: U(-r, r), r = sqrt(3 / fanIn) (LeCun et al. 1998, for tanh units). */
export const lecunUniform = (key: Key, shape: Shape, fanIn: number): Tensor => {
  const r = initRange('lecun', fanIn, 0)
  return { shape: Object.freeze([...shape]), data: uniform(key, size(shape), 'float32', -r, r) }
}

export const INIT_NAMES: readonly InitName[] = ['glorot', 'he', 'lecun']

export const initWeights = (name: InitName, key: Key, shape: Shape, fanIn: number, fanOut: number): Tensor =>
  name === 'he' ? heUniform(key, shape, fanIn) : name === 'lecun' ? lecunUniform(key, shape, fanIn) : glorotUniform(key, shape, fanIn, fanOut)

export const zeroBias = (n: number): Tensor => zeros([n], 'float32')
