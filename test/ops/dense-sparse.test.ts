// Zero-input skipping in the dense layer's weight gradient (ops/dense.ts), the row-sparse
// gradient that carries it (core/row-hint.ts) and the in-place SGD rule that uses it
// (ops/optim.ts): each bit-identical to the dense computation it replaces.

import { describe, expect, it } from 'vitest'
import { isRowSparse, rowSparse, rowSparseOuter, rowValuesFinite, sparseRowsOf } from '../../src/core/row-hint.ts'
import { key, uniform } from '../../src/core/rng.ts'
import { isTensor, leaves } from '../../src/core/tree.ts'
import { dense } from '../../src/models/dense.ts'
import { denseBackwardParams, denseForward, denseForwardRows, denseNonZeroInputs } from '../../src/ops/dense.ts'
import type { F } from '../../src/core/tensor.ts'
import { sgdOuterRowsInPlace, sgdRowsInPlace, sgdStep } from '../../src/ops/optim.ts'
import { allFinite } from '../../src/streams/steps.ts'
import { withKernelBackend } from '../../src/ops/backend.ts'


const bits = (a: F): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

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
  for (const [I, O] of [
    [784, 64],
    [50, 10],
    [33, 9],
  ] as const)
    it(`packs exactly the non-zero rows of gemm's dW at batch 1, bit for bit, on either backend (I ${I}, O ${O})`, () => {
      const x = sparseInputs(1, I, 0.7, I)
      const dy = uniform(key(O), O, 'float32', -1, 1) as Float32Array
      dy[1] = 0
      const rows = new Int32Array(I)
      const count = denseNonZeroInputs(rows, x, 1, I)
      expect(count).toBeGreaterThan(0)
      expect(count).toBeLessThan(I * 0.5)
      const listed = rows.slice(0, count)
      const g = rowSparseOuter([I, O], listed, Float32Array.from(listed, (i) => x[i]), dy)
      for (const backend of ['ts', 'simd'] as const) {
        const dW = new Float32Array(I * O)
        const db = new Float32Array(O)
        withKernelBackend(backend, () => denseBackwardParams(dW, db, dy, x, 1, I, O))
        expect(db).toEqual(dy)
        const set = new Set(listed)
        for (let i = 0; i < I; i++) {
          if (set.has(i)) continue
          for (const v of dW.subarray(i * O, (i + 1) * O)) expect(Object.is(v, 0)).toBe(true) // exactly +0
        }
        expect(bits(g.data)).toEqual(bits(dW))
      }
      const repacked = rowSparse([I, O], listed, g.rowValues)
      expect(bits(repacked.data)).toEqual(bits(g.data))
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
    withKernelBackend('ts', () => denseBackwardParams(dW, new Float32Array(6), dy.data, x.data, 1, 20, 6))
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

  for (const O of [64, 10, 13, 5])
    it(`the batch-1 forward over the non-zero inputs is denseForward bit for bit, on either backend (O ${O})`, () => {
      const I = 300
      const x = sparseInputs(1, I, 0.8, O)
      x[7] = 1e-30 // tiny, non-zero: listed
      const W = uniform(key(O + 1), I * O, 'float32', -1, 1) as Float32Array
      const b = uniform(key(O + 2), O, 'float32', -1, 1) as Float32Array
      const rows = new Int32Array(I)
      const count = denseNonZeroInputs(rows, x, 1, I)
      expect(rows.subarray(0, count)).toContain(7)
      const got = new Float32Array(O)
      denseForwardRows(got, x, W, b, O, rows, count)
      for (const backend of ['ts', 'simd'] as const) {
        const want = new Float32Array(O)
        withKernelBackend(backend, () => denseForward(want, x, W, b, 1, I, O))
        expect(bits(got)).toEqual(bits(want))
      }
      // In double: a reference sum over all inputs agrees to rounding.
      for (let j = 0; j < O; j++) {
        let s = 0
        for (let i = 0; i < I; i++) s += x[i] * W[i * O + j]
        expect(got[j]).toBeCloseTo(s + b[j], 5)
      }
    })

  it('rank-1 rows (x[i] dy) pack to the row kernel\'s bits, and SGD applies them in one pass with sgdStep\'s bits', () => {
    const I = 200
    const O = 24
    const x = sparseInputs(1, I, 0.75, 31)
    x[9] = 1e-30 // products that underflow to zero, with both signs
    x[10] = -1e-30
    const dy = uniform(key(32), O, 'float32', -1, 1) as Float32Array
    dy[0] = 0
    dy[1] = -0
    dy[2] = -1e-20
    dy[3] = 1e-20
    const rows = new Int32Array(I)
    const count = denseNonZeroInputs(rows, x, 1, I)
    const listed = rows.slice(0, count)
    const u = Float32Array.from(listed, (i) => x[i])
    const g = rowSparseOuter([I, O], listed, u, dy)
    expect(g.outer?.u).toBe(u)
    // The row kernel's values: 0 + x[i] dy[j] in double, rounded once (a -0 product is +0).
    const packed = new Float32Array(count * O)
    for (let t = 0; t < count; t++) for (let j = 0; j < O; j++) packed[t * O + j] = 0 + u[t] * dy[j]
    expect(bits(g.rowValues)).toEqual(bits(packed))
    expect(g.rowValues).toBe(g.rowValues) // packed once
    expect(rowValuesFinite(g, allFinite)).toBe(true)
    const p = uniform(key(33), I * O, 'float32', -2, 2) as Float32Array
    // Signed zeros where the gradient is a signed zero or an underflowed product.
    for (const r of [9, 10]) for (const j of [0, 1, 2, 3]) p[r * O + j] = -0
    p[9 * O + 4] = 0
    for (const lr of [0.3, 1e-3]) {
      const want = new Float32Array(I * O)
      expect(sgdStep(want, p, g.data, I * O, lr, 0)).toBe(1)
      const got = Float32Array.from(p)
      expect(sgdOuterRowsInPlace(got, u, dy, listed, O, lr, new Int32Array(O))).toBe(1)
      const viaPacked = Float32Array.from(p)
      sgdRowsInPlace(viaPacked, packed, listed, O, lr)
      expect(bits(got)).toEqual(bits(viaPacked))
    }
    // An update that overflows float32 is reported.
    expect(sgdOuterRowsInPlace(Float32Array.of(-3e38, 1), Float32Array.of(1e30), Float32Array.of(1e8, 0), Int32Array.of(0), 2, 10, new Int32Array(2))).toBe(0)
  })

  it('judges rank-1 rows finite from their factors, without packing them', () => {
    const finite = (u: number[], v: number[]): boolean => rowValuesFinite(rowSparseOuter([u.length, v.length], Int32Array.from(u, (_, i) => i), Float32Array.from(u), Float32Array.from(v)), allFinite)
    expect(finite([1, -2], [3, 4])).toBe(true)
    expect(finite([1e20, 1], [1e20, 0])).toBe(false) // fl(1e40) = Infinity
    expect(finite([1e20, 1], [1e10, 1e-30])).toBe(true)
    expect(finite([1e20, 1], [0, 1e30])).toBe(false) // 1e20 x 1e30
    expect(finite([Infinity], [0])).toBe(false) // NaN
    expect(finite([NaN], [1])).toBe(false)
    expect(finite([1], [Infinity])).toBe(false)
    expect(finite([0.5], [-Infinity, 0])).toBe(false)
  })
})
