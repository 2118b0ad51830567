// Zero-input skipping in the dense layer's weight gradient (ops/dense.ts), the row-sparse
// gradient that carries it (core/row-hint.ts) and the in-place SGD rule that uses it
// (ops/optim.ts): each bit-identical to the dense computation it replaces.

import { describe, expect, it } from 'vitest'
import { isRowSparse, rowSparse, sparseRowsOf } from '../../src/core/row-hint.ts'
import { key, uniform } from '../../src/core/rng.ts'
import { isTensor, leaves } from '../../src/core/tree.ts'
import { dense } from '../../src/models/dense.ts'
import { denseBackwardParamsRows, denseNonZeroInputs } from '../../src/ops/dense.ts'
import { gemmTs } from '../../src/ops/gemm.ts'
import type { F } from '../../src/core/tensor.ts'
import { sgdRowsInPlace, sgdStep } from '../../src/ops/optim.ts'

/** The TypeScript kernels' dW = x^T dy and db (the row kernel's reference: double sums, rounded once). */
const denseBackwardParams = (dW: F, db: F, dy: F, x: F, B: number, I: number, O: number): void => {
  gemmTs(dW, x, dy, I, O, B, true, false)
  db.fill(0)
  for (let b = 0; b < B; b++) for (let j = 0; j < O; j++) db[j] += dy[b * O + j]
}

/** B x I inputs where about `zeros` of the columns are zero in every row (MNIST-like). */
const sparseInputs = (B: number, I: number, zeros: number, seed: number): Float32Array => {
  const x = uniform(key(seed), B * I, 'float32', -1, 1) as Float32Array
  const drop = uniform(key(seed + 1), I, 'float32', 0, 1)
  for (let i = 0; i < I; i++) if (drop[i] < zeros) for (let b = 0; b < B; b++) x[b * I + i] = 0
  // Some zeros that share a column with non-zeros, and a negative zero.
  x[3] = 0
  x[5] = -0
  return x
}

describe('zero-input skipping in the dense weight gradient', () => {
  for (const [B, I, O] of [
    [1, 784, 64],
    [3, 50, 10],
    [8, 40, 16], // gemm's packed path (B >= 4, I and O >= 8)
    [64, 33, 9],
  ] as const)
    it(`packs exactly the non-zero rows of gemm's dW, bit for bit (B ${B}, I ${I}, O ${O})`, () => {
      const x = sparseInputs(B, I, 0.7, B + I)
      const dy = uniform(key(O), B * O, 'float32', -1, 1) as Float32Array
      dy[1] = 0
      const dW = new Float32Array(I * O)
      const db = new Float32Array(O)
      denseBackwardParams(dW, db, dy, x, B, I, O)
      const rows = new Int32Array(I)
      const count = denseNonZeroInputs(rows, x, B, I)
      const packed = new Float32Array(count * O)
      const db2 = new Float32Array(O)
      denseBackwardParamsRows(packed, db2, dy, x, B, I, O, rows, count)
      expect(count).toBeGreaterThan(0)
      expect(count).toBeLessThan(I * 0.5)
      expect(db2).toEqual(db)
      const listed = new Set(rows.subarray(0, count))
      for (let i = 0; i < I; i++) {
        const row = dW.subarray(i * O, (i + 1) * O)
        if (listed.has(i)) continue
        for (const v of row) expect(Object.is(v, 0)).toBe(true) // exactly +0
      }
      const full = rowSparse([I, O], rows.slice(0, count), packed)
      expect(new Uint8Array(full.data.buffer)).toEqual(new Uint8Array(dW.buffer))
    })

  it("the dense layer returns it at batch 1 as a row-sparse W gradient, recognised as a tensor without building `data`", () => {
    const layer = dense(6)
    const p = { W: { shape: [20, 6], data: uniform(key(1), 120, 'float32', -1, 1) }, b: { shape: [6], data: new Float32Array(6) } }
    const x = { shape: [1, 20], data: sparseInputs(1, 20, 0.8, 4) }
    const { saved } = layer.forward(p, x, { training: true, key: key(0) })
    const dy = { shape: [1, 6], data: uniform(key(2), 6, 'float32', -1, 1) }
    const { dparams } = layer.vjp(p, saved, dy)
    const gW = dparams.W
    expect(isRowSparse(gW)).toBe(true)
    let built = false
    const probe = new Proxy(gW, { get: (t, k) => ((built ||= k === 'data'), Reflect.get(t, k)) })
    expect(isTensor(probe)).toBe(true)
    expect(leaves({ W: probe }).length).toBe(1)
    expect(built).toBe(false)
    const dW = new Float32Array(120)
    denseBackwardParams(dW, new Float32Array(6), dy.data, x.data, 1, 20, 6)
    expect(gW.data).toEqual(dW)
    expect(gW.data).toBe(gW.data) // built once, then the same array
    expect(sparseRowsOf({ shape: [2], data: new Float32Array(2) })).toBeUndefined()
  })

  it('in-place SGD on the listed rows is sgdStep bit for bit when every parameter is finite', () => {
    const I = 30
    const O = 7
    const p = uniform(key(9), I * O, 'float32', -2, 2) as Float32Array
    p[0] = -0
    const rows = Int32Array.of(1, 4, 5, 17, 29)
    const packed = uniform(key(10), rows.length * O, 'float32', -1, 1) as Float32Array
    packed[2] = 0
    packed[3] = -0
    const g = rowSparse([I, O], rows, packed)
    const want = new Float32Array(I * O)
    expect(sgdStep(want, p, g.data, I * O, 0.3, 0)).toBe(1)
    const got = Float32Array.from(p)
    expect(sgdRowsInPlace(got, packed, rows, O, 0.3)).toBe(1)
    expect(new Uint8Array(got.buffer)).toEqual(new Uint8Array(want.buffer))
    // A step that overflows float32 reports it: the learner then stops skipping rows.
    const big = Float32Array.of(3e38, 1)
    expect(sgdRowsInPlace(big, Float32Array.of(-1e38, 0), Int32Array.of(0), 2, 10)).toBe(0)
    expect(sgdStep(new Float32Array(2), Float32Array.of(3e38, 1), Float32Array.of(-1e38, 0), 2, 10, 0)).toBe(0)
  })
})
