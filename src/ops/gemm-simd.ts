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
import type { KernelExports } from './wasm/instance.ts'
import { Layout, workspace } from './wasm/instance.ts'

/** Reduction slab: the float32 sums restart every KC products (module comment). */
export const KC = 256
const NR = 8

/** Rows packed at a time (a multiple of 4): bounds the packed block at PACK_ROWS x KC floats (1 MB). */
export const PACK_ROWS = 1024

/** Bytes of kernel memory packedMm needs for M rows and a slab of kc. */
export const packBytes = (M: number, kc: number): number => Math.min(Math.ceil(M / 4) * 4, PACK_ROWS) * kc * 4

/**
 * One slab of mm on A packed by pack4, PACK_ROWS rows at a time (pointers in bytes, as mm's):
 * C rows r0.. = A rows r0.. times Bp. Row blocks start at multiples of 4, so every block of
 * four rows is the one an unsplit call would form, and each element is the same chain:
 * the same bits. packed = 2 (no zero test) for a block whose slab holds no four zeros.
 */
export function packedMm(
  k: KernelExports,
  apAt: number,
  c: number,
  ldc: number,
  src: number,
  rs: number,
  cs: number,
  bp: number,
  ldb: number,
  pstride: number,
  M: number,
  N: number,
  kc: number,
  acc: number,
): void {
  for (let r0 = 0; r0 < M; r0 += PACK_ROWS) {
    const m = Math.min(PACK_ROWS, M - r0)
    const packed = k.pack4(apAt, src, rs + r0 * 4, cs, m, kc) === 0 ? 2 : 1
    k.mm(c + r0 * ldc, ldc, apAt, rs + r0 * 4, cs, bp, ldb, pstride, m, N, kc, acc, packed)
  }
}

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

/**
 * One product C = A B (no transposes, no accumulation) computed in row blocks with B laid
 * in this thread's kernel memory once: `rows(C, A, m)` writes m rows of C (at most
 * maxRows) from the m rows of A. A block is gemmSimd's chain for its rows (row blocks of 4,
 * the same slabs), so any split of a product into blocks gives gemmSimd's bits; the pool
 * splits one product across threads this way (parallel/pool.ts, WorkerPool.gemm).
 */
export function simdRowBlocks(B: Float32Array, N: number, K: number, maxRows: number): (C: Float32Array, A: Float32Array, m: number) => void {
  const kcMax = Math.min(K, KC)
  const L = new Layout()
  // B as given (read in place when it is one panel, N <= 8: 32 bytes of slack for its idle lanes)
  const bAt = L.take(K * N * 4 + 32)
  const aAt = L.take(maxRows * K * 4)
  const cAt = L.take(maxRows * N * 4)
  const rsAt = L.take(maxRows * 4)
  const csAt = L.take(K * 4)
  const apAt = L.take(packBytes(maxRows, kcMax))
  // B in panels, every slab, once for all the blocks (packsB: they are many rows in all).
  const panels = Math.ceil(N / NR)
  const packed = N > NR
  const slabBytes = panels * KC * NR * 4
  const bpAt = packed ? L.take(Math.ceil(K / KC) * slabBytes) : -1
  const { k, f32, i32 } = workspace(L.end)
  f32.set(B.subarray(0, K * N), bAt >> 2)
  for (let k0 = 0; packed && k0 < K; k0 += KC) packSlab(k, f32, bpAt + (k0 / KC) * slabBytes, bAt, N, k0, Math.min(KC, K - k0))
  for (let i = 0, o = rsAt >> 2; i < maxRows; i++) i32[o + i] = i * K * 4
  for (let t = 0, o = csAt >> 2; t < K; t++) i32[o + t] = t * 4
  return (C, A, m) => {
    if (m === 0 || N === 0) return
    if (K === 0) return void C.fill(0, 0, m * N)
    const { k, f32 } = workspace(L.end)
    f32.set(A.subarray(0, m * K), aAt >> 2)
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = Math.min(KC, K - k0)
      const acc = k0 > 0 ? 1 : 0
      if (packed) packedMm(k, apAt, cAt, N * 4, aAt, rsAt, csAt + k0 * 4, bpAt + (k0 / KC) * slabBytes, NR * 4, kc * NR * 4, m, N, kc, acc)
      else packedMm(k, apAt, cAt, N * 4, aAt, rsAt, csAt + k0 * 4, bAt + k0 * N * 4, N * 4, NR * 4, m, N, kc, acc)
    }
    C.set(f32.subarray(cAt >> 2, (cAt >> 2) + m * N))
  }
}

/**
 * Whether a product packs a row-major op(B) into panels (packSlab) rather than letting mm
 * read it in place: mm walks every panel once per 4-row block, and in place each step of
 * that walk is a new row of B (4N bytes on: a new cache line, and every 1024 / N steps a
 * new page). Packed, a panel is 32 kc contiguous bytes. Measured here (GFLOP/s in place
 * -> packed): 512^3 28.2 -> 32.4, 64x512x512 31.6 -> 36.5, 64x256x784 34.2 -> 36.4,
 * 128^3 33.7 -> 34.8; at 16 rows the copy does not pay (28.5 -> 26.3). A single panel
 * (N <= 8) is already packed.
 */
export const packsB = (M: number, N: number, transB: boolean): boolean => !transB && N > NR && M >= 32

/**
 * Rows k0.. (kc of them) of a row-major B [K, N] already in the kernel memory at byte `src`,
 * into 8-column panels at byte `at` (packPanels' layout): the whole panels by pack8, a last
 * one of fewer than 8 columns here, zero-padded.
 */
export function packSlab(k: KernelExports, f32: Float32Array, at: number, src: number, N: number, k0: number, kc: number): void {
  const whole = N >> 3
  const from = src + k0 * N * 4
  k.pack8(at, from, N * 4, whole, kc)
  const w = N - whole * NR
  if (w === 0) return
  for (let t = 0, o = (at >> 2) + whole * kc * NR, s = (from >> 2) + whole * NR; t < kc; t++, s += N, o += NR) {
    for (let j = 0; j < w; j++) f32[o + j] = f32[s + j]
    for (let j = w; j < NR; j++) f32[o + j] = 0
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
  // ...and packed per slab too when enough row blocks walk each panel (packsB).
  const bpAt = packsB(M, N, transB) ? L.take(panels * kcMax * NR * 4) : -1
  // op(A) of one slab in row blocks of 4 (pack4): mm then loads each block's four values
  // at k with one v128 load, not four gathered loads per 8-column panel.
  const apAt = L.take(packBytes(M, kcMax))
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
    if (transB) {
      packPanels(f32, bAt, B, N, K, true, k0, kc)
      packedMm(k, apAt, cAt, N * 4, aAt, rsAt, csAt + k0 * 4, bAt, NR * 4, kc * NR * 4, M, N, kc, acc)
    } else if (bpAt >= 0) {
      packSlab(k, f32, bpAt, bAt, N, k0, kc)
      packedMm(k, apAt, cAt, N * 4, aAt, rsAt, csAt + k0 * 4, bpAt, NR * 4, kc * NR * 4, M, N, kc, acc)
    } else packedMm(k, apAt, cAt, N * 4, aAt, rsAt, csAt + k0 * 4, bAt + k0 * N * 4, N * 4, NR * 4, M, N, kc, acc)
  }
  C.set(f32.subarray(cAt >> 2, (cAt >> 2) + M * N))
}
