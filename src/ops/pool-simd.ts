// The SIMD twin of maxPool2dForward (pool.ts): kernels.wat `maxpool`, four channels per
// vector, on a copy of x in the kernel memory; y and the argmax indices are copied out.
// Same values and indices as the TypeScript loop (max is exact; the kernel makes the same
// strictly-larger / NaN test per lane). Needs C a multiple of 4 (the caller checks).

import type { Pool2dGeometry as Geometry } from './pool-geometry.ts'
import { Layout, workspace } from './wasm/instance.ts'


export function maxPool2dForwardSimd(y: Float32Array, argmax: Int32Array, x: Float32Array, g: Geometry): void {
  const { B, H, W, C, ph, pw, sh, sw, Ho, Wo } = g
  const nx = B * H * W * C
  const ny = B * Ho * Wo * C
  const L = new Layout()
  const xAt = L.take(nx * 4)
  const yAt = L.take(ny * 4)
  const aAt = L.take(ny * 4)
  const { k, f32, i32 } = workspace(L.end)
  f32.set(x.subarray(0, nx), xAt >> 2)
  k.maxpool(yAt, aAt, xAt, B, H, W, C, ph, pw, sh, sw, Ho, Wo)
  y.set(f32.subarray(yAt >> 2, (yAt >> 2) + ny))
  argmax.set(i32.subarray(aAt >> 2, (aAt >> 2) + ny))
}

/**
 * The twin of maxPool2dBackward: dx zeroed, then dx[argmax[r]] += dy[r] in r order
 * (kernels.wat `maxpool_grad`), on copies in the kernel memory; dx copied out.
 */
export function maxPool2dBackwardSimd(dx: Float32Array, dy: Float32Array, argmax: Int32Array, nx: number, ny: number): void {
  const L = new Layout()
  const dxAt = L.take(nx * 4)
  const dyAt = L.take(ny * 4)
  const aAt = L.take(ny * 4)
  const { k, f32, i32 } = workspace(L.end)
  f32.fill(0, dxAt >> 2, (dxAt >> 2) + nx)
  f32.set(dy.subarray(0, ny), dyAt >> 2)
  i32.set(argmax.subarray(0, ny), aAt >> 2)
  k.maxpool_grad(dxAt, dyAt, aAt, ny)
  dx.set(f32.subarray(dxAt >> 2, (dxAt >> 2) + nx))
}
