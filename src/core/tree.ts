// Parameter trees: records of tensors, nested by layer name (the shape of JAX pytrees).
//
// A gradient is a tree of exactly the same shape as the parameters. Trees flatten
// ("ravel") into one contiguous buffer plus a layout, and unflatten into views of
// that buffer: a snapshot's parameters are one typed array, so copying, hashing,
// saving and optimizer updates are single passes over memory. Leaf order is the
// insertion order of the records, which construction makes deterministic.

import type { Monoid } from 'fp-ts/lib/Monoid.js'
import { GradstreamError } from './errors.ts'
import type { DType, F, Shape, Tensor } from './tensor.ts'
import { alloc, dtypeOf, shapeEquals, showShape, size } from './tensor.ts'
import { isRowSparse } from './row-hint.ts'

export type Params = { readonly [name: string]: Tensor | Params }

export const isTensor = (v: unknown): v is Tensor =>
  typeof v === 'object' &&
  v !== null &&
  Array.isArray((v as Tensor).shape) &&
  // A row-sparse gradient (row-hint.ts) is recognised without reading `data`, which
  // would build its full array.
  (isRowSparse(v) || ArrayBuffer.isView((v as Tensor).data))

/** Leaves with their dotted paths ("conv1.k"), in tree order. */
export const leaves = (tree: Params, prefix = ''): Array<[string, Tensor]> => {
  const out: Array<[string, Tensor]> = []
  const walk = (node: Params, pre: string): void => {
    for (const name of Object.keys(node)) {
      const v = node[name]
      const path = pre === '' ? name : `${pre}.${name}`
      if (isTensor(v)) out.push([path, v])
      else walk(v, path)
    }
  }
  walk(tree, prefix)
  return out
}

/** The same tree with f applied to every leaf. */
export const mapTree = <T extends Params>(tree: T, f: (t: Tensor, path: string) => Tensor, prefix = ''): T => {
  const out: Record<string, Tensor | Params> = {}
  for (const name of Object.keys(tree)) {
    const v = tree[name]
    const path = prefix === '' ? name : `${prefix}.${name}`
    out[name] = isTensor(v) ? f(v, path) : mapTree(v, f, path)
  }
  return out as T
}

/** A deep copy: the same structure and shapes, every array copied. */
export const copyTree = <T extends Params>(tree: T): T => mapTree(tree, (t) => ({ shape: t.shape, data: t.data.slice() }))

/** f over corresponding leaves of two trees of the same structure. */
export const zipTree = <T extends Params>(
  a: T,
  b: Params,
  f: (x: Tensor, y: Tensor, path: string) => Tensor,
  prefix = '',
): T => {
  const out: Record<string, Tensor | Params> = {}
  for (const name of Object.keys(a)) {
    const x = a[name]
    const y = b[name]
    const path = prefix === '' ? name : `${prefix}.${name}`
    if (y === undefined) throw new GradstreamError(`zipTree: tree is missing ${path}`)
    if (isTensor(x)) {
      if (!isTensor(y) || !shapeEquals(x.shape, y.shape))
        throw new GradstreamError(
          `zipTree: ${path} expected shape ${showShape(x.shape)}, got ${isTensor(y) ? showShape(y.shape) : 'a subtree'}`,
        )
      out[name] = f(x, y, path)
    } else {
      if (isTensor(y)) throw new GradstreamError(`zipTree: ${path} expected a subtree, got a tensor`)
      out[name] = zipTree(x, y, f, path)
    }
  }
  return out as T
}

/** Total number of scalars in a tree. */
export const countParams = (tree: Params): number => leaves(tree).reduce((n, [, t]) => n + t.data.length, 0)

/** Where each leaf lives in the flat buffer. */
export interface Layout {
  readonly names: readonly string[]
  readonly shapes: readonly Shape[]
  readonly offsets: readonly number[]
  /** Total number of scalars. */
  readonly size: number
}

export const layoutOf = (tree: Params): Layout => {
  const names: string[] = []
  const shapes: Shape[] = []
  const offsets: number[] = []
  let n = 0
  for (const [path, t] of leaves(tree)) {
    names.push(path)
    shapes.push(t.shape)
    offsets.push(n)
    n += t.data.length
  }
  return { names, shapes, offsets, size: n }
}

/** Copies every leaf, in order, into one new buffer. */
export const ravel = (tree: Params, dtype?: DType): { layout: Layout; data: F } => {
  const layout = layoutOf(tree)
  const ls = leaves(tree)
  const data = alloc(dtype ?? (ls.length > 0 ? dtypeOf(ls[0][1].data) : 'float32'), layout.size)
  ls.forEach(([, t], i) => data.set(t.data, layout.offsets[i]))
  return { layout, data }
}

/**
 * Copies the leaves of `tree` into an existing buffer laid out by `layout`, matching
 * leaves by path (so a tree built in another key order still lands correctly).
 */
export const ravelInto = (out: F, layout: Layout, tree: Params): void => {
  const byPath = new Map(leaves(tree))
  if (byPath.size !== layout.names.length)
    throw new GradstreamError(`ravelInto: expected ${layout.names.length} tensors, got ${byPath.size}`)
  layout.names.forEach((path, i) => {
    const t = byPath.get(path)
    if (t === undefined) throw new GradstreamError(`ravelInto: tree is missing ${path}`)
    if (t.data.length !== size(layout.shapes[i]))
      throw new GradstreamError(`ravelInto: expected ${path} ${showShape(layout.shapes[i])}, got ${showShape(t.shape)}`)
    out.set(t.data, layout.offsets[i])
  })
}

/**
 * A tree of views into `data` following `layout`. The views share memory with the
 * buffer: whoever owns the buffer must never write to it after handing them out.
 */
export const unravel = <T extends Params = Params>(layout: Layout, data: F): T => {
  if (data.length !== layout.size)
    throw new GradstreamError(`unravel: layout needs ${layout.size} scalars, got a buffer of ${data.length}`)
  const root: Record<string, unknown> = {}
  layout.names.forEach((path, i) => {
    const parts = pathParts(path)
    let node = root
    for (let j = 0; j < parts.length - 1; j++) {
      const next = (node[parts[j]] ??= {}) as Record<string, unknown>
      node = next
    }
    const off = layout.offsets[i]
    const shape = layout.shapes[i]
    node[parts[parts.length - 1]] = { shape, data: data.subarray(off, off + size(shape)) } satisfies Tensor
  })
  return root as T
}

/** A tree of zeros with the structure of `like`. */
export const zerosTree = <T extends Params>(like: T, dtype?: DType): T =>
  mapTree(like, (t) => ({ shape: t.shape, data: alloc(dtype ?? dtypeOf(t.data), t.data.length) }))

/** Leaf-wise sum of two trees of the same structure. */
export const addTrees = <T extends Params>(a: T, b: T): T =>
  zipTree(a, b, (x, y) => {
    const out = alloc(dtypeOf(x.data), x.data.length)
    const xd = x.data
    const yd = y.data
    for (let i = 0; i < out.length; i++) out[i] = xd[i] + yd[i]
    return { shape: x.shape, data: out }
  })

/**
 * Gradients form a Monoid (zeros, +): accumulating over microbatches or workers is a
 * fold with it. `like` fixes the structure of `empty`.
 */
export const gradMonoid = <T extends Params>(like: T): Monoid<T> => ({
  concat: addTrees,
  empty: zerosTree(like),
})

/** Every leaf cast to the given precision (copies). */
export const castTree = <T extends Params>(tree: T, dtype: DType): T =>
  mapTree(tree, (t) => {
    const data = alloc(dtype, t.data.length)
    data.set(t.data)
    return { shape: t.shape, data }
  })

/** Looks a leaf up by its dotted path. */
export const getLeaf = (tree: Params, path: string): Tensor | undefined => {
  let node: Tensor | Params | undefined = tree
  for (const part of path.split('.')) {
    if (node === undefined || isTensor(node)) return undefined
    node = node[part]
  }
  return node !== undefined && isTensor(node) ? node : undefined
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype', ''])

/** Splits a dotted path, refusing names that could reach Object.prototype. */
const pathParts = (path: string): string[] => {
  const parts = path.split('.')
  for (const p of parts)
    if (FORBIDDEN.has(p))
      throw new GradstreamError(`parameter path: expected dot-separated names, got ${JSON.stringify(path)}`)
  return parts
}

/** Builds a tree from dotted paths ("fc1.W" -> {fc1: {W}}); the inverse of `leaves`. */
export const treeFromLeaves = <T extends Params = Params>(entries: ReadonlyArray<readonly [string, Tensor]>): T => {
  const root: Record<string, unknown> = {}
  for (const [path, t] of entries) {
    const parts = pathParts(path)
    let node = root
    for (let j = 0; j < parts.length - 1; j++) node = (node[parts[j]] ??= {}) as Record<string, unknown>
    node[parts[parts.length - 1]] = t
  }
  return root as T
}
