// Parameters resident in a kernel instance's memory (ops/resident.ts) and the batch-1 SIMD
// kernels that read and update them in place (kernels.wat, sgd_outer and dense_row): the
// same bits as the TypeScript twins, whichever memory the parameters live in.

import { describe, expect, it } from 'vitest'
import { key, uniform } from '../../src/core/rng.ts'
import type { F } from '../../src/core/tensor.ts'
import { sgdOuterRowsInPlace, sgdStep } from '../../src/ops/optim.ts'
import { residentFloats, residentOf } from '../../src/ops/resident.ts'
import { rowSparseOuter } from '../../src/core/row-hint.ts'
import { denseForwardRow, denseForwardRows, denseNonZeroInputs } from '../../src/ops/dense.ts'
import { withKernelBackend } from '../../src/ops/backend.ts'

const bits = (a: F): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

/** A resident copy of `a` at element offset `at` of a resident buffer of n floats. */
const residentCopy = (a: Float32Array, n: number, at: number): Float32Array => {
  const all = residentFloats(n, 2 * n + 16)
  if (all === undefined) throw new Error('this engine has no WebAssembly')
  const view = all.subarray(at, at + a.length)
  view.set(a)
  return view
}

describe('resident parameters', () => {
  it('are views of their own instance memory, recognised by the kernels; plain arrays are not', () => {
    const a = residentFloats(10, 36)!
    const b = residentFloats(10, 36)!
    expect(a.length).toBe(10)
    // (Compared as booleans: the matchers would format a megabyte of memory.)
    expect(a.buffer === b.buffer).toBe(false)
    expect(residentOf(a.subarray(3)) === residentOf(a)).toBe(true)
    expect(residentOf(a) === residentOf(b)).toBe(false)
    expect(residentOf(new Float32Array(10))).toBeUndefined()
    expect(residentOf(new Float64Array(10))).toBeUndefined()
    expect(Array.from(a)).toEqual(new Array(10).fill(0))
    // A copy made from a resident view is an ordinary array (what a snapshot holds).
    expect(residentOf(a.slice())).toBeUndefined()
  })

  for (const O of [64, 10, 7, 3])
    it(`take SGD on rank-1 rows in the kernel with the twin's bits and sgdStep's (O ${O})`, () => {
      const R = 40
      const n = R * O
      const p0 = uniform(key(O), n, 'float32', -2, 2) as Float32Array
      const rows = Int32Array.of(0, 3, 4, 9, 10, 11, 25, 39)
      const u = uniform(key(O + 1), rows.length, 'float32', -1, 1) as Float32Array
      const v = uniform(key(O + 2), O, 'float32', -1, 1) as Float32Array
      // Zeros of both signs in v, a zero u, underflowing products, signed-zero parameters.
      v[0] = 0
      v[Math.min(2, O - 1)] = -0
      u[1] = 0
      u[2] = 1e-30
      u[3] = -1e-30
      v[1] = 1e-20
      for (const r of [4, 9]) for (let j = 0; j < O; j++) p0[r * O + j] = j % 2 ? -0 : 0
      for (const lr of [0.3, 0.01, 1e-3]) {
        const twin = Float32Array.from(p0)
        expect(sgdOuterRowsInPlace(twin, u, v, rows, O, lr, new Int32Array(O))).toBe(1)
        const want = new Float32Array(n)
        expect(sgdStep(want, p0, rowSparseOuter([R, O], rows, u, v).data, n, lr, 0)).toBe(1)
        expect(bits(twin)).toEqual(bits(want))
        for (const at of [0, 5]) {
          const res = residentCopy(p0, n + 8, at)
          expect(residentOf(res) !== undefined).toBe(true)
          expect(sgdOuterRowsInPlace(res, u, v, rows, O, lr, new Int32Array(O))).toBe(1)
          expect(bits(res)).toEqual(bits(want))
        }
      }
      // Overflow is reported by the kernel as by the twin.
      const big = Float32Array.from(p0)
      big[3 * O + 1] = -3e38
      const vb = Float32Array.from(v)
      vb[1] = 1e30
      const ub = Float32Array.from(u)
      ub[1] = 1e8
      const res = residentCopy(big, n, 0)
      expect(sgdOuterRowsInPlace(res, ub, vb, rows, O, 10, new Int32Array(O))).toBe(0)
      const twin = Float32Array.from(big)
      expect(sgdOuterRowsInPlace(twin, ub, vb, rows, O, 10, new Int32Array(O))).toBe(0)
      expect(bits(res)).toEqual(bits(twin))
    })

  for (const O of [64, 10, 20, 19, 3])
    it(`run the batch-1 forward in the kernel with the twin's bits, on either backend (O ${O})`, () => {
      const I = 120
      const x = uniform(key(O + 5), I, 'float32', -1, 1) as Float32Array
      for (let i = 0; i < I; i++) if (i % 3 !== 0) x[i] = 0
      x[3] = -0
      x[6] = 1e-30
      const W0 = uniform(key(O + 6), I * O, 'float32', -1, 1) as Float32Array
      const b0 = uniform(key(O + 7), O, 'float32', -1, 1) as Float32Array
      const rows = new Int32Array(I)
      const count = denseNonZeroInputs(rows, x, 1, I)
      const twin = new Float32Array(O)
      denseForwardRows(twin, x, W0, b0, O, rows, count)
      // The twin: double sums over the listed inputs, rounded once, then the bias in float32.
      const f = Math.fround
      for (let j = 0; j < O; j++) {
        let s = 0
        for (let i = 0; i < I; i++) if (x[i] !== 0) s += x[i] * W0[i * O + j]
        expect(Object.is(twin[j], f(f(s) + b0[j]))).toBe(true)
      }
      const all = residentFloats(I * O + O + 1, 2 * (I * O + O + 1) + 16)!
      const W = all.subarray(1, 1 + I * O) // not 16-byte aligned
      const b = all.subarray(1 + I * O)
      W.set(W0)
      b.set(b0)
      for (const backend of ['simd', 'ts'] as const) {
        const got = new Float32Array(O)
        withKernelBackend(backend, () => denseForwardRow(got, x, W, b, O, rows, count))
        expect(bits(got)).toEqual(bits(twin))
        const plain = new Float32Array(O)
        withKernelBackend(backend, () => denseForwardRow(plain, x, W0, b0, O, rows, count))
        expect(bits(plain)).toEqual(bits(twin))
      }
    })

  it('copies plain parameters into the kernel memory when 3 in 10 inputs or more are listed, with the twin\'s bits', () => {
    for (const [I, O, every] of [[256, 120, 1], [256, 120, 2], [100, 16, 3], [784, 64, 5]]) {
      const x = uniform(key(I + O), I, 'float32', -1, 1) as Float32Array
      for (let i = 0; i < I; i++) if (i % every !== 0) x[i] = 0
      const W = uniform(key(I + O + 1), I * O, 'float32', -1, 1) as Float32Array
      const b = uniform(key(I + O + 2), O, 'float32', -1, 1) as Float32Array
      const rows = new Int32Array(I)
      const count = denseNonZeroInputs(rows, x, 1, I)
      const twin = new Float32Array(O)
      denseForwardRows(twin, x, W, b, O, rows, count)
      const got = new Float32Array(O).fill(NaN)
      withKernelBackend('simd', () => denseForwardRow(got, x, W, b, O, rows, count))
      expect(bits(got), `${I}x${O}, ${count} listed`).toEqual(bits(twin))
    }
  })
})
