// The conv2d kernels against a direct-loop reference written straight from the formula
// (conformance/README.md, conv2d): random shapes with odd sizes, strides 1-3 per axis,
// 'valid' / 'same' / explicit padding, flip, sparse connection tables.

import { describe, expect, it } from 'vitest'
import type { Conv2dGeometry } from '../../src/ops/conv2d.ts'
import { conv2dBackwardInput, conv2dBackwardParams, conv2dForward, samePadding } from '../../src/ops/conv2d.ts'
import { bits, key, normal, uniform } from '../../src/core/rng.ts'
import type { F } from '../../src/core/tensor.ts'
import type { KernelBackend } from '../../src/ops/backend.ts'
import { withKernelBackend } from '../../src/ops/backend.ts'
import { gemmF32 } from '../../src/ops/gemm-simd.ts'
import { wasmMemoryBytes } from '../../src/ops/wasm/instance.ts'

// ---- the reference -------------------------------------------------------------------

interface Case {
  readonly g: Conv2dGeometry
  readonly flip: boolean
  readonly table: Uint8Array | null
}

/** k'[p,q,c,o] as the README defines it. */
const kPrime = (k: ArrayLike<number>, { g, flip, table }: Case, p: number, q: number, c: number, o: number): number => {
  const { kh, kw, C, O } = g
  if (table !== null && table[c * O + o] === 0) return 0
  const pp = flip ? kh - 1 - p : p
  const qq = flip ? kw - 1 - q : q
  return k[((pp * kw + qq) * C + c) * O + o]
}

/** y[n,i,j,o] = b[o] + sum_{p,q,c} x[n, i*sh+p-top, j*sw+q-left, c] k'[p,q,c,o], 0 outside. */
function refForward(x: ArrayLike<number>, k: ArrayLike<number>, b: ArrayLike<number>, cs: Case): Float64Array {
  const { B, H, W, C, O, kh, kw, sh, sw, top, left, Ho, Wo } = cs.g
  const y = new Float64Array(B * Ho * Wo * O)
  for (let n = 0; n < B; n++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++)
        for (let o = 0; o < O; o++) {
          let s = b[o]
          for (let p = 0; p < kh; p++)
            for (let q = 0; q < kw; q++)
              for (let c = 0; c < C; c++) {
                const h = i * sh + p - top
                const w = j * sw + q - left
                if (h < 0 || h >= H || w < 0 || w >= W) continue
                s += x[((n * H + h) * W + w) * C + c] * kPrime(k, cs, p, q, c, o)
              }
          y[((n * Ho + i) * Wo + j) * O + o] = s
        }
  return y
}

/** The vjp of refForward, by the chain rule on each term: dx, dk (w.r.t. the stored k), db. */
function refBackward(
  x: ArrayLike<number>,
  k: ArrayLike<number>,
  dy: ArrayLike<number>,
  cs: Case,
): { dx: Float64Array; dk: Float64Array; db: Float64Array } {
  const { B, H, W, C, O, kh, kw, sh, sw, top, left, Ho, Wo } = cs.g
  const dx = new Float64Array(B * H * W * C)
  const dk = new Float64Array(kh * kw * C * O)
  const db = new Float64Array(O)
  for (let n = 0; n < B; n++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++)
        for (let o = 0; o < O; o++) {
          const d = dy[((n * Ho + i) * Wo + j) * O + o]
          db[o] += d
          for (let p = 0; p < kh; p++)
            for (let q = 0; q < kw; q++)
              for (let c = 0; c < C; c++) {
                const h = i * sh + p - top
                const w = j * sw + q - left
                if (h < 0 || h >= H || w < 0 || w >= W) continue
                const xi = ((n * H + h) * W + w) * C + c
                dx[xi] += d * kPrime(k, cs, p, q, c, o)
                if (cs.table !== null && cs.table[c * O + o] === 0) continue
                const pp = cs.flip ? kh - 1 - p : p
                const qq = cs.flip ? kw - 1 - q : q
                dk[((pp * kw + qq) * C + c) * O + o] += d * x[xi]
              }
        }
  return { dx, dk, db }
}

// ---- random cases --------------------------------------------------------------------

/** A deterministic stream of small integers from a seed. */
const ints = (seed: number) => {
  const w = bits(key(seed), 64)
  let i = 0
  return (lo: number, hi: number): number => lo + (w[i++ % w.length] % (hi - lo + 1))
}

type PadMode = 'valid' | 'same' | 'explicit'

function randomCase(seed: number, mode: PadMode): Case {
  const r = ints(seed)
  const kh = r(1, 5)
  const kw = r(1, 5)
  const sh = r(1, 3)
  const sw = r(1, 3)
  const C = r(1, 5)
  const O = r(1, 7)
  const B = r(1, 3)
  let H: number, W: number, top: number, left: number, Ho: number, Wo: number
  if (mode === 'same') {
    H = r(1, 11)
    W = r(1, 11)
    ;[top] = samePadding(H, kh, sh)
    ;[left] = samePadding(W, kw, sw)
    Ho = Math.ceil(H / sh)
    Wo = Math.ceil(W / sw)
  } else {
    // choose the output size and padding, then the input size that divides exactly
    Ho = r(1, 5)
    Wo = r(1, 5)
    top = mode === 'explicit' ? r(0, 2) : 0
    left = mode === 'explicit' ? r(0, 2) : 0
    const bottom = mode === 'explicit' ? r(0, 2) : 0
    const right = mode === 'explicit' ? r(0, 2) : 0
    H = Math.max(1, (Ho - 1) * sh + kh - top - bottom)
    W = Math.max(1, (Wo - 1) * sw + kw - left - right)
    Ho = Math.floor((H + top + bottom - kh) / sh) + 1
    Wo = Math.floor((W + left + right - kw) / sw) + 1
    if (H + top + bottom < kh || W + left + right < kw) return randomCase(seed + 1000, mode)
  }
  const flip = r(0, 1) === 1
  let table: Uint8Array | null = null
  if (r(0, 2) === 0) {
    const u = uniform(key(seed + 7), C * O, 'float64')
    table = Uint8Array.from(u, (v) => (v < 0.6 ? 1 : 0))
  }
  return { g: { B, H, W, C, O, kh, kw, sh, sw, top, left, Ho, Wo }, flip, table }
}

const randn = (seed: number, n: number, dtype: 'float32' | 'float64' = 'float64'): F => normal(key(seed), n, dtype)

const relErr = (got: ArrayLike<number>, want: ArrayLike<number>): number => {
  expect(got.length).toBe(want.length)
  let d = 0
  let m = 1e-30
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]))
    m = Math.max(m, Math.abs(want[i]))
  }
  return d / m
}

const sizes = ({ g }: Case) => ({
  nx: g.B * g.H * g.W * g.C,
  nk: g.kh * g.kw * g.C * g.O,
  ny: g.B * g.Ho * g.Wo * g.O,
})

/** Runs the three kernels in the given precision; outputs as plain arrays. */
function runKernels(cs: Case, x: F, k: F, b: F, dy: F) {
  const { nx, nk, ny } = sizes(cs)
  const mk = (n: number): F => (x instanceof Float64Array ? new Float64Array(n) : new Float32Array(n))
  const y = mk(ny)
  const dx = mk(nx)
  const dk = mk(nk)
  const db = mk(cs.g.O)
  conv2dForward(y, x, k, b, cs.g, cs.flip, cs.table)
  conv2dBackwardParams(dk, db, dy, x, cs.g, cs.flip, cs.table)
  conv2dBackwardInput(dx, dy, k, cs.g, cs.flip, cs.table)
  return { y, dx, dk, db }
}

describe('samePadding (TensorFlow rule)', () => {
  it('matches the rule on the conformance shapes and edge cases', () => {
    // conv2d_same_stride2: x 7x8, k 3x3, stride 2 -> resolved [1, 1, 0, 1]
    expect(samePadding(7, 3, 2)).toEqual([1, 1])
    expect(samePadding(8, 3, 2)).toEqual([0, 1])
    // conv2d_sparse_table_same: x 6x7, k 3x3, stride [1, 2] -> [1, 1, 1, 1]
    expect(samePadding(6, 3, 1)).toEqual([1, 1])
    expect(samePadding(7, 3, 2)).toEqual([1, 1])
    // even kernel, stride 1: the extra goes after
    expect(samePadding(5, 4, 1)).toEqual([1, 2])
    // kernel smaller than the stride: no padding, last rows unused
    expect(samePadding(8, 1, 2)).toEqual([0, 0])
  })
})

describe('conv2d kernels vs the direct-loop reference (Float64)', () => {
  const modes: PadMode[] = ['valid', 'same', 'explicit']
  for (const mode of modes)
    it(`${mode} padding: forward, dx, dk, db on 40 random geometries agree to 1e-12`, () => {
      let flips = 0
      let tables = 0
      let strided = 0
      for (let s = 0; s < 40; s++) {
        const cs = randomCase(1000 * modes.indexOf(mode) + s, mode)
        const { nx, nk, ny } = sizes(cs)
        const x = randn(3 * s + 1, nx)
        const k = randn(3 * s + 2, nk)
        const b = randn(3 * s + 3, cs.g.O)
        const dy = randn(3 * s + 4, ny)
        const got = runKernels(cs, x, k, b, dy)
        const want = refBackward(x, k, dy, cs)
        expect(relErr(got.y, refForward(x, k, b, cs))).toBeLessThan(1e-12)
        expect(relErr(got.dx, want.dx)).toBeLessThan(1e-12)
        expect(relErr(got.dk, want.dk)).toBeLessThan(1e-12)
        expect(relErr(got.db, want.db)).toBeLessThan(1e-12)
        if (cs.flip) flips++
        if (cs.table) tables++
        if (cs.g.sh > 1 || cs.g.sw > 1) strided++
      }
      // the random cases really cover the options
      expect(flips).toBeGreaterThan(5)
      expect(tables).toBeGreaterThan(5)
      expect(strided).toBeGreaterThan(10)
    })

  it('handles the shapes of the benchmark CNN (batch 32, 5x5 kernels, 1->8 and 8->16 channels)', () => {
    for (const [H, C, O] of [
      [28, 1, 8],
      [12, 8, 16],
    ]) {
      const cs: Case = {
        g: { B: 3, H, W: H, C, O, kh: 5, kw: 5, sh: 1, sw: 1, top: 0, left: 0, Ho: H - 4, Wo: H - 4 },
        flip: false,
        table: null,
      }
      const { nx, nk, ny } = sizes(cs)
      const [x, k, b, dy] = [randn(1, nx), randn(2, nk), randn(3, O), randn(4, ny)]
      const got = runKernels(cs, x, k, b, dy)
      const want = refBackward(x, k, dy, cs)
      expect(relErr(got.y, refForward(x, k, b, cs))).toBeLessThan(1e-12)
      expect(relErr(got.dx, want.dx)).toBeLessThan(1e-12)
      expect(relErr(got.dk, want.dk)).toBeLessThan(1e-12)
    }
  })

  it('processes a batch of large images a few at a time (bounded scratch) with the same results', () => {
    // two padded 240x240x13 images fill the per-call scratch limit (2^21 elements), so the
    // batch of 3 runs as chunks of 2 and 1 images
    for (const dtype of ['float64', 'float32'] as const) {
      const cs: Case = {
        g: { B: 3, H: 239, W: 239, C: 13, O: 3, kh: 2, kw: 2, sh: 2, sw: 2, top: 1, left: 1, Ho: 120, Wo: 120 },
        flip: true,
        table: Uint8Array.from({ length: 39 }, (_, e) => (e % 5 === 0 ? 0 : 1)),
      }
      const { nx, nk, ny } = sizes(cs)
      const [x, k, b, dy] = [randn(1, nx, dtype), randn(2, nk, dtype), randn(3, 3, dtype), randn(4, ny, dtype)]
      const got = runKernels(cs, x, k, b, dy)
      const want = refBackward(x, k, dy, cs)
      const tol = dtype === 'float64' ? 1e-12 : 1e-5
      expect(relErr(got.y, refForward(x, k, b, cs))).toBeLessThan(tol)
      expect(relErr(got.dx, want.dx)).toBeLessThan(tol)
      expect(relErr(got.dk, want.dk)).toBeLessThan(tol)
      expect(relErr(got.db, want.db)).toBeLessThan(tol)
    }
  })

  it("'same' with a kernel smaller than the stride leaves the last rows unread (their gradient is 0)", () => {
    const cs: Case = {
      g: { B: 1, H: 8, W: 5, C: 2, O: 3, kh: 1, kw: 1, sh: 3, sw: 2, top: 0, left: 0, Ho: 3, Wo: 3 },
      flip: false,
      table: null,
    }
    const { nx, nk, ny } = sizes(cs)
    const [x, k, b, dy] = [randn(5, nx), randn(6, nk), randn(7, 3), randn(8, ny)]
    const got = runKernels(cs, x, k, b, dy)
    const want = refBackward(x, k, dy, cs)
    expect(relErr(got.y, refForward(x, k, b, cs))).toBeLessThan(1e-12)
    expect(relErr(got.dx, want.dx)).toBeLessThan(1e-12)
    // row 7 of the image is never read
    for (let w = 0; w < 5; w++) for (let c = 0; c < 2; c++) expect(got.dx[(7 * 5 + w) * 2 + c]).toBe(0)
  })
})

describe('conv2d kernels: tables, precision, purity', () => {
  it('the kernel gradient is exactly 0 at absent table pairs, even where the stored k is not 0', () => {
    const cs = randomCase(77, 'same')
    const O = cs.g.O
    const C = cs.g.C
    const table = Uint8Array.from({ length: C * O }, (_, e) => (e % 3 === 1 ? 0 : 1))
    const c2: Case = { ...cs, table }
    const { nx, nk, ny } = sizes(c2)
    const [x, k, b, dy] = [randn(1, nx), randn(2, nk), randn(3, O), randn(4, ny)]
    const got = runKernels(c2, x, k, b, dy)
    let zeros = 0
    for (let t = 0; t < c2.g.kh * c2.g.kw; t++)
      for (let e = 0; e < C * O; e++)
        if (table[e] === 0) {
          expect(Object.is(got.dk[t * C * O + e], 0)).toBe(true)
          expect(k[t * C * O + e]).not.toBe(0)
          zeros++
        }
    expect(zeros).toBeGreaterThan(0)
    // and the absent entries of k have no effect on y
    const k2 = Float64Array.from(k)
    for (let t = 0; t < c2.g.kh * c2.g.kw; t++) for (let e = 0; e < C * O; e++) if (table[e] === 0) k2[t * C * O + e] = 1e6
    const y2 = new Float64Array(ny)
    conv2dForward(y2, x, k2, b, c2.g, c2.flip, table)
    expect(Array.from(y2)).toEqual(Array.from(got.y))
  })

  it('Float32 storage agrees with the Float64 reference to float32 precision', () => {
    for (let s = 0; s < 12; s++) {
      const cs = randomCase(500 + s, s % 3 === 0 ? 'valid' : s % 3 === 1 ? 'same' : 'explicit')
      const { nx, nk, ny } = sizes(cs)
      const [x, k, b, dy] = [randn(1 + s, nx, 'float32'), randn(2 + s, nk, 'float32'), randn(3 + s, cs.g.O, 'float32'), randn(4 + s, ny, 'float32')]
      const got = runKernels(cs, x, k, b, dy)
      expect(got.y).toBeInstanceOf(Float32Array)
      const want = refBackward(x, k, dy, cs)
      expect(relErr(got.y, refForward(x, k, b, cs))).toBeLessThan(1e-5)
      expect(relErr(got.dx, want.dx)).toBeLessThan(1e-5)
      expect(relErr(got.dk, want.dk)).toBeLessThan(1e-5)
      expect(relErr(got.db, want.db)).toBeLessThan(1e-5)
    }
  })

  it('writes only its outputs (inputs are byte-identical afterwards) and is deterministic', () => {
    const cs = randomCase(91, 'explicit')
    const { nx, nk, ny } = sizes(cs)
    const [x, k, b, dy] = [randn(1, nx, 'float32'), randn(2, nk, 'float32'), randn(3, cs.g.O, 'float32'), randn(4, ny, 'float32')]
    const before = [x, k, b, dy].map((a) => Array.from(a))
    const first = runKernels(cs, x, k, b, dy)
    // another geometry in between reuses (and grows) the module scratch
    const other = randomCase(92, 'same')
    const o = sizes(other)
    runKernels(other, randn(5, o.nx, 'float32'), randn(6, o.nk, 'float32'), randn(7, other.g.O, 'float32'), randn(8, o.ny, 'float32'))
    const second = runKernels(cs, x, k, b, dy)
    expect([x, k, b, dy].map((a) => Array.from(a))).toEqual(before)
    for (const name of ['y', 'dx', 'dk', 'db'] as const) expect(Array.from(second[name])).toEqual(Array.from(first[name]))
  })

  it('overwrites its outputs (no dependence on what they held)', () => {
    const cs = randomCase(33, 'valid')
    const { nx, nk, ny } = sizes(cs)
    const [x, k, b, dy] = [randn(1, nx), randn(2, nk), randn(3, cs.g.O), randn(4, ny)]
    const clean = runKernels(cs, x, k, b, dy)
    const y = new Float64Array(ny).fill(7)
    const dx = new Float64Array(nx).fill(7)
    const dk = new Float64Array(nk).fill(7)
    const db = new Float64Array(cs.g.O).fill(7)
    conv2dForward(y, x, k, b, cs.g)
    conv2dBackwardParams(dk, db, dy, x, cs.g)
    conv2dBackwardInput(dx, dy, k, cs.g)
    expect(Array.from(y)).toEqual(Array.from(clean.y))
    expect(Array.from(dx)).toEqual(Array.from(clean.dx))
    expect(Array.from(dk)).toEqual(Array.from(clean.dk))
    expect(Array.from(db)).toEqual(Array.from(clean.db))
  })
})

describe('conv2d on the SIMD backend (conv2d-simd.ts)', () => {
  const onBackend = (backend: KernelBackend, cs: Case, x: F, k: F, b: F, dy: F) => withKernelBackend(backend, () => runKernels(cs, x, k, b, dy))

  it('agrees with the TypeScript backend to 1e-5 relative on random shapes, strides and paddings', () => {
    for (let s = 0; s < 60; s++) {
      const cs = randomCase(900 + s, s % 3 === 0 ? 'valid' : s % 3 === 1 ? 'same' : 'explicit')
      const { nx, nk, ny } = sizes(cs)
      const [x, k, b, dy] = [randn(1 + s, nx, 'float32'), randn(2 + s, nk, 'float32'), randn(3 + s, cs.g.O, 'float32'), randn(4 + s, ny, 'float32')]
      const simd = onBackend('simd', cs, x, k, b, dy)
      const ts = onBackend('ts', cs, x, k, b, dy)
      for (const name of ['y', 'dx', 'dk', 'db'] as const) expect(relErr(simd[name], ts[name]), `case ${s} ${name}`).toBeLessThan(1e-5)
    }
  })

  it('computes the forward pass as the float32 GEMM of the im2col matrix, bit for bit', () => {
    for (let s = 0; s < 10; s++) {
      const cs = randomCase(1300 + s, s % 2 === 0 ? 'same' : 'explicit')
      const { g, flip, table } = cs
      const { nx, nk, ny } = sizes(cs)
      const [x, k, b] = [randn(1 + s, nx, 'float32'), randn(2 + s, nk, 'float32'), randn(3 + s, g.O, 'float32')]
      const K = g.kh * g.kw * g.C
      const M = g.B * g.Ho * g.Wo
      const A = new Float32Array(M * K)
      const kp = new Float32Array(K * g.O)
      for (let n = 0, r = 0; n < g.B; n++)
        for (let i = 0; i < g.Ho; i++)
          for (let j = 0; j < g.Wo; j++, r++)
            for (let p = 0, t = 0; p < g.kh; p++)
              for (let q = 0; q < g.kw; q++)
                for (let c = 0; c < g.C; c++, t++) {
                  const h = i * g.sh + p - g.top
                  const w = j * g.sw + q - g.left
                  A[r * K + t] = h >= 0 && h < g.H && w >= 0 && w < g.W ? x[((n * g.H + h) * g.W + w) * g.C + c] : 0
                  for (let o = 0; o < g.O; o++) kp[t * g.O + o] = kPrime(k, cs, p, q, c, o)
                }
      const s32 = new Float32Array(M * g.O)
      gemmF32(s32, A, kp, M, g.O, K)
      const want = Float32Array.from(s32, (v, e) => v + b[e % g.O])
      const got = new Float32Array(ny)
      withKernelBackend('simd', () => conv2dForward(got, x, k, b, g, flip, table))
      expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), `case ${s}`).toBe(true)
    }
  })

  it('processes a batch of large images a few at a time, agreeing with the TypeScript backend', () => {
    // 70 images of 64 x 64 x 8 exceed one chunk (imagesPerChunk), and a 3 x 3 kernel
    // with 8 x 16 channels makes a 288-deep reduction (two slabs) in the forward pass.
    const g: Conv2dGeometry = { B: 70, H: 64, W: 64, C: 8, O: 16, kh: 3, kw: 3, sh: 1, sw: 1, top: 1, left: 1, Ho: 64, Wo: 64 }
    const cs: Case = { g, flip: false, table: null }
    const { nx, nk, ny } = sizes(cs)
    const [x, k, b, dy] = [randn(1, nx, 'float32'), randn(2, nk, 'float32'), randn(3, g.O, 'float32'), randn(4, ny, 'float32')]
    const simd = onBackend('simd', cs, x, k, b, dy)
    const ts = onBackend('ts', cs, x, k, b, dy)
    for (const name of ['y', 'dx', 'dk', 'db'] as const) expect(relErr(simd[name], ts[name]), name).toBeLessThan(1e-5)
  })

  it('does not grow its memory when the same shapes come again, and results are copies', () => {
    const g: Conv2dGeometry = { B: 32, H: 28, W: 28, C: 1, O: 8, kh: 5, kw: 5, sh: 1, sw: 1, top: 0, left: 0, Ho: 24, Wo: 24 }
    const cs: Case = { g, flip: false, table: null }
    const { nx, nk, ny } = sizes(cs)
    const [x, k, b, dy] = [randn(1, nx, 'float32'), randn(2, nk, 'float32'), randn(3, g.O, 'float32'), randn(4, ny, 'float32')]
    const first = onBackend('simd', cs, x, k, b, dy)
    const kept = Float32Array.from(first.y)
    const size = wasmMemoryBytes()
    for (let i = 0; i < 3; i++) onBackend('simd', cs, randn(10 + i, nx, 'float32'), k, b, dy)
    expect(wasmMemoryBytes()).toBe(size)
    expect(Array.from(first.y)).toEqual(Array.from(kept))
  })
})
