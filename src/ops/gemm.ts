// General matrix multiply, the kernel under dense layers and (via im2col) convolutions.
//
//   C[M,N] = op(A)[M,K] op(B)[K,N]            (accumulate = false)
//   C[M,N] += op(A)[M,K] op(B)[K,N]           (accumulate = true)
//
// op(A) = A stored [M,K], or A^T when transA (A stored [K,M]); likewise op(B) is B
// stored [K,N] or B^T when transB (B stored [N,K]). All storage is row-major and
// contiguous. This is matrix-backprop's A = Z W and its two gradient products.
//
// Large products are packed (GotoBLAS style): a KC-deep slab of op(B) is copied into
// NR-wide column panels, each MR-high row panel of op(A) into a contiguous strip, and
// an MR x NR tile of C is accumulated in local variables (register-allocated by V8 as far
// as registers go). Packed panels are Float64Array whatever the operands' precision, so
// the inner kernel sees one element type and accumulates in double. Small products (a
// batch of one, a thin reduction) skip packing: there the copy costs more than it saves.

import type { F } from '../core/tensor.ts'
import { kernelBackend } from './backend.ts'
import { gemmSimd, simdRowBlocks } from './gemm-simd.ts'

// An 8 x 8 tile (64 accumulators) measured ~10% faster here than 4 x 4, 6 x 8 or 4 x 8:
// each k loads 16 numbers for 64 multiply-adds.
const MR = 8
const NR = 8
const KC = 256

// Scratch for packed panels, grown on demand and reused by every call. Results never
// live here: a call writes C and returns, so reuse is invisible from outside.
let packA = new Float64Array(MR * KC)
let packB = new Float64Array(NR * KC * 64)
const edge = new Float64Array(MR * NR)

/** op(B)[k0:k0+kc, :] into NR-wide panels: panel p, row k, lane j at ((p*kc)+k)*NR + j. */
function packBPanels(B: F, N: number, K: number, transB: boolean, k0: number, kc: number): void {
  const panels = Math.ceil(N / NR)
  const need = panels * kc * NR
  if (packB.length < need) packB = new Float64Array(need)
  const P = packB
  for (let p = 0; p < panels; p++) {
    const j0 = p * NR
    const w = Math.min(NR, N - j0)
    let o = p * kc * NR
    for (let k = 0; k < kc; k++) {
      const kk = k0 + k
      if (!transB) {
        const row = kk * N + j0
        for (let j = 0; j < w; j++) P[o + j] = B[row + j]
      } else {
        for (let j = 0; j < w; j++) P[o + j] = B[(j0 + j) * K + kk]
      }
      for (let j = w; j < NR; j++) P[o + j] = 0
      o += NR
    }
  }
}

/** op(A)[i0:i0+MR, k0:k0+kc] into a strip: row k, lane i at k*MR + i. */
function packAStrip(A: F, M: number, K: number, transA: boolean, i0: number, k0: number, kc: number): void {
  const h = Math.min(MR, M - i0)
  const P = packA
  let o = 0
  for (let k = 0; k < kc; k++) {
    const kk = k0 + k
    if (!transA) {
      for (let i = 0; i < h; i++) P[o + i] = A[(i0 + i) * K + kk]
    } else {
      const row = kk * M + i0
      for (let i = 0; i < h; i++) P[o + i] = A[row + i]
    }
    for (let i = h; i < MR; i++) P[o + i] = 0
    o += MR
  }
}

/** C[i0:i0+h, j0:j0+w] (+)= packA strip x packB panel p over kc: an 8 x 8 register tile. */
function microKernel(C: F, N: number, i0: number, j0: number, h: number, w: number, p: number, kc: number, add: boolean): void {
  const a = packA
  const b = packB
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0
  let c40 = 0, c41 = 0, c42 = 0, c43 = 0, c44 = 0, c45 = 0, c46 = 0, c47 = 0
  let c50 = 0, c51 = 0, c52 = 0, c53 = 0, c54 = 0, c55 = 0, c56 = 0, c57 = 0
  let c60 = 0, c61 = 0, c62 = 0, c63 = 0, c64 = 0, c65 = 0, c66 = 0, c67 = 0
  let c70 = 0, c71 = 0, c72 = 0, c73 = 0, c74 = 0, c75 = 0, c76 = 0, c77 = 0
  // The increments live in the loop header so that the zero-skip `continue` shares them
  // (a branch of its own would hold arithmetic without type feedback: a deopt trap).
  for (let k = 0, ia = 0, ib = p * kc * NR; k < kc; k++, ia += MR, ib += NR) {
    // c[i][j] += a[i] * b[j]: one rank-1 update of the tile per k, skipped when the
    // eight a's are all zero (inputs such as MNIST pixels are mostly zeros; exact for finite
    // b). The short-circuit test is cheap when a0 is not zero; warmUp gives every one of
    // its comparisons type feedback.
    const a0 = a[ia + 0], a1 = a[ia + 1], a2 = a[ia + 2], a3 = a[ia + 3], a4 = a[ia + 4], a5 = a[ia + 5], a6 = a[ia + 6], a7 = a[ia + 7]
    if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0 && a4 === 0 && a5 === 0 && a6 === 0 && a7 === 0) continue
    const b0 = b[ib + 0], b1 = b[ib + 1], b2 = b[ib + 2], b3 = b[ib + 3], b4 = b[ib + 4], b5 = b[ib + 5], b6 = b[ib + 6], b7 = b[ib + 7]
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3; c04 += a0 * b4; c05 += a0 * b5; c06 += a0 * b6; c07 += a0 * b7
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3; c14 += a1 * b4; c15 += a1 * b5; c16 += a1 * b6; c17 += a1 * b7
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3; c24 += a2 * b4; c25 += a2 * b5; c26 += a2 * b6; c27 += a2 * b7
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3; c34 += a3 * b4; c35 += a3 * b5; c36 += a3 * b6; c37 += a3 * b7
    c40 += a4 * b0; c41 += a4 * b1; c42 += a4 * b2; c43 += a4 * b3; c44 += a4 * b4; c45 += a4 * b5; c46 += a4 * b6; c47 += a4 * b7
    c50 += a5 * b0; c51 += a5 * b1; c52 += a5 * b2; c53 += a5 * b3; c54 += a5 * b4; c55 += a5 * b5; c56 += a5 * b6; c57 += a5 * b7
    c60 += a6 * b0; c61 += a6 * b1; c62 += a6 * b2; c63 += a6 * b3; c64 += a6 * b4; c65 += a6 * b5; c66 += a6 * b6; c67 += a6 * b7
    c70 += a7 * b0; c71 += a7 * b1; c72 += a7 * b2; c73 += a7 * b3; c74 += a7 * b4; c75 += a7 * b5; c76 += a7 * b6; c77 += a7 * b7
  }
  // The tile goes through scratch to storeTile: one store path whatever the tile's shape.
  const t = edge
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03; t[4] = c04; t[5] = c05; t[6] = c06; t[7] = c07
  t[8] = c10; t[9] = c11; t[10] = c12; t[11] = c13; t[12] = c14; t[13] = c15; t[14] = c16; t[15] = c17
  t[16] = c20; t[17] = c21; t[18] = c22; t[19] = c23; t[20] = c24; t[21] = c25; t[22] = c26; t[23] = c27
  t[24] = c30; t[25] = c31; t[26] = c32; t[27] = c33; t[28] = c34; t[29] = c35; t[30] = c36; t[31] = c37
  t[32] = c40; t[33] = c41; t[34] = c42; t[35] = c43; t[36] = c44; t[37] = c45; t[38] = c46; t[39] = c47
  t[40] = c50; t[41] = c51; t[42] = c52; t[43] = c53; t[44] = c54; t[45] = c55; t[46] = c56; t[47] = c57
  t[48] = c60; t[49] = c61; t[50] = c62; t[51] = c63; t[52] = c64; t[53] = c65; t[54] = c66; t[55] = c67
  t[56] = c70; t[57] = c71; t[58] = c72; t[59] = c73; t[60] = c74; t[61] = c75; t[62] = c76; t[63] = c77
  storeTile(C, N, i0, j0, h, w, add)
}

/** C[i0+i, j0+j] (+)= edge[i*NR + j] for the valid h x w part of the tile. */
function storeTile(C: F, N: number, i0: number, j0: number, h: number, w: number, add: boolean): void {
  const t = edge
  for (let i = 0; i < h; i++) {
    const o = (i0 + i) * N + j0
    if (add) for (let j = 0; j < w; j++) C[o + j] += t[i * NR + j]
    else for (let j = 0; j < w; j++) C[o + j] = t[i * NR + j]
  }
}

/** The packed path: KC slabs of K, every (MR x NR) tile of C. */
function gemmPacked(C: F, A: F, B: F, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean): void {
  const panels = Math.ceil(N / NR)
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = Math.min(KC, K - k0)
    const add = accumulate || k0 > 0
    packBPanels(B, N, K, transB, k0, kc)
    for (let i0 = 0; i0 < M; i0 += MR) {
      const h = Math.min(MR, M - i0)
      packAStrip(A, M, K, transA, i0, k0, kc)
      for (let p = 0; p < panels; p++) {
        const j0 = p * NR
        microKernel(C, N, i0, j0, h, Math.min(NR, N - j0), p, kc, add)
      }
    }
  }
}

/**
 * Direct loops for thin products (few rows, or a short reduction), ordered so the
 * innermost loop runs along contiguous memory for each transpose case. Every C element is
 * summed in double over k ascending and rounded once when stored. (The packed path sums
 * the same way within each 256-deep KC slab but stores C between slabs, so for K > 256
 * the two paths may differ in the last bit: WorkerPool.gemm never gives a thread fewer
 * than 8 rows of a product that one call would compute packed.) Zero entries of op(A) are skipped (a batch-1 MNIST row is ~80% zeros); for
 * finite B that changes no bit of the sum.
 */
function gemmDirect(C: F, A: F, B: F, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean): void {
  if (!transB) {
    // C[i, j0:j0+8] = sum_k op(A)[i,k] * B[k, j0:j0+8]: eight sums in registers per
    // sweep down k (rows of B are contiguous), then the leftover columns one at a time.
    for (let i = 0; i < M; i++) {
      const ci = i * N
      let j0 = 0
      for (; j0 + 8 <= N; j0 += 8) {
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0
        if (accumulate) {
          s0 = C[ci + j0]; s1 = C[ci + j0 + 1]; s2 = C[ci + j0 + 2]; s3 = C[ci + j0 + 3]
          s4 = C[ci + j0 + 4]; s5 = C[ci + j0 + 5]; s6 = C[ci + j0 + 6]; s7 = C[ci + j0 + 7]
        }
        for (let k = 0; k < K; k++) {
          const a = transA ? A[k * M + i] : A[i * K + k]
          if (a === 0) continue
          const o = k * N + j0
          s0 += a * B[o]; s1 += a * B[o + 1]; s2 += a * B[o + 2]; s3 += a * B[o + 3]
          s4 += a * B[o + 4]; s5 += a * B[o + 5]; s6 += a * B[o + 6]; s7 += a * B[o + 7]
        }
        C[ci + j0] = s0; C[ci + j0 + 1] = s1; C[ci + j0 + 2] = s2; C[ci + j0 + 3] = s3
        C[ci + j0 + 4] = s4; C[ci + j0 + 5] = s5; C[ci + j0 + 6] = s6; C[ci + j0 + 7] = s7
      }
      for (let j = j0; j < N; j++) {
        let s = accumulate ? C[ci + j] : 0
        for (let k = 0; k < K; k++) {
          const a = transA ? A[k * M + i] : A[i * K + k]
          if (a !== 0) s += a * B[k * N + j]
        }
        C[ci + j] = s
      }
    }
  } else {
    // C[i,j] = sum_k op(A)[i,k] * B[j,k]  (a dot product: rows of B are contiguous)
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = accumulate ? C[i * N + j] : 0
        const bj = j * K
        if (!transA) {
          const ai = i * K
          for (let k = 0; k < K; k++) s += A[ai + k] * B[bj + k]
        } else {
          for (let k = 0; k < K; k++) s += A[k * M + i] * B[bj + k]
        }
        C[i * N + j] = s
      }
    }
  }
}

/**
 * C[M,N] (+)= op(A)[M,K] op(B)[K,N]. Writes C only (A, B are read); C must not alias
 * A or B. Runs on the selected kernel backend (backend.ts): the SIMD twin (gemm-simd.ts)
 * for float32 operands when it is 'simd', else gemmTs.
 */
export function gemm(
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
  if (C instanceof Float32Array && A instanceof Float32Array && B instanceof Float32Array && kernelBackend() === 'simd')
    gemmSimd(C, A, B, M, N, K, transA, transB, accumulate)
  else gemmTs(C, A, B, M, N, K, transA, transB, accumulate)
}

/**
 * One product C = A B (no transposes) in row blocks, on the selected backend: `rows(C, A, m)`
 * writes m <= maxRows rows of C from m rows of A. Blocks that start at multiples of 8 rows
 * and hold at least 8 (or the whole product) give gemm's bits for the whole: each element
 * is the same chain wherever its block starts. The SIMD backend lays B in the kernel
 * memory once for all blocks (gemm-simd.ts, simdRowBlocks).
 */
export function gemmRowBlocks(B: F, N: number, K: number, maxRows: number): (C: F, A: F, m: number) => void {
  if (B instanceof Float32Array && kernelBackend() === 'simd') {
    const rows = simdRowBlocks(B, N, K, maxRows)
    return (C, A, m) => {
      if (C instanceof Float32Array && A instanceof Float32Array) rows(C, A, m)
      else gemm(C, A, B, m, N, K)
    }
  }
  return (C, A, m) => gemmTs(C, A, B, m, N, K)
}

/** The TypeScript kernel (double-precision sums), whatever the backend: same contract as gemm. */
export function gemmTs(
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
  if (M === 0 || N === 0) return
  if (K === 0) {
    if (!accumulate) C.fill(0, 0, M * N)
    return
  }
  if (M < MR || N < NR || K < 4) gemmDirect(C, A, B, M, N, K, transA, transB, accumulate)
  else gemmPacked(C, A, B, M, N, K, transA, transB, accumulate)
}

/** Reference triple loop (tests and debugging): same contract as gemm. */
export function gemmReference(
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
      let s = accumulate ? C[i * N + j] : 0
      for (let k = 0; k < K; k++)
        s += (transA ? A[k * M + i] : A[i * K + k]) * (transB ? B[j * K + k] : B[k * N + j])
      C[i * N + j] = s
    }
}

/**
 * Runs every code path of the kernels once on tiny operands (edge tiles, several KC slabs,
 * zero rows, each transpose, accumulate on and off), in every thread that computes: called
 * through warmUpKernels (ops/warm-up.ts) before training or inference starts, not at
 * import (so `gradstream --help` does not pay for it). Why: V8 optimises a hot function with the type feedback it has;
 * a branch not yet taken then deoptimises it when first taken, and in Node 20 a deopt that
 * races the loop's on-stack-replacement compile can leave the function running
 * unoptimised for good. That happened to the 8 x 8 kernel in about half of all processes
 * (6.5x slower, measured). With complete feedback from the start there is no such deopt.
 */
export const warmUpGemm = (): void => {
  const M = 11
  const N = 13
  const K = KC + 37
  const A = new Float32Array(M * K)
  const B = new Float32Array(K * N)
  // In column k the first k mod 9 rows are zero: the zero test is taken to every depth
  // (0 to 8 leading zeros) whichever way the operand is packed.
  for (let i = 0; i < M; i++)
    for (let k = 0; k < K; k++) {
      const z = i < k % 9 || k < i % 9
      A[i * K + k] = z ? 0 : ((i * 37 + k * 11) % 11) - 5
    }
  for (let i = 0; i < B.length; i++) B[i] = ((i * 13) % 7) - 3
  const C = new Float32Array(M * N)
  for (let rep = 0; rep < 2; rep++)
    for (const transA of [false, true])
      for (const transB of [false, true])
        for (const acc of [false, true]) {
          gemmTs(C, A, B, M, N, K, transA, transB, acc)
          gemmTs(C, A, B, 1, N, K, transA, transB, acc)
        }
}
