// sequential(a, b, c): function composition of layers, itself a Layer.
// Forward chains left to right, vjp right to left (the chain rule, matrix-backprop).
//
// Children are named: give a name with named('conv1', layer) or ['conv1', layer];
// otherwise a name is made from the layer's kind and a counter per kind (conv1,
// relu1, pool1, conv2, ..., fc1, fc2), so parameter paths read "conv1.k", "fc2.b"
// (the conformance naming). Only children with parameters appear in the tree.
// Child i's key (init and forward) is foldIn(key, i).

import * as E from 'fp-ts/lib/Either.js'
import * as A from 'fp-ts/lib/Array.js'
import { pipe } from 'fp-ts/lib/function.js'
import { LayerError } from '../core/errors.ts'
import { foldIn } from '../core/rng.ts'
import type { Shape, Tensor } from '../core/tensor.ts'
import type { Params } from '../core/tree.ts'
import { leaves } from '../core/tree.ts'
import type { AnyLayer, ForwardCtx, Layer, LayerSpec, LayerState } from './layer.ts'
import { buildLayer, defineLayer, layerType } from './define.ts'
import { withLazyDx } from './lazy.ts'

export interface Child {
  readonly name: string
  readonly layer: AnyLayer
}

export type ChildInput = AnyLayer | readonly [string, AnyLayer] | Child

export interface SequentialSaved {
  readonly saved: readonly unknown[]
}

export interface Sequential extends Layer<Params, SequentialSaved> {
  readonly children: readonly Child[]
}

/** A child with an explicit name. */
export const named = (name: string, layer: AnyLayer): Child => ({ name, layer })

const isChild = (c: ChildInput): c is Child => 'layer' in c && 'name' in c
const isPair = (c: ChildInput): c is readonly [string, AnyLayer] => Array.isArray(c)

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Names every child (explicit names kept, the rest counted per kind). */
const nameChildren = (inputs: readonly ChildInput[]): Child[] => {
  const counts = new Map<string, number>()
  const taken = new Set<string>()
  const explicit = inputs.map((c) => (isChild(c) ? c : isPair(c) ? { name: c[0], layer: c[1] } : undefined))
  for (const c of explicit) if (c) taken.add(c.name)
  return inputs.map((c, i) => {
    const given = explicit[i]
    if (given) return given
    const layer = c as AnyLayer
    const prefix = layerType(layer.spec.type)?.prefix ?? layer.spec.type
    let name: string
    do {
      const k = (counts.get(prefix) ?? 0) + 1
      counts.set(prefix, k)
      name = `${prefix}${k}`
    } while (taken.has(name))
    taken.add(name)
    return { name, layer }
  })
}

const create = (...inputs: ChildInput[]): Sequential => {
  const children = nameChildren(inputs)
  const seen = new Set<string>()
  for (const { name } of children) {
    if (!NAME_RE.test(name) || name === '__proto__' || name === 'constructor')
      throw new LayerError('sequential', `expected child names of letters, digits and _, got ${JSON.stringify(name)}`)
    if (seen.has(name)) throw new LayerError('sequential', `expected distinct child names, got ${name} twice`)
    seen.add(name)
  }
  const spec: LayerSpec = {
    type: 'sequential',
    layers: children.map(({ name, layer }) => ({ name, ...layer.spec })),
  }
  const childParams = (p: Params, name: string): Params => {
    const v = p[name]
    return v === undefined ? {} : (v as Params)
  }
  // "conv2 (conv2d): expected ..."; a nested container keeps the inner path.
  const rename = (name: string, layer: AnyLayer) => (e: LayerError): LayerError =>
    new LayerError(`${name} (${layer.spec.type})`, e.layer === layer.spec.type ? e.detail : e.message)

  // The children's contexts are a function of the parent's (foldIn(key, i)): those of the
  // last context seen are kept, so repeated forwards with one context (every evaluation
  // forward uses evalCtx) skip the per-child key derivation.
  let lastCtx: ForwardCtx | null = null
  let childCtxs: ForwardCtx[] = []
  const contextsOf = (ctx: ForwardCtx): ForwardCtx[] => {
    if (ctx !== lastCtx) {
      childCtxs = children.map((_, i) => ({ training: ctx.training, key: foldIn(ctx.key, i) }))
      lastCtx = ctx
    }
    return childCtxs
  }

  return {
    spec,
    children,
    init: (key, inShape) =>
      pipe(
        children,
        A.reduceWithIndex(
          E.right<LayerError, { params: Record<string, Params>; state: Record<string, Params>; shape: Shape }>({
            params: {},
            state: {},
            shape: inShape,
          }),
          (i, acc, { name, layer }) =>
            pipe(
              acc,
              E.chain(({ params, state, shape }) =>
                pipe(
                  layer.init(foldIn(key, i), shape),
                  E.mapLeft(rename(name, layer)),
                  E.map((r) => ({
                    params: leaves(r.params).length > 0 ? { ...params, [name]: r.params } : params,
                    state: r.state !== undefined && leaves(r.state).length > 0 ? { ...state, [name]: r.state } : state,
                    shape: r.outShape,
                  })),
                ),
              ),
            ),
        ),
        E.map(({ params, state, shape }) => ({
          params: params as Params,
          outShape: shape,
          ...(Object.keys(state).length > 0 ? { state: state as LayerState } : {}),
        })),
      ),
    forward: (p, x, ctx: ForwardCtx, state) => {
      const saved: unknown[] = new Array(children.length)
      // Child states by child name, like the parameters; a child that returns none keeps its own.
      let next: Record<string, Params> | undefined
      let h: Tensor = x
      const ctxs = contextsOf(ctx)
      for (let i = 0; i < children.length; i++) {
        const { name, layer } = children[i]
        try {
          const own = state?.[name] as LayerState | undefined
          const r = layer.forward(childParams(p, name), h, ctxs[i], own ?? null)
          saved[i] = r.saved
          h = r.y
          if (r.state !== undefined && r.state !== own) (next ??= { ...(state ?? {}) } as Record<string, Params>)[name] = r.state
        } catch (e) {
          throw e instanceof LayerError ? rename(name, layer)(e) : e
        }
      }
      return { y: h, saved: { saved }, ...(next !== undefined ? { state: next as LayerState } : {}) }
    },
    vjp: (p, s, dy) => {
      const dparams: Record<string, Params> = {}
      // Children before the first one with parameters only pass the gradient on to the
      // input, which is rarely wanted (nobody needs the gradient of the data): they run
      // only if dx is read. The last child always runs, so a bad dy fails at once. Each
      // child's own dx is lazy too (withLazyDx), so a first dense or conv layer never
      // computes its input gradient unless asked.
      const firstWithParams = children.findIndex(({ name }) => p[name] !== undefined)
      const eagerFrom = Math.min(firstWithParams < 0 ? children.length : firstWithParams, children.length - 1)
      const back = (i: number, g: Tensor): { dparams: Params; dx: Tensor } => {
        const { name, layer } = children[i]
        try {
          return layer.vjp(childParams(p, name), s.saved[i], g)
        } catch (e) {
          throw e instanceof LayerError ? rename(name, layer)(e) : e
        }
      }
      let pending: { dx: Tensor } = { dx: dy }
      for (let i = children.length - 1; i >= Math.max(0, eagerFrom); i--) {
        const r = back(i, pending.dx)
        if (p[children[i].name] !== undefined) dparams[children[i].name] = r.dparams
        pending = r
      }
      const head = pending
      return withLazyDx(reorder(p, dparams), () => {
        let g = head.dx
        for (let i = eagerFrom - 1; i >= 0; i--) g = back(i, g).dx
        return g
      })
    },
  }
}

/** dparams in the parameters' key order (the vjp visits children backwards). */
const reorder = (p: Params, d: Record<string, Params>): Params => {
  const out: Record<string, Params> = {}
  for (const k of Object.keys(p)) if (d[k] !== undefined) out[k] = d[k]
  return out
}

/** sequential(a, b, c): the layers chained; unnamed inside another sequential: block1, ... */
export const sequential = defineLayer({
  type: 'sequential',
  prefix: 'block',
  create,
  fromSpec: (s) => {
    const layers = s.spec.layers
    if (!Array.isArray(layers)) return s.fail('layers', 'an array of layer specs')
    return layers.map((l): ChildInput => {
      const built = buildLayer(l)
      const name = (l as { readonly name?: unknown }).name
      return typeof name === 'string' ? named(name, built) : built
    })
  },
})
