// Pooling and LeNet-subsampling kernels against direct-loop references written from the
// conformance README: max (first maximum wins ties, overlapping windows sum), average,
// and subsampling z = beta * (block SUM) + b.

import { describe, expect, it } from 'vitest'
import type { Pool2dGeometry } from '../../src/ops/pool.ts'
import { avgPool2dBackward, avgPool2dForward, maxPool2dBackward, maxPool2dForward } from '../../src/ops/pool.ts'
import { subsampleBackwardInput, subsampleBackwardParams, subsampleForward } from '../../src/ops/subsample.ts'
import { bits, key, normal } from '../../src/core/rng.ts'

const ints = (seed: number) => {
  const w = bits(key(seed), 64)
  let i = 0
  return (lo: number, hi: number): number => lo + (w[i++ % w.length] % (hi - lo + 1))
}

function randomPool(seed: number): Pool2dGeometry {
  const r = ints(seed)
  const ph = r(1, 4)
  const pw = r(1, 4)
  const sh = r(1, 3)
  const sw = r(1, 3)
  const Ho = r(1, 5)
  const Wo = r(1, 5)
  return { B: r(1, 3), C: r(1, 4), ph, pw, sh, sw, Ho, Wo, H: (Ho - 1) * sh + ph, W: (Wo - 1) * sw + pw }
}

const at = (g: Pool2dGeometry, n: number, h: number, w: number, c: number): number => ((n * g.H + h) * g.W + w) * g.C + c

/** y and the chosen index per window: the first maximum, p rows outer, q columns inner. */
function refMax(x: ArrayLike<number>, g: Pool2dGeometry): { y: number[]; arg: number[] } {
  const y: number[] = []
  const arg: number[] = []
  for (let n = 0; n < g.B; n++)
    for (let i = 0; i < g.Ho; i++)
      for (let j = 0; j < g.Wo; j++)
        for (let c = 0; c < g.C; c++) {
          let best = -Infinity
          let bi = -1
          for (let p = 0; p < g.ph; p++)
            for (let q = 0; q < g.pw; q++) {
              const e = at(g, n, i * g.sh + p, j * g.sw + q, c)
              if (x[e] > best) {
                best = x[e]
                bi = e
              }
            }
          y.push(best)
          arg.push(bi)
        }
  return { y, arg }
}

describe('maxPool2d kernels', () => {
  it('match the reference on random geometries (overlapping windows, integer inputs with many ties)', () => {
    let ties = 0
    let overlapping = 0
    for (let s = 0; s < 60; s++) {
      const g = randomPool(s)
      const nx = g.B * g.H * g.W * g.C
      const ny = g.B * g.Ho * g.Wo * g.C
      // small integers: ties everywhere
      const w = bits(key(100 + s), nx)
      const x = Float64Array.from(w, (v) => (v % 4) - 1)
      const dy = normal(key(200 + s), ny, 'float64')
      const y = new Float64Array(ny)
      const arg = new Int32Array(ny)
      maxPool2dForward(y, arg, x, g)
      const want = refMax(x, g)
      expect(Array.from(y)).toEqual(want.y)
      expect(Array.from(arg)).toEqual(want.arg)
      // backward: each window's dy goes to its chosen element; shared elements sum
      const dx = new Float64Array(nx).fill(3)
      maxPool2dBackward(dx, dy, arg, nx, ny)
      const wantDx = new Float64Array(nx)
      want.arg.forEach((e, r) => (wantDx[e] += dy[r]))
      for (let e = 0; e < nx; e++) expect(dx[e]).toBeCloseTo(wantDx[e], 14)
      if (g.sh < g.ph || g.sw < g.pw) overlapping++
      for (let r = 0; r < ny; r++) {
        // count windows with a tied maximum
        let n = 0
        const r0 = Math.floor(r / g.C)
        const c = r % g.C
        const j = r0 % g.Wo
        const i = Math.floor(r0 / g.Wo) % g.Ho
        const b = Math.floor(r0 / (g.Wo * g.Ho))
        for (let p = 0; p < g.ph; p++) for (let q = 0; q < g.pw; q++) if (x[at(g, b, i * g.sh + p, j * g.sw + q, c)] === y[r]) n++
        if (n > 1) ties++
      }
    }
    expect(ties).toBeGreaterThan(50)
    expect(overlapping).toBeGreaterThan(10)
  })

  it('gives a tied window to its first maximum in row-major order, and sums over overlapping windows', () => {
    // one channel, 3x3 image, 2x2 windows at stride 1: four overlapping windows
    //   5 5 1
    //   5 2 5
    //   0 5 5
    const x = Float64Array.from([5, 5, 1, 5, 2, 5, 0, 5, 5])
    const g: Pool2dGeometry = { B: 1, H: 3, W: 3, C: 1, ph: 2, pw: 2, sh: 1, sw: 1, Ho: 2, Wo: 2 }
    const y = new Float64Array(4)
    const arg = new Int32Array(4)
    maxPool2dForward(y, arg, x, g)
    expect(Array.from(y)).toEqual([5, 5, 5, 5])
    // windows at (0,0): first max (0,0) -> 0; (0,1): (0,1) -> 1; (1,0): (1,0) -> 3; (1,1): (1,2) -> 5
    expect(Array.from(arg)).toEqual([0, 1, 3, 5])
    const dx = new Float64Array(9)
    maxPool2dBackward(dx, Float64Array.from([1, 10, 100, 1000]), arg, 9, 4)
    expect(Array.from(dx)).toEqual([1, 10, 0, 100, 0, 1000, 0, 0, 0])
    // an element chosen by two windows receives both
    const x2 = Float64Array.from([0, 0, 0, 0, 9, 0, 0, 0, 0])
    maxPool2dForward(y, arg, x2, g)
    expect(Array.from(arg)).toEqual([4, 4, 4, 4])
    maxPool2dBackward(dx, Float64Array.from([1, 10, 100, 1000]), arg, 9, 4)
    expect(dx[4]).toBe(1111)
  })

  it('propagates NaN (the first NaN of a window is its maximum)', () => {
    const g: Pool2dGeometry = { B: 1, H: 2, W: 2, C: 1, ph: 2, pw: 2, sh: 2, sw: 2, Ho: 1, Wo: 1 }
    const y = new Float32Array(1)
    const arg = new Int32Array(1)
    maxPool2dForward(y, arg, Float32Array.from([1, NaN, 3, NaN]), g)
    expect(Number.isNaN(y[0])).toBe(true)
    expect(arg[0]).toBe(1)
  })
})

describe('avgPool2d kernels', () => {
  it('match the reference mean and its adjoint on random geometries', () => {
    for (let s = 0; s < 40; s++) {
      const g = randomPool(300 + s)
      const nx = g.B * g.H * g.W * g.C
      const ny = g.B * g.Ho * g.Wo * g.C
      const x = normal(key(s), nx, 'float64')
      const dy = normal(key(50 + s), ny, 'float64')
      const y = new Float64Array(ny)
      avgPool2dForward(y, x, g)
      const dx = new Float64Array(nx).fill(5)
      avgPool2dBackward(dx, dy, g)
      const wantDx = new Float64Array(nx)
      let r = 0
      for (let n = 0; n < g.B; n++)
        for (let i = 0; i < g.Ho; i++)
          for (let j = 0; j < g.Wo; j++)
            for (let c = 0; c < g.C; c++, r++) {
              let sum = 0
              for (let p = 0; p < g.ph; p++)
                for (let q = 0; q < g.pw; q++) {
                  const e = at(g, n, i * g.sh + p, j * g.sw + q, c)
                  sum += x[e]
                  wantDx[e] += dy[r] / (g.ph * g.pw)
                }
              expect(y[r]).toBeCloseTo(sum / (g.ph * g.pw), 13)
            }
      for (let e = 0; e < nx; e++) expect(dx[e]).toBeCloseTo(wantDx[e], 13)
    }
  })
})

describe('subsample kernels (cnn-derivation-lenet eqs 2, 6, 19-22)', () => {
  it('z = beta * block SUM + b, and the three gradients, on random shapes', () => {
    for (let s = 0; s < 30; s++) {
      const r = ints(700 + s)
      const n = r(1, 4)
      const B = r(1, 3)
      const C = r(1, 4)
      const Ho = r(1, 4)
      const Wo = r(1, 4)
      const H = Ho * n
      const W = Wo * n
      const x = normal(key(s), B * H * W * C, 'float64')
      const beta = normal(key(40 + s), C, 'float64')
      const b = normal(key(80 + s), C, 'float64')
      const dz = normal(key(120 + s), B * Ho * Wo * C, 'float64')
      const z = new Float64Array(B * Ho * Wo * C)
      const sums = new Float64Array(z.length)
      subsampleForward(z, sums, x, beta, b, B, H, W, C, n)
      const dbeta = new Float64Array(C)
      const db = new Float64Array(C)
      subsampleBackwardParams(dbeta, db, dz, sums, B * Ho * Wo, C)
      const dx = new Float64Array(x.length).fill(9)
      subsampleBackwardInput(dx, dz, beta, B, H, W, C, n)

      const wantDbeta = new Float64Array(C)
      const wantDb = new Float64Array(C)
      let o = 0
      for (let m = 0; m < B; m++)
        for (let i = 0; i < Ho; i++)
          for (let j = 0; j < Wo; j++)
            for (let c = 0; c < C; c++, o++) {
              let sum = 0
              for (let p = 0; p < n; p++) for (let q = 0; q < n; q++) sum += x[((m * H + i * n + p) * W + j * n + q) * C + c]
              expect(sums[o]).toBeCloseTo(sum, 13)
              expect(z[o]).toBeCloseTo(beta[c] * sum + b[c], 13)
              wantDbeta[c] += dz[o] * sum
              wantDb[c] += dz[o]
              for (let p = 0; p < n; p++)
                for (let q = 0; q < n; q++) expect(dx[((m * H + i * n + p) * W + j * n + q) * C + c]).toBe(beta[c] * dz[o])
            }
      for (let c = 0; c < C; c++) {
        expect(dbeta[c]).toBeCloseTo(wantDbeta[c], 12)
        expect(db[c]).toBeCloseTo(wantDb[c], 12)
      }
    }
  })
})
