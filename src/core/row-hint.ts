// A gradient that knows which of its rows can be non-zero. A dense layer's weight
// gradient dW = x^T dy has an exactly-zero row for every input that is zero in the whole
// batch (MNIST pixels at batch 1: ~80% of them), and a step that touches only the other
// rows is what makes a batch-1 online update cheap. Such a gradient carries its non-zero
// rows packed (`rows`, `rowValues`); its `data` is built from them on first read (and
// kept), so a consumer that uses the packed rows (the in-place SGD rule, the learner's
// finiteness check) never pays for the full array, and every other consumer sees an
// ordinary tensor with the same bits. From outside it is an immutable value.
//
// At batch 1 the rows are an outer product, dW[i,:] = x[i] dy (one product per element):
// such a gradient also carries its two factors (`outer`), and builds even `rowValues`
// only on first read, so the in-place SGD rule computes each element where it uses it, in
// one pass over each row (ops/optim.ts, sgdOuterRowsInPlace), as a fused dense+SGD kernel
// would, while every other reader sees the same values.

import type { F, Shape, Tensor } from './tensor.ts'

export interface RowSparse extends Tensor {
  /** Ascending indices along axis 0 of the rows that may be non-zero; every other row is exactly +0. */
  readonly rows: Int32Array
  /** Those rows' values, packed: rows.length x (elements per row). */
  readonly rowValues: F
  /** When present, rowValues[t, j] = fl(0 + u[t] * v[j]): the rows are a rank-1 outer product. */
  readonly outer?: OuterRows
}

/** The factors of rank-1 rows: u[t] scales row t, v is the row (fl(0 + u[t] v[j]): a -0 product is +0). */
export interface OuterRows {
  readonly u: F
  readonly v: F
}

/** A tensor of `shape` whose only non-zero rows are `rows`, with values `rowValues` (packed). */
export const rowSparse = (shape: Shape, rows: Int32Array, rowValues: F): RowSparse => new LazyRows(shape, rows, rowValues, undefined)

/** The rows `rows` (ascending) of the outer product u v (u[t] scales row rows[t]), packed when first read. */
export const rowSparseOuter = (shape: Shape, rows: Int32Array, u: F, v: F): RowSparse => new LazyRows(shape, rows, undefined, { u, v })

const packOuter = (rows: Int32Array, { u, v }: OuterRows): F => {
  const O = v.length
  const out = new (v.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(rows.length * O)
  for (let t = 0; t < rows.length; t++) {
    const a = u[t]
    const o = t * O
    // 0 + a v[j]: gemm's sum of one term, from +0 (+0 for a -0 product), rounded once.
    for (let j = 0; j < O; j++) out[o + j] = 0 + a * v[j]
  }
  return out
}

// One class rather than an object of closures: a batch-1 step makes one per dense layer.
// Holds packed values, or the factors to pack them from (outer).
class LazyRows implements RowSparse {
  #packed: F | undefined
  #data: F | undefined
  constructor(
    readonly shape: Shape,
    readonly rows: Int32Array,
    packed: F | undefined,
    readonly outer: OuterRows | undefined,
  ) {
    this.#packed = packed
  }
  get rowValues(): F {
    return (this.#packed ??= packOuter(this.rows, this.outer as OuterRows))
  }
  get data(): F {
    if (this.#data === undefined) {
      const values = this.rowValues
      const rowLen = this.shape.slice(1).reduce((a, b) => a * b, 1)
      const full = new (values.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(this.shape[0] * rowLen)
      for (let t = 0; t < this.rows.length; t++) full.set(values.subarray(t * rowLen, (t + 1) * rowLen), this.rows[t] * rowLen)
      this.#data = full
    }
    return this.#data
  }
}

/** Whether a value is a row-sparse tensor (checked without reading its `data`). */
export const isRowSparse = (v: unknown): v is RowSparse =>
  typeof v === 'object' && v !== null && (v as Partial<RowSparse>).rows instanceof Int32Array && 'rowValues' in v

/** The packed rows of a row-sparse tensor, or undefined for any other tensor. */
export const sparseRowsOf = (t: Tensor): RowSparse | undefined => (isRowSparse(t) ? t : undefined)

const maxAbs = (d: F): number => {
  let m = 0
  for (let i = 0; i < d.length; i++) {
    const a = Math.abs(d[i])
    if (!(a <= m)) m = a < Infinity ? a : Infinity // NaN and infinities make it Infinity
  }
  return m
}

/**
 * Whether every value of a row-sparse tensor's rows is finite, given a check for packed
 * values. Rank-1 rows are judged from their factors without packing them: the largest
 * |fl(u[t] v[j])| is fl(max|u| max|v|) (rounding is monotonic), and a NaN or infinite
 * factor makes that bound non-finite too.
 */
export const rowValuesFinite = (g: RowSparse, finite: (d: F) => boolean): boolean => {
  if (g.outer === undefined) return finite(g.rowValues)
  const m = maxAbs(g.outer.u) * maxAbs(g.outer.v)
  return (g.outer.v instanceof Float32Array ? Math.fround(m) : m) < Infinity
}
