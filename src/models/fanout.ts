// Branches over one input, merged: what `parallel` and `residual` are made of, so a model
// is a pipeline that branches, not only a chain.
//
//   y = merge(branch_1(x), ..., branch_k(x))      merge: 'add' (equal shapes) or 'concat'
//                                                 (along the last axis: channels, features)
//   dx = sum_i dx_i (branch order), each branch's vjp fed its part of dy
//
// A branch may be the identity (layer null: residual's skip connection). Branch i draws
// from foldIn(key, i), at init and in forward; its parameters and state sit under its name,
// like sequential's children.

import * as E from 'fp-ts/lib/Either.js'
import { LayerError } from '../core/errors.ts'
import { foldIn } from '../core/rng.ts'
import type { Shape, Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, shapeEquals, showShape, size } from '../core/tensor.ts'
import type { Params } from '../core/tree.ts'
import { leaves } from '../core/tree.ts'
import type { AnyLayer, Layer, LayerSpec, LayerState } from './layer.ts'
import { checkCotangent } from './layer.ts'
import { withLazyDx } from './lazy.ts'

export type Merge = 'add' | 'concat'

export interface Branch {
  readonly name: string
  /** null: the identity. */
  readonly layer: AnyLayer | null
}

export interface FanoutSaved {
  readonly inShape: Shape
  readonly saved: readonly unknown[]
  /** Output shape of each branch. */
  readonly shapes: readonly Shape[]
}

/** The merged output shape (per sample or with the batch axis), or a reason it does not exist. */
const mergeShape = (merge: Merge, shapes: readonly Shape[]): Shape | string => {
  const first = shapes[0]
  if (merge === 'add')
    return shapes.every((s) => shapeEquals(s, first)) ? first : `branch outputs of one shape to add, got ${shapes.map(showShape).join(', ')}`
  const lead = first.slice(0, -1)
  if (first.length < 1 || !shapes.every((s) => s.length === first.length && shapeEquals(s.slice(0, -1), lead)))
    return `branch outputs equal but in the last axis to concatenate, got ${shapes.map(showShape).join(', ')}`
  return [...lead, shapes.reduce((n, s) => n + s[s.length - 1], 0)]
}

export const fanout = (type: string, spec: LayerSpec, branches: readonly Branch[], merge: Merge): Layer<Params, FanoutSaved> => {
  const rename = (b: Branch) => (e: unknown): unknown =>
    e instanceof LayerError && b.layer !== null
      ? new LayerError(`${type} ${b.name} (${b.layer.spec.type})`, e.layer === b.layer.spec.type ? e.detail : e.message)
      : e
  const sub = (tree: Params | null | undefined, name: string): Params | undefined => tree?.[name] as Params | undefined
  return {
    spec,
    init: (key, inShape) => {
      const params: Record<string, Params> = {}
      const state: Record<string, Params> = {}
      const shapes: Shape[] = []
      for (let i = 0; i < branches.length; i++) {
        const b = branches[i]
        if (b.layer === null) {
          shapes.push(inShape)
          continue
        }
        const r = b.layer.init(foldIn(key, i), inShape)
        if (E.isLeft(r)) return E.left(rename(b)(r.left) as LayerError)
        if (leaves(r.right.params).length > 0) params[b.name] = r.right.params
        if (r.right.state !== undefined && leaves(r.right.state).length > 0) state[b.name] = r.right.state
        shapes.push(r.right.outShape)
      }
      const out = mergeShape(merge, shapes)
      if (typeof out === 'string') return E.left(new LayerError(type, `expected ${out}`))
      return E.right({ params, outShape: out, ...(Object.keys(state).length > 0 ? { state } : {}) })
    },
    forward: (p, x, ctx, state) => {
      const ys: Tensor[] = []
      const saved: unknown[] = []
      let next: Record<string, Params> | undefined
      for (let i = 0; i < branches.length; i++) {
        const b = branches[i]
        if (b.layer === null) {
          ys.push(x)
          saved.push(null)
          continue
        }
        try {
          const own = sub(state, b.name)
          const r = b.layer.forward(sub(p, b.name) ?? {}, x, { training: ctx.training, key: foldIn(ctx.key, i) }, own ?? null)
          ys.push(r.y)
          saved.push(r.saved)
          if (r.state !== undefined && r.state !== own) (next ??= { ...(state ?? {}) } as Record<string, Params>)[b.name] = r.state
        } catch (e) {
          throw rename(b)(e)
        }
      }
      const shapes = ys.map((y) => y.shape)
      const out = mergeShape(merge, shapes)
      if (typeof out === 'string') throw new LayerError(type, `expected ${out}`)
      const dt = dtypeOf(x.data)
      if (!ys.every((y) => dtypeOf(y.data) === dt)) throw new LayerError(type, 'expected every branch output in the input precision')
      const y = alloc(dt, size(out))
      if (merge === 'add') {
        y.set(ys[0].data)
        for (let i = 1; i < ys.length; i++) {
          const d = ys[i].data
          for (let k = 0; k < y.length; k++) y[k] += d[k]
        }
      } else {
        const C = out[out.length - 1]
        const rows = y.length / C
        let off = 0
        for (const t of ys) {
          const c = t.shape[t.shape.length - 1]
          for (let r = 0; r < rows; r++) y.set(t.data.subarray(r * c, (r + 1) * c), r * C + off)
          off += c
        }
      }
      return { y: { shape: out, data: y }, saved: { inShape: x.shape, saved, shapes }, ...(next !== undefined ? { state: next as LayerState } : {}) }
    },
    vjp: (p, s, dy) => {
      const out = mergeShape(merge, s.shapes) as Shape
      checkCotangent(type, dy, out)
      const dt = dtypeOf(dy.data)
      // Each branch's share of dy: all of it (add), or its columns (concat).
      const parts: Tensor[] = []
      if (merge === 'add') for (let i = 0; i < branches.length; i++) parts.push(dy)
      else {
        const C = out[out.length - 1]
        const rows = dy.data.length / C
        let off = 0
        for (const shape of s.shapes) {
          const c = shape[shape.length - 1]
          const d = alloc(dt, rows * c)
          for (let r = 0; r < rows; r++) d.set(dy.data.subarray(r * C + off, r * C + off + c), r * c)
          parts.push({ shape, data: d })
          off += c
        }
      }
      const dparams: Record<string, Params> = {}
      const backs: ({ dx: Tensor } | null)[] = branches.map((b, i) => {
        if (b.layer === null) return null
        try {
          const r = b.layer.vjp(sub(p, b.name) ?? {}, s.saved[i], parts[i])
          if (p[b.name] !== undefined) dparams[b.name] = r.dparams
          return r
        } catch (e) {
          throw rename(b)(e)
        }
      })
      return withLazyDx(dparams as Params, () => {
        const dx = alloc(dt, size(s.inShape))
        backs.forEach((r, i) => {
          const g = r === null ? parts[i].data : r.dx.data
          for (let k = 0; k < dx.length; k++) dx[k] += g[k]
        })
        return { shape: s.inShape, data: dx }
      })
    },
  }
}
