// A gradient that knows which of its rows can be non-zero. A dense layer's weight
// gradient dW = x^T dy has an exactly-zero row for every input that is zero in the whole
// batch (MNIST pixels at batch 1: ~80% of them), and a step that touches only the other
// rows is what makes a batch-1 online update cheap. Such a gradient carries its non-zero
// rows packed (`rows`, `rowValues`); its `data` is built from them on first read (and
// kept), so a consumer that uses the packed rows (the in-place SGD rule, the learner's
// finiteness check) never pays for the full array, and every other consumer sees an
// ordinary tensor with the same bits. From outside it is an immutable value.

import type { F, Shape, Tensor } from './tensor.ts'

export interface RowSparse extends Tensor {
  /** Ascending indices along axis 0 of the rows that may be non-zero; every other row is exactly +0. */
  readonly rows: Int32Array
  /** Those rows' values, packed: rows.length x (elements per row). */
  readonly rowValues: F
}

/** A tensor of `shape` whose only non-zero rows are `rows`, with values `rowValues` (packed). */
export const rowSparse = (shape: Shape, rows: Int32Array, rowValues: F): RowSparse => {
  let data: F | undefined
  const rowLen = shape.slice(1).reduce((a, b) => a * b, 1)
  return {
    shape,
    rows,
    rowValues,
    get data(): F {
      if (data === undefined) {
        const full = new (rowValues.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(shape[0] * rowLen)
        for (let t = 0; t < rows.length; t++) full.set(rowValues.subarray(t * rowLen, (t + 1) * rowLen), rows[t] * rowLen)
        data = full
      }
      return data
    },
  }
}

/** Whether a value is a row-sparse tensor (checked without reading its `data`). */
export const isRowSparse = (v: unknown): v is RowSparse =>
  (v as Partial<RowSparse>).rows instanceof Int32Array && ArrayBuffer.isView((v as Partial<RowSparse>).rowValues)

/** The packed rows of a row-sparse tensor, or undefined for any other tensor. */
export const sparseRowsOf = (t: Tensor): RowSparse | undefined => (isRowSparse(t) ? t : undefined)
