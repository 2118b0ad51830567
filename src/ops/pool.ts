// Max and average pooling over NHWC images, no padding, windows [ph, pw] moved by
// strides [sh, sw] (they may overlap). x [B,H,W,C], y [B,Ho,Wo,C] with
// Ho = (H - ph)/sh + 1 and Wo = (W - pw)/sw + 1 (the caller checks the division is exact).

import type { F } from '../core/tensor.ts'
import { kernelBackend } from './backend.ts'
import { maxPool2dBackwardSimd, maxPool2dForwardSimd } from './pool-simd.ts'

import type { Pool2dGeometry } from './pool-geometry.ts'
export type { Pool2dGeometry }

// y[n,i,j,c] = max_{p<ph, q<pw} x[n, i*sh+p, j*sw+q, c];  argmax[n,i,j,c] = flat index in x of
// the FIRST maximum in row-major window order (p outer, q inner: only a strictly larger value
// replaces it). NaN propagates: the first NaN of a window is its maximum.
//                        (cnn-layers-softmax eq 4; cnn-derivation-lenet eq 3; convnet-notes maxpool)
export function maxPool2dForwardTs(y: F, argmax: Int32Array, x: F, g: Pool2dGeometry): void {
  const { B, H, W, C, ph, pw, sh, sw, Ho, Wo } = g
  for (let n = 0, o = 0; n < B; n++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++, o += C) {
        const corner = ((n * H + i * sh) * W + j * sw) * C
        for (let c = 0; c < C; c++) {
          // start from the window's corner (p = q = 0), then scan the rest in row-major order
          let best = x[corner + c]
          let at = corner + c
          for (let p = 0; p < ph; p++)
            for (let q = p === 0 ? 1 : 0; q < pw; q++) {
              const s = corner + (p * W + q) * C + c
              const v = x[s]
              if (v > best || (v !== v && best === best)) {
                best = v
                at = s
              }
            }
          y[o + c] = best
          argmax[o + c] = at
        }
      }
}

/**
 * Below this many outputs the copies into the kernel memory cost more than the loop. The
 * forward loop's window compares are data-dependent branches, mispredicted about half the
 * time on real activations: 8x8x16 -> 256 outputs took 2.4-3.0 us in the loop, 0.8-1.1 us
 * on SIMD with the copies; 64 outputs 0.6-0.8 vs 0.3-0.4 us; 16 outputs 0.17 vs 0.22-0.29.
 * The backward scatter has no such branch and keeps the higher crossover.
 */
const POOL_FORWARD_SMALL = 32
const POOL_SMALL = 1024

// The layer's entry point: the SIMD twin (pool-simd.ts, same values and indices) for
// float32 arrays with C a multiple of 4 on the SIMD backend, else the loop above.
export function maxPool2dForward(y: F, argmax: Int32Array, x: F, g: Pool2dGeometry): void {
  if (
    g.C % 4 === 0 &&
    g.B * g.Ho * g.Wo * g.C >= POOL_FORWARD_SMALL &&
    y instanceof Float32Array &&
    x instanceof Float32Array &&
    kernelBackend() === 'simd'
  )
    maxPool2dForwardSimd(y, argmax, x, g)
  else maxPool2dForwardTs(y, argmax, x, g)
}

// dx[argmax[r]] += dy[r] for every output r; dx is overwritten (zero elsewhere). An element
// that is the chosen maximum of several overlapping windows receives the sum.
//                  (cnn-derivation-lenet eqs 7-8: delta flows only through the maximum)
export function maxPool2dBackwardTs(dx: F, dy: F, argmax: Int32Array, nx: number, ny: number): void {
  dx.fill(0, 0, nx)
  for (let r = 0; r < ny; r++) dx[argmax[r]] += dy[r]
}

// The layer's entry point: the SIMD twin (pool-simd.ts; the same adds in the same order,
// so the same bits) for float32 arrays on the SIMD backend, else the loop above.
export function maxPool2dBackward(dx: F, dy: F, argmax: Int32Array, nx: number, ny: number): void {
  if (ny >= POOL_SMALL && dx instanceof Float32Array && dy instanceof Float32Array && kernelBackend() === 'simd')
    maxPool2dBackwardSimd(dx, dy, argmax, nx, ny)
  else maxPool2dBackwardTs(dx, dy, argmax, nx, ny)
}

// y[n,i,j,c] = (1 / (ph*pw)) sum_{p<ph, q<pw} x[n, i*sh+p, j*sw+q, c]
//                                   (cnn-derivation-lenet section 2.2.1 down(), as a mean)
export function avgPool2dForward(y: F, x: F, g: Pool2dGeometry): void {
  const { B, H, W, C, ph, pw, sh, sw, Ho, Wo } = g
  const inv = 1 / (ph * pw)
  for (let n = 0, o = 0; n < B; n++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++, o += C) {
        const corner = ((n * H + i * sh) * W + j * sw) * C
        for (let c = 0; c < C; c++) {
          let s = 0
          for (let p = 0; p < ph; p++) {
            const row = corner + p * W * C + c
            for (let q = 0; q < pw; q++) s += x[row + q * C]
          }
          y[o + c] = s * inv
        }
      }
}

// dx[n, i*sh+p, j*sw+q, c] += dy[n,i,j,c] / (ph*pw) over every window; dx is overwritten.
//                                   (cnn-derivation-lenet eq 6: up(delta), scaled by 1/n^2)
export function avgPool2dBackward(dx: F, dy: F, g: Pool2dGeometry): void {
  const { B, H, W, C, ph, pw, sh, sw, Ho, Wo } = g
  const inv = 1 / (ph * pw)
  dx.fill(0, 0, B * H * W * C)
  for (let n = 0, o = 0; n < B; n++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++, o += C) {
        const corner = ((n * H + i * sh) * W + j * sw) * C
        for (let p = 0; p < ph; p++)
          for (let q = 0; q < pw; q++) {
            const d = corner + (p * W + q) * C
            for (let c = 0; c < C; c++) dx[d + c] += dy[o + c] * inv
          }
      }
}
