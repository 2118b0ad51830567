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
import { LayerError } from '../errors.ts'
import { foldIn } from '../rng.ts'
import type { Shape, Tensor } from '../tensor.ts'
import type { Params } from '../tree.ts'
import { leaves } from '../tree.ts'
import type { AnyLayer, ForwardCtx, Layer, LayerSpec } from './layer.ts'

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

const PREFIX: { readonly [type: string]: string } = {
  dense: 'fc',
  conv2d: 'conv',
  conv1d: 'conv1d_',
  maxpool2d: 'pool',
  avgpool2d: 'avgpool',
  subsample: 'sub',
  sequential: 'block',
}

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
    const prefix = PREFIX[layer.spec.type] ?? layer.spec.type
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

export const sequential = (...inputs: ChildInput[]): Sequential => {
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

  return {
    spec,
    children,
    init: (key, inShape) =>
      pipe(
        children,
        A.reduceWithIndex(
          E.right<LayerError, { params: Record<string, Params>; shape: Shape }>({ params: {}, shape: inShape }),
          (i, acc, { name, layer }) =>
            pipe(
              acc,
              E.chain(({ params, shape }) =>
                pipe(
                  layer.init(foldIn(key, i), shape),
                  E.mapLeft(rename(name, layer)),
                  E.map((r) => ({
                    params: leaves(r.params).length > 0 ? { ...params, [name]: r.params } : params,
                    shape: r.outShape,
                  })),
                ),
              ),
            ),
        ),
        E.map(({ params, shape }) => ({ params: params as Params, outShape: shape })),
      ),
    forward: (p, x, ctx: ForwardCtx) => {
      const saved: unknown[] = new Array(children.length)
      let h: Tensor = x
      for (let i = 0; i < children.length; i++) {
        const { name, layer } = children[i]
        try {
          const r = layer.forward(childParams(p, name), h, { training: ctx.training, key: foldIn(ctx.key, i) })
          saved[i] = r.saved
          h = r.y
        } catch (e) {
          throw e instanceof LayerError ? rename(name, layer)(e) : e
        }
      }
      return { y: h, saved: { saved } }
    },
    vjp: (p, s, dy) => {
      const dparams: Record<string, Params> = {}
      let g: Tensor = dy
      // Each child's dx is computed only when the child before it reads it, so the
      // first layer's input gradient (rarely wanted) costs nothing unless asked for.
      let pending: { dx: Tensor } | undefined
      for (let i = children.length - 1; i >= 0; i--) {
        const { name, layer } = children[i]
        if (pending) g = pending.dx
        try {
          const r = layer.vjp(childParams(p, name), s.saved[i], g)
          if (p[name] !== undefined) dparams[name] = r.dparams
          pending = r
        } catch (e) {
          throw e instanceof LayerError ? rename(name, layer)(e) : e
        }
      }
      const first = pending
      let dx: Tensor | undefined
      return {
        dparams: reorder(p, dparams),
        get dx(): Tensor {
          if (dx === undefined) dx = first === undefined ? g : first.dx
          return dx
        },
      }
    },
  }
}

/** dparams in the parameters' key order (the vjp visits children backwards). */
const reorder = (p: Params, d: Record<string, Params>): Params => {
  const out: Record<string, Params> = {}
  for (const k of Object.keys(p)) if (d[k] !== undefined) out[k] = d[k]
  return out
}
