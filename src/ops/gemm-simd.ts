// The SIMD twin of gemm.ts: the same contract,
//
//   C[M,N] = op(A)[M,K] op(B)[K,N]            (accumulate = false)
//   C[M,N] += op(A)[M,K] op(B)[K,N]           (accumulate = true)
//
// computed by kernels.wat's `mm` (4 x 8 register tile of f32x4 accumulators) on copies
// of the operands in the kernel memory (wasm/instance.ts); the result is copied out into C.
//
// Summation order (the SIMD backend's numerics, identical in every path below and on
// every thread count): the reduction is cut into slabs of KC = 256 consecutive k; within
// a slab the products are summed in float32, k ascending, each product and each sum
// rounded (s = fl(s + fl(a b)), no fused multiply-add); the slab sums are then added to C
// in slab order, C = fl(C + s) (the first slab stores s when not accumulating). Each element
// is computed alone in its own SIMD lane, so splitting the rows of C across threads or
// tiles changes no bit. The slabs keep the float32 rounding error near sqrt(KC) +
// K/KC roundings instead of K (agreement with the double-precision TypeScript kernels is
// tested to 1e-5 relative).
//
// Products too small to pay for the copies take gemmF32, a scalar loop with exactly the
// same arithmetic (Math.fround after each multiply and add: the double product of two
// floats is exact and double rounding of one float sum is correct, so the bits match).

import type { F } from '../core/tensor.ts'
import { Layout, workspace } from './wasm/instance.ts'

/** Reduction slab: the float32 sums restart every KC products (module comment). */
export const KC = 256
const NR = 8

/** Below this many multiply-adds the scalar twin is faster than copying into the kernel memory. */
const SMALL = 4096

const fr = Math.fround

/**
 * The SIMD backend's arithmetic as a scalar loop (and its path for tiny products):
 * bit-identical to gemmSimd on every input.
 */
export function gemmF32(
  C: F,
  A: F,
  B: F,
  M: number,
  N: number,
  K: number,
  transA = false,
  transB = false,
  accumulate = false,
): void {
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let c = accumulate ? C[i * N + j] : 0
      for (let k0 = 0; k0 < K; k0 += KC) {
        const k1 = Math.min(K, k0 + KC)
        let s = 0
        for (let k = k0; k < k1; k++) {
          const a = transA ? A[k * M + i] : A[i * K + k]
          const b = transB ? B[j * K + k] : B[k * N + j]
          s = fr(s + fr(a * b))
        }
        c = k0 === 0 && !accumulate ? s : fr(c + s)
      }
      C[i * N + j] = c
    }
}

/**
 * op(B)[k0:k0+kc, :] into 8-column panels at byte `at` of the kernel memory, zero-padded:
 * panel p, row k, lane j at float (at/4) + (p kc + k) 8 + j.
 */
export function packPanels(f32: Float32Array, at: number, B: F, N: number, K: number, transB: boolean, k0: number, kc: number): void {
  if (!transB && N === NR) {
    // one panel, already laid out: rows of 8 (a dense layer or convolution with 8 outputs)
    f32.set(B.subarray(k0 * NR, (k0 + kc) * NR), at >> 2)
    return
  }
  const panels = Math.ceil(N / NR)
  let o = at >> 2
  for (let p = 0; p < panels; p++) {
    const j0 = p * NR
    const w = Math.min(NR, N - j0)
    if (!transB) {
      if (w === NR)
        for (let k = 0, s = k0 * N + j0; k < kc; k++, s += N, o += NR) {
          f32[o] = B[s]; f32[o + 1] = B[s + 1]; f32[o + 2] = B[s + 2]; f32[o + 3] = B[s + 3]
          f32[o + 4] = B[s + 4]; f32[o + 5] = B[s + 5]; f32[o + 6] = B[s + 6]; f32[o + 7] = B[s + 7]
        }
      else
        for (let k = 0, s = k0 * N + j0; k < kc; k++, s += N, o += NR) {
          for (let j = 0; j < w; j++) f32[o + j] = B[s + j]
          for (let j = w; j < NR; j++) f32[o + j] = 0
        }
    } else {
      for (let j = 0; j < NR; j++) {
        if (j >= w) {
          for (let k = 0; k < kc; k++) f32[o + k * NR + j] = 0
          continue
        }
        const s = (j0 + j) * K + k0
        for (let k = 0; k < kc; k++) f32[o + k * NR + j] = B[s + k]
      }
      o += kc * NR
    }
  }
}

/** C[M,N] (+)= op(A)[M,K] op(B)[K,N] on the SIMD kernels; float32 operands, C not aliasing A or B. */
export function gemmSimd(
  C: Float32Array,
  A: Float32Array,
  B: Float32Array,
  M: number,
  N: number,
  K: number,
  transA = false,
  transB = false,
  accumulate = false,
): void {
  if (M === 0 || N === 0) return
  if (K === 0) {
    if (!accumulate) C.fill(0, 0, M * N)
    return
  }
  if (M * N * K <= SMALL) {
    gemmF32(C, A, B, M, N, K, transA, transB, accumulate)
    return
  }
  const panels = Math.ceil(N / NR)
  const kcMax = Math.min(K, KC)
  const L = new Layout()
  const aAt = L.take(M * K * 4)
  const cAt = L.take(M * N * 4)
  const rsAt = L.take(M * 4)
  const csAt = L.take(K * 4)
  // op(B) row-major ([K, N], not transposed) is read in place (row stride 4N, with 32
  // bytes of slack past its end for the last panel's idle lanes); B^T is packed per slab.
  const bAt = transB ? L.take(panels * kcMax * NR * 4) : L.take(K * N * 4 + 32)
  // op(A) of one slab in row blocks of 4 (pack4): mm then loads each block's four values
  // at k with one v128 load, not four gathered loads per 8-column panel.
  const apAt = L.take(Math.ceil(M / 4) * 4 * kcMax * 4)
  const { k, f32, i32 } = workspace(L.end)
  f32.set(A.subarray(0, M * K), aAt >> 2)
  if (!transB) f32.set(B.subarray(0, K * N), bAt >> 2)
  if (accumulate) f32.set(C.subarray(0, M * N), cAt >> 2)
  // A(i, k) = A[i K + k], or A[k M + i] when transposed: as byte offsets rs[i] + cs[k]
  for (let i = 0, o = rsAt >> 2; i < M; i++) i32[o + i] = (transA ? i : i * K) * 4
  for (let t = 0, o = csAt >> 2; t < K; t++) i32[o + t] = (transA ? t * M : t) * 4
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = Math.min(KC, K - k0)
    const acc = accumulate || k0 > 0 ? 1 : 0
    // packed = 2 (no zero test) when the slab has no block of four zeros: W1's dense operands
    const packed = k.pack4(apAt, aAt, rsAt, csAt + k0 * 4, M, kc) === 0 ? 2 : 1
    if (transB) {
      packPanels(f32, bAt, B, N, K, true, k0, kc)
      k.mm(cAt, N * 4, apAt, rsAt, csAt, bAt, NR * 4, kc * NR * 4, M, N, kc, acc, packed)
    } else k.mm(cAt, N * 4, apAt, rsAt, csAt, bAt + k0 * N * 4, N * 4, NR * 4, M, N, kc, acc, packed)
  }
  C.set(f32.subarray(cAt >> 2, (cAt >> 2) + M * N))
}
