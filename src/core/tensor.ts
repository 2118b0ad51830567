// Tensors: a shape and a flat row-major typed array. Nothing else.
//
// A tensor is never mutated after it is handed out (DESIGN.md, "Tensor"): kernels
// write only into arrays allocated for their own result. Float32 is the training
// precision; Float64 runs through every layer too, for gradient checks.

import * as E from 'fp-ts/lib/Either.js'
import { GradstreamError } from './errors.ts'
import { currentArena } from './arena.ts'

export type Shape = readonly number[]
export type F = Float32Array | Float64Array
export type DType = 'float32' | 'float64'

export interface Tensor {
  readonly shape: Shape
  readonly data: F
}

/** Number of elements of a shape (1 for a scalar shape []). */
export const size = (shape: Shape): number => {
  let n = 1
  for (const d of shape) n *= d
  return n
}

export const dtypeOf = (data: F): DType => (data instanceof Float64Array ? 'float64' : 'float32')

/** A zeroed array: fresh, or inside a step arena's scope the arena's (arena.ts). */
export const alloc = (dtype: DType, n: number): F => {
  const arena = currentArena()
  if (arena !== null) return arena.take(dtype, n)
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n)
}

/** A zeroed Int32Array of indices (max pooling's argmax), from the arena like alloc. */
export const allocInt32 = (n: number): Int32Array => {
  const arena = currentArena()
  return arena !== null ? arena.takeInt32(n) : new Int32Array(n)
}

/** `[2, 28, 28, 1]`, for messages. */
export const showShape = (shape: Shape): string => `[${shape.join(', ')}]`

export const shapeEquals = (a: Shape, b: Shape): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i])

const isPositiveInt = (d: number): boolean => Number.isInteger(d) && d >= 0

/** Wraps existing data as a tensor; checks that the sizes agree. */
export const tensor = (shape: Shape, data: F): Tensor => {
  if (!shape.every(isPositiveInt))
    throw new GradstreamError(`tensor: expected a shape of non-negative integers, got ${showShape(shape)}`)
  if (data.length !== size(shape))
    throw new GradstreamError(
      `tensor: shape ${showShape(shape)} needs ${size(shape)} elements, got ${data.length}`,
    )
  return { shape: Object.freeze([...shape]), data }
}

export const zeros = (shape: Shape, dtype: DType = 'float32'): Tensor =>
  tensor(shape, alloc(dtype, size(shape)))

export const full = (shape: Shape, value: number, dtype: DType = 'float32'): Tensor => {
  const t = zeros(shape, dtype)
  t.data.fill(value)
  return t
}

/** A new tensor with the given shape, filled from a plain array (or typed array). */
export const fromArray = (
  shape: Shape,
  values: ArrayLike<number>,
  dtype: DType = 'float32',
): Tensor => {
  const data = alloc(dtype, values.length)
  data.set(values)
  return tensor(shape, data)
}

export const scalar = (value: number, dtype: DType = 'float64'): Tensor => fromArray([], [value], dtype)

/** A tensor of the same shape and dtype, zero-filled. */
export const zerosLike = (t: Tensor): Tensor => zeros(t.shape, dtypeOf(t.data))

/** Same data, other shape (no copy: tensors are immutable, so sharing is safe). */
export const reshape = (t: Tensor, shape: Shape): Tensor => tensor(shape, t.data)

/** A copy in the requested precision. */
export const cast = (t: Tensor, dtype: DType): Tensor => {
  const data = alloc(dtype, t.data.length)
  data.set(t.data)
  return { shape: t.shape, data }
}

export const clone = (t: Tensor): Tensor => cast(t, dtypeOf(t.data))

/** The element-wise sum of two same-shaped tensors, as a new tensor. */
export const add = (a: Tensor, b: Tensor): Tensor => {
  if (!shapeEquals(a.shape, b.shape))
    throw new GradstreamError(`add: shapes must match, got ${showShape(a.shape)} and ${showShape(b.shape)}`)
  const out = alloc(dtypeOf(a.data), a.data.length)
  const x = a.data
  const y = b.data
  for (let i = 0; i < out.length; i++) out[i] = x[i] + y[i]
  return { shape: a.shape, data: out }
}

/** Sizes of one sample (everything but the leading batch axis). */
export const sampleShape = (t: Tensor): Shape => t.shape.slice(1)

/** Index of the largest entry of each row of a [B, C] tensor (first one on ties). */
export const argmaxRows = (t: Tensor): Int32Array => {
  const [B, C] = t.shape
  const out = new Int32Array(B)
  const d = t.data
  for (let b = 0; b < B; b++) {
    let best = 0
    let bestV = d[b * C]
    for (let c = 1; c < C; c++) {
      const v = d[b * C + c]
      if (v > bestV) {
        bestV = v
        best = c
      }
    }
    out[b] = best
  }
  return out
}

/** Checks that every entry is finite; Left names the first offending index. */
export const checkFinite = (what: string, t: Tensor): E.Either<GradstreamError, Tensor> => {
  const d = t.data
  for (let i = 0; i < d.length; i++)
    if (!Number.isFinite(d[i]))
      return E.left(new GradstreamError(`${what}: expected finite values, got ${d[i]} at index ${i}`))
  return E.right(t)
}
