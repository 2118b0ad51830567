// The SIMD twin of maxPool2dForward (pool.ts): kernels.wat `maxpool`, four channels per
// vector, on a copy of x in the kernel memory; y and the argmax indices are copied out.
// Same values and indices as the TypeScript loop (max is exact; the kernel makes the same
// strictly-larger / NaN test per lane). Needs C a multiple of 4 (the caller checks).

import type { Pool2dGeometry as Geometry } from './pool-geometry.ts'
import { CHUNK, Layout, workspace } from './wasm/instance.ts'


export function maxPool2dForwardSimd(y: Float32Array, argmax: Int32Array, x: Float32Array, g: Geometry): void {
  const { B, H, W, C, ph, pw, sh, sw, Ho, Wo } = g
  const perX = H * W * C
  const perY = Ho * Wo * C
  // whole images per chunk (windows never cross images), about CHUNK floats of x
  const n = Math.max(1, Math.min(B, Math.floor(CHUNK / perX)))
  const L = new Layout()
  const xAt = L.take(n * perX * 4)
  const yAt = L.take(n * perY * 4)
  const aAt = L.take(n * perY * 4)
  const { k, f32, i32 } = workspace(L.end)
  for (let n0 = 0; n0 < B; n0 += n) {
    const nb = Math.min(n, B - n0)
    f32.set(x.subarray(n0 * perX, (n0 + nb) * perX), xAt >> 2)
    k.maxpool(yAt, aAt, xAt, nb, H, W, C, ph, pw, sh, sw, Ho, Wo, n0 * perX)
    y.set(f32.subarray(yAt >> 2, (yAt >> 2) + nb * perY), n0 * perY)
    argmax.set(i32.subarray(aAt >> 2, (aAt >> 2) + nb * perY), n0 * perY)
  }
}

/**
 * The twin of maxPool2dBackward: dx zeroed, then dx[argmax[r]] += dy[r] in r order
 * (kernels.wat `maxpool_grad`) on a copy of dx in the kernel memory, dy and argmax streamed
 * through it CHUNK at a time (the same adds in the same order); dx copied out.
 */
export function maxPool2dBackwardSimd(dx: Float32Array, dy: Float32Array, argmax: Int32Array, nx: number, ny: number): void {
  const c = Math.min(ny, CHUNK)
  const L = new Layout()
  const dxAt = L.take(nx * 4)
  const dyAt = L.take(c * 4)
  const aAt = L.take(c * 4)
  const { k, f32, i32 } = workspace(L.end)
  f32.fill(0, dxAt >> 2, (dxAt >> 2) + nx)
  for (let r0 = 0; r0 < ny; r0 += CHUNK) {
    const m = Math.min(CHUNK, ny - r0)
    f32.set(dy.subarray(r0, r0 + m), dyAt >> 2)
    i32.set(argmax.subarray(r0, r0 + m), aAt >> 2)
    k.maxpool_grad(dxAt, dyAt, aAt, m, 0)
  }
  dx.set(f32.subarray(dxAt >> 2, (dxAt >> 2) + nx))
}
