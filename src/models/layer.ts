// The Layer contract (DESIGN.md, "Layer: the pure pair").
//
// Shapes given to `init` are per-sample shapes (no batch axis): a model built for
// [28, 28, 1] accepts x of shape [B, 28, 28, 1] for any B. `init` infers and
// checks every shape and returns a Left naming the layer on a mismatch; forward
// and vjp check the shapes they receive and throw the same LayerError (see
// `tryForward` / `tryVjp` for Either-returning versions).

import * as E from 'fp-ts/lib/Either.js'
import { LayerError } from '../core/errors.ts'
import type { JsonValue } from '../core/json.ts'
import type { Key } from '../core/rng.ts'
import { key as rootKey } from '../core/rng.ts'
import type { Shape, Tensor } from '../core/tensor.ts'
import { shapeEquals, showShape } from '../core/tensor.ts'
import type { Params } from '../core/tree.ts'

export type { Params } from '../core/tree.ts'

export interface ForwardCtx {
  /** Training mode: noise layers (RReLU) draw from `key`; evaluation is deterministic. */
  readonly training: boolean
  readonly key: Key
}

/** A JSON description of a layer: `type` plus its hyperparameters (the conformance format). */
export type { JsonValue } from '../core/json.ts'
export interface LayerSpec {
  readonly type: string
  readonly [hyper: string]: JsonValue
}

/**
 * State a layer carries beside its parameters (batch norm's running statistics): a tree
 * of tensors like the parameters, but never an optimizer's. Absent or null: no state.
 */
export type LayerState = Params

export interface Layer<P extends Params = Params, S = unknown> {
  /** Enough to rebuild the layer with `layerFromSpec` (checkpoints store it). */
  readonly spec: LayerSpec
  /** Parameters, output shape, and the initial state of a stateful layer. */
  init(key: Key, inShape: Shape): E.Either<LayerError, { params: P; outShape: Shape; state?: LayerState }>
  /**
   * y from x; a stateful layer also takes its state and returns the next one, as
   * Equinox's `(x, state) -> (y, state)`. A layer that returns no state leaves it as is.
   */
  forward(params: P, x: Tensor, ctx: ForwardCtx, state?: LayerState | null): { y: Tensor; saved: S; state?: LayerState }
  vjp(params: P, saved: S, dy: Tensor): { dparams: P; dx: Tensor }
}

/**
 * A layer with its parameter and saved types forgotten (what containers hold).
 * Methods are declared in method syntax, so any Layer<P, S> is assignable to it.
 */
export type AnyLayer = Layer<Params, unknown>

export type ParamsOf<L> = L extends Layer<infer P, unknown> ? P : never

/** Evaluation context with a fixed key (evaluation draws nothing). */
export const evalCtx: ForwardCtx = { training: false, key: rootKey(0) }

export const noParams: Params = Object.freeze({})

// ---- shape checks shared by layers ----------------------------------------------------

/** Left unless inShape has the given rank. */
export const expectRank = (
  layer: string,
  inShape: Shape,
  rank: number,
  meaning: string,
): E.Either<LayerError, Shape> =>
  inShape.length === rank
    ? E.right(inShape)
    : E.left(
        new LayerError(
          layer,
          `expected a per-sample input of rank ${rank} ${meaning}, got rank ${inShape.length} ${showShape(inShape)}`,
        ),
      )

/** Left unless every dimension is a positive integer. */
export const expectValidShape = (layer: string, inShape: Shape): E.Either<LayerError, Shape> =>
  inShape.every((d) => Number.isInteger(d) && d > 0)
    ? E.right(inShape)
    : E.left(new LayerError(layer, `expected positive integer dimensions, got ${showShape(inShape)}`))

/** Throws unless x has shape [B, ...sample] for some B >= 1. */
export const checkBatch = (layer: string, x: Tensor, sample: Shape, what = 'input'): number => {
  const B = x.shape[0]
  if (x.shape.length !== sample.length + 1 || !(B >= 1) || !shapeEquals(x.shape.slice(1), sample))
    throw new LayerError(layer, `expected ${what} of shape [B, ${sample.join(', ')}], got ${showShape(x.shape)}`)
  return B
}

/** Throws unless x has the given rank (batch axis included). */
export const checkRank = (layer: string, x: Tensor, rank: number, meaning: string, what = 'input'): void => {
  if (x.shape.length !== rank || x.shape[0] < 1)
    throw new LayerError(layer, `expected ${what} of rank ${rank} ${meaning}, got ${showShape(x.shape)}`)
}

/** Throws unless dy has exactly the shape of the forward output. */
export const checkCotangent = (layer: string, dy: Tensor, yShape: Shape): void => {
  if (!shapeEquals(dy.shape, yShape))
    throw new LayerError(layer, `expected dy of shape ${showShape(yShape)} (the output's), got ${showShape(dy.shape)}`)
  if (dy.data.constructor !== Float32Array && dy.data.constructor !== Float64Array)
    throw new LayerError(layer, `expected dy data to be a Float32Array or Float64Array`)
}

/** Throws unless two tensors share a precision (kernels read both with one element type). */
export const checkSameDtype = (layer: string, a: Tensor, b: Tensor, what: string): void => {
  if (a.data.constructor !== b.data.constructor)
    throw new LayerError(
      layer,
      `expected ${what} in the same precision as the input (${a.data.constructor.name}), got ${b.data.constructor.name}`,
    )
}

/** Left unless v is a finite number satisfying the predicate. */
export const expectNumber = (
  layer: string,
  name: string,
  v: unknown,
  ok: (n: number) => boolean,
  expected: string,
): E.Either<LayerError, number> =>
  typeof v === 'number' && Number.isFinite(v) && ok(v)
    ? E.right(v)
    : E.left(new LayerError(layer, `expected ${name} to be ${expected}, got ${String(v)}`))

/** Runs forward, turning a LayerError into a Left. */
export const tryForward = <P extends Params, S>(
  layer: Layer<P, S>,
  params: P,
  x: Tensor,
  ctx: ForwardCtx,
  state?: LayerState | null,
): E.Either<LayerError, { y: Tensor; saved: S; state?: LayerState }> =>
  E.tryCatch(
    () => layer.forward(params, x, ctx, state),
    (e) => (e instanceof LayerError ? e : new LayerError(layer.spec.type, String(e))),
  )

/** Runs vjp, turning a LayerError into a Left. */
export const tryVjp = <P extends Params, S>(
  layer: Layer<P, S>,
  params: P,
  saved: S,
  dy: Tensor,
): E.Either<LayerError, { dparams: P; dx: Tensor }> =>
  E.tryCatch(
    () => layer.vjp(params, saved, dy),
    (e) => (e instanceof LayerError ? e : new LayerError(layer.spec.type, String(e))),
  )

/** Shape inference without keeping parameters: the output shape, or the first error. */
export const outShapeOf = (layer: AnyLayer, inShape: Shape): E.Either<LayerError, Shape> =>
  E.map((r: { outShape: Shape }) => r.outShape)(layer.init(rootKey(0), inShape))

/** Throws a LayerError unless a hyperparameter holds (used by layer constructors). */
export const unwrap = <A>(e: E.Either<LayerError, A>): A => {
  if (E.isLeft(e)) throw e.left
  return e.right
}
