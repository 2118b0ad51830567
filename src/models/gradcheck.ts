// gradCheck: the layer's vjp against central finite differences, in Float64.
//
// With a fixed random cotangent dy, f(x, params) = <forward(params, x).y, dy> is a
// scalar whose gradient is exactly what vjp(dy) returns. Each entry of x and of every
// parameter is nudged by +-eps and (f+ - f-) / 2eps compared with the vjp. The error
// per tensor is max|numeric - analytic| / max(max|numeric|, max|analytic|, floor),
// the conformance README's measure with a floor so that an all-zero gradient (a ReLU
// that is off everywhere) does not divide by zero.

import * as E from 'fp-ts/lib/Either.js'
import type { LayerError } from '../core/errors.ts'
import { key as rootKey, normal, split } from '../core/rng.ts'
import type { Shape, Tensor } from '../core/tensor.ts'
import { size } from '../core/tensor.ts'
import type { Params } from '../core/tree.ts'
import { castTree, leaves } from '../core/tree.ts'
import type { AnyLayer, ForwardCtx, LayerState } from './layer.ts'
import { tryForward, tryVjp } from './layer.ts'

export interface GradCheckOptions {
  /** Batch size of the random input (default 2). */
  readonly batch?: number
  /** Seed for init, input, cotangent and the forward key (default 0). */
  readonly seed?: number
  /** Finite-difference step (default 1e-6). */
  readonly eps?: number
  /** Forward in training mode (default true: noise layers use one fixed draw). */
  readonly training?: boolean
  /** Use these parameters instead of init's (cast to Float64). */
  readonly params?: Params
  /** Use this input instead of a standard normal one (cast to Float64). */
  readonly x?: Tensor
  /** Denominator floor for the relative error (default 1e-8). */
  readonly floor?: number
  /** The layer's state for every forward (e.g. batch norm's running statistics in evaluation). */
  readonly state?: LayerState | null
}

export interface GradCheckResult {
  /** Worst relative error per tensor: 'x' for the input, then every parameter path. */
  readonly errors: { readonly [tensor: string]: number }
  /** The largest of them. */
  readonly worst: number
  /** How many scalar derivatives were compared. */
  readonly checked: number
}

const relErr = (num: Float64Array, ana: ArrayLike<number>, floor: number): number => {
  let diff = 0
  let scale = floor
  for (let i = 0; i < num.length; i++) {
    diff = Math.max(diff, Math.abs(num[i] - ana[i]))
    scale = Math.max(scale, Math.abs(num[i]), Math.abs(ana[i]))
  }
  return diff / scale
}

/**
 * (f(buf + eps e_i) - f(buf - eps e_i)) / 2eps for every i: nudges buf[i] in place and
 * restores it, so buf must be the caller's own scratch copy.
 */
export const centralDifferences = (f: () => number, buf: Float64Array, eps = 1e-6): Float64Array => {
  const g = new Float64Array(buf.length)
  for (let i = 0; i < buf.length; i++) {
    const v = buf[i]
    buf[i] = v + eps
    const fp = f()
    buf[i] = v - eps
    const fm = f()
    buf[i] = v
    g[i] = (fp - fm) / (2 * eps)
  }
  return g
}

export const gradCheck = (
  layer: AnyLayer,
  inShape: Shape,
  options: GradCheckOptions = {},
): E.Either<LayerError, GradCheckResult> => {
  const B = options.batch ?? 2
  const eps = options.eps ?? 1e-6
  const floor = options.floor ?? 1e-8
  const [kInit, kX, kDy, kFwd] = split(rootKey(options.seed ?? 0), 4)
  const ctx: ForwardCtx = { training: options.training ?? true, key: kFwd }

  const init = layer.init(kInit, inShape)
  if (E.isLeft(init)) return init
  const params = castTree(options.params ?? init.right.params, 'float64')
  const x: Tensor = options.x
    ? { shape: options.x.shape, data: Float64Array.from(options.x.data) }
    : { shape: [B, ...inShape], data: normal(kX, B * size(inShape), 'float64') }

  const state = options.state ?? null
  const fwd = tryForward(layer, params, x, ctx, state)
  if (E.isLeft(fwd)) return fwd
  const dy: Tensor = { shape: fwd.right.y.shape, data: normal(kDy, fwd.right.y.data.length, 'float64') }
  const back = tryVjp(layer, params, fwd.right.saved, dy)
  if (E.isLeft(back)) return back

  const f = (): number => {
    const y = layer.forward(params, x, ctx, state).y.data
    let s = 0
    for (let i = 0; i < y.length; i++) s += y[i] * dy.data[i]
    return s
  }
  // The buffers nudged are gradCheck's own Float64 copies.
  const numeric = (buf: Float64Array): Float64Array => centralDifferences(f, buf, eps)

  const errors: Record<string, number> = {}
  let checked = 0
  errors.x = relErr(numeric(x.data as Float64Array), back.right.dx.data, floor)
  checked += x.data.length
  const grads = new Map(leaves(back.right.dparams))
  for (const [path, t] of leaves(params)) {
    const g = grads.get(path)
    if (g === undefined) {
      errors[path] = Infinity
      continue
    }
    errors[path] = relErr(numeric(t.data as Float64Array), g.data, floor)
    checked += t.data.length
  }
  const worst = Math.max(...Object.values(errors))
  return E.right({ errors, worst, checked })
}
