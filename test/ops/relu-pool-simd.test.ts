// The SIMD ReLU and max-pooling kernels against their TypeScript twins: the same bits
// (ReLU is a mask, max is exact), the same first-maximum indices, NaN and -0 included.

import { describe, expect, it } from 'vitest'
import { reluBackwardTs, reluForwardTs } from '../../src/ops/activations.ts'
import { reluBackwardSimd, reluForwardSimd } from '../../src/ops/relu-simd.ts'
import type { Pool2dGeometry } from '../../src/ops/pool.ts'
import { maxPool2dBackwardTs, maxPool2dForward, maxPool2dForwardTs } from '../../src/ops/pool.ts'
import { maxPool2dBackwardSimd, maxPool2dForwardSimd } from '../../src/ops/pool-simd.ts'
import { key, uniform } from '../../src/core/rng.ts'
import { withKernelBackend } from '../../src/ops/backend.ts'

/** Whether two float arrays hold exactly the same bits (NaN payloads and signed zeros included). */
const sameBits = (a: Float32Array, b: Float32Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))

/** Values in [-2, 2) rounded to quarters (so windows hold ties), with -0, NaN and infinities sprinkled in. */
const values = (seed: number, n: number): Float32Array => {
  const u = uniform(key(seed), n, 'float32', -2, 2)
  const x = new Float32Array(n)
  for (let i = 0; i < n; i++) x[i] = Math.round(u[i] * 4) / 4
  for (let i = 3; i < n; i += 97) x[i] = -0
  for (let i = 11; i < n; i += 389) x[i] = Number.NaN
  for (let i = 29; i < n; i += 541) x[i] = i % 2 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY
  return x
}

describe('SIMD ReLU', () => {
  for (const n of [4, 7, 2048, 2051, 147_456]) {
    it(`forward and backward match the TypeScript loops bit for bit, n = ${n}`, () => {
      const x = values(n, n)
      const dy = values(n + 1, n)
      const [y1, y2] = [new Float32Array(n), new Float32Array(n)]
      reluForwardTs(y1, x, n)
      reluForwardSimd(y2, x, n)
      expect(sameBits(y2, y1)).toBe(true)
      const [d1, d2] = [new Float32Array(n), new Float32Array(n)]
      reluBackwardTs(d1, dy, y1, n)
      reluBackwardSimd(d2, dy, y1, n)
      expect(sameBits(d2, d1)).toBe(true)
      // -0 in comes out +0; a positive value passes unchanged
      if (n > 3) expect(Object.is(y2[3], 0)).toBe(true)
    })
  }

  it('backward may write over its upstream gradient (dx aliasing dy)', () => {
    const n = 4099
    const y = new Float32Array(n)
    reluForwardTs(y, values(5, n), n)
    const dy = values(6, n)
    const want = new Float32Array(n)
    reluBackwardTs(want, dy, y, n)
    reluBackwardSimd(dy, dy, y, n)
    expect(sameBits(dy, want)).toBe(true)
  })
})

describe('SIMD max pooling', () => {
  const geometries: Array<[string, Omit<Pool2dGeometry, 'Ho' | 'Wo'>]> = [
    ['W3 conv1: 2x2/2 over 24x24x8', { B: 3, H: 24, W: 24, C: 8, ph: 2, pw: 2, sh: 2, sw: 2 }],
    ['W3 conv1, 120 images: several kernel-memory chunks forward and backward', { B: 120, H: 24, W: 24, C: 8, ph: 2, pw: 2, sh: 2, sw: 2 }],
    ['W3 conv2: 2x2/2 over 8x8x16', { B: 5, H: 8, W: 8, C: 16, ph: 2, pw: 2, sh: 2, sw: 2 }],
    ['overlapping 3x3/1, C = 4', { B: 2, H: 9, W: 7, C: 4, ph: 3, pw: 3, sh: 1, sw: 1 }],
    ['3x2 windows, strides 2x3, C = 12', { B: 2, H: 11, W: 14, C: 12, ph: 3, pw: 2, sh: 2, sw: 3 }],
  ]
  for (const [name, g0] of geometries) {
    it(`${name}: same maxima and first-maximum indices as the TypeScript loop`, () => {
      const g: Pool2dGeometry = { ...g0, Ho: Math.floor((g0.H - g0.ph) / g0.sh) + 1, Wo: Math.floor((g0.W - g0.pw) / g0.sw) + 1 }
      const x = values(g.H * 31 + g.C, g.B * g.H * g.W * g.C)
      const ny = g.B * g.Ho * g.Wo * g.C
      const [y1, y2] = [new Float32Array(ny), new Float32Array(ny)]
      const [a1, a2] = [new Int32Array(ny), new Int32Array(ny)]
      maxPool2dForwardTs(y1, a1, x, g)
      maxPool2dForwardSimd(y2, a2, x, g)
      expect(sameBits(y2, y1)).toBe(true)
      expect(a2).toEqual(a1)
      expect(y1.some((v) => Number.isNaN(v))).toBe(true)
      // the dispatching entry takes the SIMD path here and the loop on the TS backend
      const [y3, y4] = [new Float32Array(ny), new Float32Array(ny)]
      const [a3, a4] = [new Int32Array(ny), new Int32Array(ny)]
      maxPool2dForward(y3, a3, x, g)
      withKernelBackend('ts', () => maxPool2dForward(y4, a4, x, g))
      expect(sameBits(y3, y1) && sameBits(y4, y1)).toBe(true)
      expect(a3).toEqual(a1)
      expect(a4).toEqual(a1)
      // backward: the same sums in the same order (overlapping windows add several dy into one dx)
      const nx = x.length
      const dy = values(ny + 7, ny).map((v) => (Number.isFinite(v) ? v : 0.5))
      const [d1, d2] = [new Float32Array(nx).fill(9), new Float32Array(nx).fill(9)]
      maxPool2dBackwardTs(d1, dy, a1, nx, ny)
      maxPool2dBackwardSimd(d2, dy, a1, nx, ny)
      expect(sameBits(d2, d1)).toBe(true)
      expect(d1.some((v) => v !== 0)).toBe(true)
    })
  }
})
