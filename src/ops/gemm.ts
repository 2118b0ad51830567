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
// an MR x NR register tile of C is accumulated in local variables (which V8 keeps in
// registers). Packed panels are Float64Array whatever the operands' precision, so the
// inner kernel sees one element type and accumulates in double. Small products (a
// batch of one, a thin reduction) skip packing: there the copy costs more than it saves.

import type { F } from '../tensor.ts'

const MR = 4
const NR = 4
const KC = 256

// Scratch for packed panels, grown on demand and reused by every call. Results never
// live here: a call writes C and returns, so reuse is invisible from outside.
let packA = new Float64Array(MR * KC)
let packB = new Float64Array(NR * KC * 64)

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

/** C[i0:i0+h, j0:j0+w] (+)= packA strip x packB panel p, over kc. */
function microKernel(
  C: F,
  N: number,
  i0: number,
  j0: number,
  h: number,
  w: number,
  p: number,
  kc: number,
  add: boolean,
): void {
  const a = packA
  const b = packB
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0
  let ia = 0
  let ib = p * kc * NR
  for (let k = 0; k < kc; k++) {
    const a0 = a[ia], a1 = a[ia + 1], a2 = a[ia + 2], a3 = a[ia + 3]
    const b0 = b[ib], b1 = b[ib + 1], b2 = b[ib + 2], b3 = b[ib + 3]
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3
    ia += MR
    ib += NR
  }
  if (h === MR && w === NR) {
    let o = i0 * N + j0
    if (add) {
      C[o] += c00; C[o + 1] += c01; C[o + 2] += c02; C[o + 3] += c03; o += N
      C[o] += c10; C[o + 1] += c11; C[o + 2] += c12; C[o + 3] += c13; o += N
      C[o] += c20; C[o + 1] += c21; C[o + 2] += c22; C[o + 3] += c23; o += N
      C[o] += c30; C[o + 1] += c31; C[o + 2] += c32; C[o + 3] += c33
    } else {
      C[o] = c00; C[o + 1] = c01; C[o + 2] = c02; C[o + 3] = c03; o += N
      C[o] = c10; C[o + 1] = c11; C[o + 2] = c12; C[o + 3] = c13; o += N
      C[o] = c20; C[o + 1] = c21; C[o + 2] = c22; C[o + 3] = c23; o += N
      C[o] = c30; C[o + 1] = c31; C[o + 2] = c32; C[o + 3] = c33
    }
    return
  }
  // Edge tile: write only the valid part.
  const t = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33]
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++) {
      const o = (i0 + i) * N + j0 + j
      C[o] = add ? C[o] + t[i * NR + j] : t[i * NR + j]
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
 * innermost loop runs along contiguous memory for each transpose case.
 */
function gemmDirect(C: F, A: F, B: F, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean): void {
  if (!accumulate) C.fill(0, 0, M * N)
  if (!transB) {
    // C[i,:] += op(A)[i,k] * B[k,:]  (an axpy per (i,k): rows of B are contiguous)
    for (let i = 0; i < M; i++) {
      const ci = i * N
      for (let k = 0; k < K; k++) {
        const a = transA ? A[k * M + i] : A[i * K + k]
        if (a === 0) continue
        const bk = k * N
        for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j]
      }
    }
  } else {
    // C[i,j] = sum_k op(A)[i,k] * B[j,k]  (a dot product: rows of B are contiguous)
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0
        const bj = j * K
        if (!transA) {
          const ai = i * K
          for (let k = 0; k < K; k++) s += A[ai + k] * B[bj + k]
        } else {
          for (let k = 0; k < K; k++) s += A[k * M + i] * B[bj + k]
        }
        C[i * N + j] += s
      }
    }
  }
}

/**
 * C[M,N] (+)= op(A)[M,K] op(B)[K,N]. Writes C only (A, B are read); C must not alias
 * A or B.
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
