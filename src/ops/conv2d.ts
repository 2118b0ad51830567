// 2D convolution, NHWC: stride, zero padding, optional 180-degree kernel flip, optional
// sparse connection table. x [B,H,W,C], k [kh,kw,C,O], b [O], y [B,Ho,Wo,O].
//
//   y[n,i,j,o] = b[o] + sum_{p,q,c} x[n, i*sh+p-top, j*sw+q-left, c] k'[p,q,c,o]
//   k'[p,q,c,o] = T[c,o] k[p,q,c,o]        or, with flip, T[c,o] k[kh-1-p, kw-1-q, c, o]
//
// (cnn-layers-softmax eqs 1-3; deep-learning-lecture-notes eqs 28-34 and, strided, 45-54;
// cnn-derivation-lenet eqs 1 and 9-17 for the connection table T.) x outside the image is
// 0. Gradients are w.r.t. the stored k and are exactly 0 wherever T[c,o] = 0.
//
// How it is computed. Read as a matrix product, the convolution is
//   y[r, o] = b[o] + sum_t A[r, t] k'[t, o],   r = (n,i,j) < M = B*Ho*Wo,  t = (p,q,c) < K = kh*kw*C,
// where row r of A is the receptive field of output pixel r (the im2col matrix, batched over
// the whole minibatch). A is never built: in NHWC the kw*C values of one kernel row are
// contiguous, so A[r, t] = src[start(r) + off(t)], with start(r) the corner of r's window and
// off(t) = p*Ws*C + q*C + c. `src` is x itself, or a float64 copy of x, zero-padded when there
// is padding so that every window lies inside it. Each product is a register-tiled loop over
// 8 x 8 blocks (64 local accumulators), the micro-kernel scheme of gemm.ts without copying A
// into panels (measured faster than im2col + gemm on the benchmark CNN's layers, at batch 1
// and 32; 8 x 8 measured 5-10% faster than 4 x 4):
//   forward        y   = A k' + b         tile: 8 output pixels x 8 output channels, over t
//   kernel grad    dk' = A^T dy           tile: 8 kernel taps x 8 output channels, over r
//   input grad     dA  = dy k'^T          tile: 8 output pixels x 8 kernel taps, over o,
//                                         then scattered back onto the image (col2im)
// All sums are accumulated in double precision whatever the storage precision. Where all
// eight input values of a step are zero (MNIST's blank background is ~80% of its pixels)
// the forward and kernel-gradient tiles skip the step: it would add only zeros (for
// finite operands), so the sums are unchanged.
//
// Scratch (the padded input, the packed kernel, window starts and tap offsets, float64 dy,
// the kernel-gradient accumulator) lives in module-level buffers grown on demand, as gemm.ts
// does for its panels. Results never live there, and a call uses them only while it runs.
// Large batches are processed a few images at a time to bound the scratch (SCRATCH_LIMIT).

import type { F } from '../core/tensor.ts'
import type { Conv2dGeometry } from './conv2d-geometry.ts'
import { addColumnSums, fillEffectiveKernel, imagesPerChunk } from './conv2d-geometry.ts'
import { kernelBackend } from './backend.ts'
import { conv2dBackwardInputSimd, conv2dBackwardParamsSimd, conv2dForwardSimd } from './conv2d-simd.ts'

export type { Conv2dGeometry } from './conv2d-geometry.ts'
export { samePadding } from './conv2d-geometry.ts'

// ---- backend dispatch ------------------------------------------------------------------
// Float32 operands on the 'simd' backend go to the SIMD twins (conv2d-simd.ts); everything
// else (the 'ts' backend, Float64 gradient checks) to the TypeScript kernels below.

const f32 = (v: F): boolean => v instanceof Float32Array
const simdF32 = (a: F, b: F, c: F, d: F): boolean => f32(a) && f32(b) && f32(c) && f32(d) && kernelBackend() === 'simd'

/** conv2dForwardTs's contract, on the selected backend. */
export function conv2dForward(y: F, x: F, k: F, b: F, g: Conv2dGeometry, flip = false, table: Uint8Array | null = null): void {
  if (simdF32(y, x, k, b)) conv2dForwardSimd(y, x, k, b, g, flip, table)
  else conv2dForwardTs(y, x, k, b, g, flip, table)
}

/** conv2dBackwardParamsTs's contract, on the selected backend. */
export function conv2dBackwardParams(dk: F, db: F, dy: F, x: F, g: Conv2dGeometry, flip = false, table: Uint8Array | null = null): void {
  if (simdF32(dk, db, dy, x)) conv2dBackwardParamsSimd(dk, db, dy, x, g, flip, table)
  else conv2dBackwardParamsTs(dk, db, dy, x, g, flip, table)
}

/** conv2dBackwardInputTs's contract, on the selected backend. */
export function conv2dBackwardInput(dx: F, dy: F, k: F, g: Conv2dGeometry, flip = false, table: Uint8Array | null = null): void {
  if (simdF32(dx, dy, k, k)) conv2dBackwardInputSimd(dx, dy, k, g, flip, table)
  else conv2dBackwardInputTs(dx, dy, k, g, flip, table)
}

// ---- scratch -------------------------------------------------------------------------

let pad = new Float64Array(0)
let dy64 = new Float64Array(0)
let kEff = new Float64Array(0) // k' as [K, O]
let kPanels = new Float64Array(0) // k' packed in 8-wide panels (PC)
let dkAcc = new Float64Array(0)
let dbAcc = new Float64Array(0)
let starts = new Int32Array(0)
let offsets = new Int32Array(0)
const tile = new Float64Array(64)

/** a from element `at` on (a view, no copy). */
const from = (a: F, at: number): F => (at === 0 ? a : a.subarray(at))

/**
 * The array the windows read, with its row and column extent: [src, Hs, Ws]. That is x
 * itself ([x, H, W]) when x is Float64 and every window lies inside the image. Otherwise it
 * is a Float64 scratch holding xp[n,u,v,c] = x[n, u-top, v-left, c] (0 outside the image),
 * with Hs = (Ho-1)sh + kh and Ws = (Wo-1)sw + kw, exactly the extent the windows cover (or
 * H, W when no padding is needed and only the precision changes). Reading float64 in the
 * inner loops spares a conversion per multiply. With copy = false the scratch is only
 * zeroed: it is then the scatter target of the input gradient.
 */
function source(x: F, g: Conv2dGeometry, copy: boolean): [F, number, number] {
  const { B, H, W, C, kh, kw, sh, sw, top, left, Ho, Wo } = g
  const Hp = (Ho - 1) * sh + kh
  const Wp = (Wo - 1) * sw + kw
  const inside = top === 0 && left === 0 && Hp <= H && Wp <= W
  if (inside && x instanceof Float64Array) return [x, H, W]
  const Hs = inside ? H : Hp
  const Ws = inside ? W : Wp
  const n = B * Hs * Ws * C
  if (pad.length < n) pad = new Float64Array(n)
  const xp = pad
  if (inside) {
    if (copy) for (let e = 0; e < n; e++) xp[e] = x[e]
    else xp.fill(0, 0, n)
    return [xp, Hs, Ws]
  }
  xp.fill(0, 0, n)
  if (copy)
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++) {
        const u = h + top
        if (u >= Hs) break
        for (let w = 0; w < W; w++) {
          const v = w + left
          if (v >= Ws) break
          const s = ((b * H + h) * W + w) * C
          const d = ((b * Hs + u) * Ws + v) * C
          for (let c = 0; c < C; c++) xp[d + c] = x[s + c]
        }
      }
  return [xp, Hs, Ws]
}

/** dy in Float64 (itself if it already is). */
function asFloat64(dy: F, n: number): Float64Array {
  if (dy instanceof Float64Array) return dy
  if (dy64.length < n) dy64 = new Float64Array(n)
  for (let e = 0; e < n; e++) dy64[e] = dy[e]
  return dy64
}

// k'[t, o] for t = (p*kw + q)*C + c, as a [K, O] matrix in kEff (module comment).
function effectiveKernel(k: F, g: Conv2dGeometry, flip: boolean, table: Uint8Array | null): Float64Array {
  const { kh, kw, C, O } = g
  const CO = C * O
  if (kEff.length < kh * kw * CO) kEff = new Float64Array(kh * kw * CO)
  fillEffectiveKernel(kEff, k, g, flip, table)
  return kEff
}

/** off(t) = p*Ws*C + q*C + c for t = (p*kw + q)*C + c: where tap t sits relative to a window's corner. */
function tapOffsets(g: Conv2dGeometry, Ws: number): Int32Array {
  const { kh, kw, C } = g
  const span = kw * C
  if (offsets.length < kh * span) offsets = new Int32Array(kh * span)
  for (let p = 0, t = 0; p < kh; p++) for (let u = 0; u < span; u++, t++) offsets[t] = p * Ws * C + u
  return offsets
}

/** starts[r] = index in src of the corner of output pixel r's window, r = (n*Ho + i)*Wo + j. */
function windowStarts(g: Conv2dGeometry, Hs: number, Ws: number): Int32Array {
  const { B, C, sh, sw, Ho, Wo } = g
  if (starts.length < B * Ho * Wo) starts = new Int32Array(B * Ho * Wo)
  for (let n = 0, r = 0; n < B; n++)
    for (let i = 0; i < Ho; i++) {
      const s = (n * Hs + i * sh) * Ws * C
      for (let j = 0; j < Wo; j++, r++) starts[r] = s + j * sw * C
    }
  return starts
}

// ---- forward -------------------------------------------------------------------------

// y[n,i,j,o] = b[o] + sum_{p,q,c} x[n, i*sh+p-top, j*sw+q-left, c] k'[p,q,c,o]
// x [B,H,W,C], k [kh,kw,C,O], b [O], y [B,Ho,Wo,O] (overwritten); table [C*O] (1 = connected) or null.
//      (cnn-layers-softmax eq 1; deep-learning-lecture-notes eqs 30, 47; cnn-derivation-lenet eq 1)
export function conv2dForwardTs(
  y: F,
  x: F,
  k: F,
  b: F,
  g: Conv2dGeometry,
  flip = false,
  table: Uint8Array | null = null,
): void {
  const { B, H, W, C, O, kh, kw, Ho, Wo } = g
  const K = kh * kw * C
  const PC = 8
  const kk = effectiveKernel(k, g, flip, table)
  const panels = Math.ceil(O / PC)
  if (kPanels.length < panels * K * PC) kPanels = new Float64Array(panels * K * PC)
  for (let ob = 0; ob < panels; ob++)
    for (let t = 0; t < K; t++)
      for (let l = 0; l < PC; l++) {
        const o = ob * PC + l
        kPanels[(ob * K + t) * PC + l] = o < O ? kk[t * O + o] : 0
      }
  const n = imagesPerChunk(g)
  for (let n0 = 0; n0 < B; n0 += n) {
    const gc = n >= B ? g : { ...g, B: Math.min(n, B - n0) }
    forwardImages(from(y, n0 * Ho * Wo * O), from(x, n0 * H * W * C), b, gc)
  }
}

/** conv2dForward on the images of g, with k' already in kPanels. */
function forwardImages(y: F, x: F, b: F, g: Conv2dGeometry): void {
  const { B, O, C, kh, kw, Ho, Wo } = g
  const span = kw * C
  const K = kh * span
  const M = B * Ho * Wo
  const [src, Hs, Ws] = source(x, g, true)
  const st = windowStarts(g, Hs, Ws)
  const rowStride = Ws * C
  const kp = kPanels
  const panels = Math.ceil(O / 8)
  for (let r0 = 0; r0 < M; r0 += 8) {
    const h = Math.min(8, M - r0)
    // window corners of the pixels (lanes past h repeat the last pixel and are not written)
    const s0 = st[r0]
    const s1 = st[r0 + Math.min(1, h - 1)]
    const s2 = st[r0 + Math.min(2, h - 1)]
    const s3 = st[r0 + Math.min(3, h - 1)]
    const s4 = st[r0 + Math.min(4, h - 1)]
    const s5 = st[r0 + Math.min(5, h - 1)]
    const s6 = st[r0 + Math.min(6, h - 1)]
    const s7 = st[r0 + Math.min(7, h - 1)]
    for (let ob = 0; ob < panels; ob++) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0
      let c40 = 0, c41 = 0, c42 = 0, c43 = 0, c44 = 0, c45 = 0, c46 = 0, c47 = 0
      let c50 = 0, c51 = 0, c52 = 0, c53 = 0, c54 = 0, c55 = 0, c56 = 0, c57 = 0
      let c60 = 0, c61 = 0, c62 = 0, c63 = 0, c64 = 0, c65 = 0, c66 = 0, c67 = 0
      let c70 = 0, c71 = 0, c72 = 0, c73 = 0, c74 = 0, c75 = 0, c76 = 0, c77 = 0
      let kq = ob * K * 8
      for (let p = 0; p < kh; p++) {
        const po = p * rowStride
        const x0 = s0 + po, x1 = s1 + po, x2 = s2 + po, x3 = s3 + po, x4 = s4 + po, x5 = s5 + po, x6 = s6 + po, x7 = s7 + po
        for (let u = 0; u < span; u++, kq += 8) {
          const k0 = kp[kq + 0], k1 = kp[kq + 1], k2 = kp[kq + 2], k3 = kp[kq + 3], k4 = kp[kq + 4], k5 = kp[kq + 5], k6 = kp[kq + 6], k7 = kp[kq + 7]
          const a0 = src[x0 + u], a1 = src[x1 + u], a2 = src[x2 + u], a3 = src[x3 + u]
          const a4 = src[x4 + u], a5 = src[x5 + u], a6 = src[x6 + u], a7 = src[x7 + u]
          // All eight pixels zero at this tap (blank background): nothing to add.
          if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0 && a4 === 0 && a5 === 0 && a6 === 0 && a7 === 0) continue
          c00 += a0 * k0; c01 += a0 * k1; c02 += a0 * k2; c03 += a0 * k3; c04 += a0 * k4; c05 += a0 * k5; c06 += a0 * k6; c07 += a0 * k7
          c10 += a1 * k0; c11 += a1 * k1; c12 += a1 * k2; c13 += a1 * k3; c14 += a1 * k4; c15 += a1 * k5; c16 += a1 * k6; c17 += a1 * k7
          c20 += a2 * k0; c21 += a2 * k1; c22 += a2 * k2; c23 += a2 * k3; c24 += a2 * k4; c25 += a2 * k5; c26 += a2 * k6; c27 += a2 * k7
          c30 += a3 * k0; c31 += a3 * k1; c32 += a3 * k2; c33 += a3 * k3; c34 += a3 * k4; c35 += a3 * k5; c36 += a3 * k6; c37 += a3 * k7
          c40 += a4 * k0; c41 += a4 * k1; c42 += a4 * k2; c43 += a4 * k3; c44 += a4 * k4; c45 += a4 * k5; c46 += a4 * k6; c47 += a4 * k7
          c50 += a5 * k0; c51 += a5 * k1; c52 += a5 * k2; c53 += a5 * k3; c54 += a5 * k4; c55 += a5 * k5; c56 += a5 * k6; c57 += a5 * k7
          c60 += a6 * k0; c61 += a6 * k1; c62 += a6 * k2; c63 += a6 * k3; c64 += a6 * k4; c65 += a6 * k5; c66 += a6 * k6; c67 += a6 * k7
          c70 += a7 * k0; c71 += a7 * k1; c72 += a7 * k2; c73 += a7 * k3; c74 += a7 * k4; c75 += a7 * k5; c76 += a7 * k6; c77 += a7 * k7
        }
      }
      const o0 = ob * 8
      const w = Math.min(8, O - o0)
      if (h === 8 && w === 8) {
        let d = r0 * O + o0
        y[d + 0] = c00 + b[o0 + 0]; y[d + 1] = c01 + b[o0 + 1]; y[d + 2] = c02 + b[o0 + 2]; y[d + 3] = c03 + b[o0 + 3]; y[d + 4] = c04 + b[o0 + 4]; y[d + 5] = c05 + b[o0 + 5]; y[d + 6] = c06 + b[o0 + 6]; y[d + 7] = c07 + b[o0 + 7]; d += O
        y[d + 0] = c10 + b[o0 + 0]; y[d + 1] = c11 + b[o0 + 1]; y[d + 2] = c12 + b[o0 + 2]; y[d + 3] = c13 + b[o0 + 3]; y[d + 4] = c14 + b[o0 + 4]; y[d + 5] = c15 + b[o0 + 5]; y[d + 6] = c16 + b[o0 + 6]; y[d + 7] = c17 + b[o0 + 7]; d += O
        y[d + 0] = c20 + b[o0 + 0]; y[d + 1] = c21 + b[o0 + 1]; y[d + 2] = c22 + b[o0 + 2]; y[d + 3] = c23 + b[o0 + 3]; y[d + 4] = c24 + b[o0 + 4]; y[d + 5] = c25 + b[o0 + 5]; y[d + 6] = c26 + b[o0 + 6]; y[d + 7] = c27 + b[o0 + 7]; d += O
        y[d + 0] = c30 + b[o0 + 0]; y[d + 1] = c31 + b[o0 + 1]; y[d + 2] = c32 + b[o0 + 2]; y[d + 3] = c33 + b[o0 + 3]; y[d + 4] = c34 + b[o0 + 4]; y[d + 5] = c35 + b[o0 + 5]; y[d + 6] = c36 + b[o0 + 6]; y[d + 7] = c37 + b[o0 + 7]; d += O
        y[d + 0] = c40 + b[o0 + 0]; y[d + 1] = c41 + b[o0 + 1]; y[d + 2] = c42 + b[o0 + 2]; y[d + 3] = c43 + b[o0 + 3]; y[d + 4] = c44 + b[o0 + 4]; y[d + 5] = c45 + b[o0 + 5]; y[d + 6] = c46 + b[o0 + 6]; y[d + 7] = c47 + b[o0 + 7]; d += O
        y[d + 0] = c50 + b[o0 + 0]; y[d + 1] = c51 + b[o0 + 1]; y[d + 2] = c52 + b[o0 + 2]; y[d + 3] = c53 + b[o0 + 3]; y[d + 4] = c54 + b[o0 + 4]; y[d + 5] = c55 + b[o0 + 5]; y[d + 6] = c56 + b[o0 + 6]; y[d + 7] = c57 + b[o0 + 7]; d += O
        y[d + 0] = c60 + b[o0 + 0]; y[d + 1] = c61 + b[o0 + 1]; y[d + 2] = c62 + b[o0 + 2]; y[d + 3] = c63 + b[o0 + 3]; y[d + 4] = c64 + b[o0 + 4]; y[d + 5] = c65 + b[o0 + 5]; y[d + 6] = c66 + b[o0 + 6]; y[d + 7] = c67 + b[o0 + 7]; d += O
        y[d + 0] = c70 + b[o0 + 0]; y[d + 1] = c71 + b[o0 + 1]; y[d + 2] = c72 + b[o0 + 2]; y[d + 3] = c73 + b[o0 + 3]; y[d + 4] = c74 + b[o0 + 4]; y[d + 5] = c75 + b[o0 + 5]; y[d + 6] = c76 + b[o0 + 6]; y[d + 7] = c77 + b[o0 + 7]
      } else {
        tile[0] = c00; tile[1] = c01; tile[2] = c02; tile[3] = c03; tile[4] = c04; tile[5] = c05; tile[6] = c06; tile[7] = c07
        tile[8] = c10; tile[9] = c11; tile[10] = c12; tile[11] = c13; tile[12] = c14; tile[13] = c15; tile[14] = c16; tile[15] = c17
        tile[16] = c20; tile[17] = c21; tile[18] = c22; tile[19] = c23; tile[20] = c24; tile[21] = c25; tile[22] = c26; tile[23] = c27
        tile[24] = c30; tile[25] = c31; tile[26] = c32; tile[27] = c33; tile[28] = c34; tile[29] = c35; tile[30] = c36; tile[31] = c37
        tile[32] = c40; tile[33] = c41; tile[34] = c42; tile[35] = c43; tile[36] = c44; tile[37] = c45; tile[38] = c46; tile[39] = c47
        tile[40] = c50; tile[41] = c51; tile[42] = c52; tile[43] = c53; tile[44] = c54; tile[45] = c55; tile[46] = c56; tile[47] = c57
        tile[48] = c60; tile[49] = c61; tile[50] = c62; tile[51] = c63; tile[52] = c64; tile[53] = c65; tile[54] = c66; tile[55] = c67
        tile[56] = c70; tile[57] = c71; tile[58] = c72; tile[59] = c73; tile[60] = c74; tile[61] = c75; tile[62] = c76; tile[63] = c77
        for (let i = 0; i < h; i++)
          for (let l = 0; l < w; l++) y[(r0 + i) * O + o0 + l] = tile[i * 8 + l] + b[o0 + l]
      }
    }
  }
}

// ---- kernel and bias gradients -------------------------------------------------------

// dk[p,q,c,o] = T[c,o] sum_{n,i,j} x[n, i*sh+p'-top, j*sw+q'-left, c] dy[n,i,j,o],
//   (p',q') = (p,q), or (kh-1-p, kw-1-q) when flip;      db[o] = sum_{n,i,j} dy[n,i,j,o]
// x [B,H,W,C], dy [B,Ho,Wo,O], dk [kh,kw,C,O] and db [O] (both overwritten).
//   (cnn-layers-softmax eq 3; deep-learning-lecture-notes eqs 32, 50; cnn-derivation-lenet
//    eqs 10-13; convnet-notes: grad k = rot180(conv2(a, rot180(delta), 'valid')))
export function conv2dBackwardParamsTs(
  dk: F,
  db: F,
  dy: F,
  x: F,
  g: Conv2dGeometry,
  flip = false,
  table: Uint8Array | null = null,
): void {
  const { B, H, W, C, O, kh, kw, Ho, Wo } = g
  const K = kh * kw * C
  if (dkAcc.length < K * O) dkAcc = new Float64Array(K * O)
  if (dbAcc.length < O) dbAcc = new Float64Array(O)
  const acc = dkAcc
  acc.fill(0, 0, K * O)
  dbAcc.fill(0, 0, O)
  const n = imagesPerChunk(g)
  for (let n0 = 0; n0 < B; n0 += n) {
    const gc = n >= B ? g : { ...g, B: Math.min(n, B - n0) }
    kernelGradImages(from(dy, n0 * Ho * Wo * O), from(x, n0 * H * W * C), gc)
  }

  // Back from k' to the stored k: undo the flip; absent pairs get exactly 0.
  const CO = C * O
  for (let p = 0; p < kh; p++)
    for (let q = 0; q < kw; q++) {
      const dst = (p * kw + q) * CO
      const at = flip ? ((kh - 1 - p) * kw + (kw - 1 - q)) * CO : dst
      if (table === null) for (let e = 0; e < CO; e++) dk[dst + e] = acc[at + e]
      else for (let e = 0; e < CO; e++) dk[dst + e] = table[e] === 1 ? acc[at + e] : 0
    }
  for (let o = 0; o < O; o++) db[o] = dbAcc[o]
}

/** Adds the images of g into dkAcc (dk' as [K, O]) and dbAcc. */
function kernelGradImages(dy: F, x: F, g: Conv2dGeometry): void {
  const { B, O, C, kh, kw, Ho, Wo } = g
  const K = kh * kw * C
  const M = B * Ho * Wo
  const [src, Hs, Ws] = source(x, g, true)
  const off = tapOffsets(g, Ws)
  const st = windowStarts(g, Hs, Ws)
  const dd = asFloat64(dy, M * O)
  const acc = dkAcc

  // dk'[t, o] += sum_r A[r, t] dy[r, o], an 8-tap x 8-channel tile at a time, each tile a
  // sweep over all rows; a row whose 8 taps all read 0 (blank background) adds nothing
  // and is skipped. Lanes past K or O read a valid neighbour and are not written.
  for (let t0 = 0; t0 < K; t0 += 8) {
    const f0 = off[t0]
    const f1 = off[Math.min(t0 + 1, K - 1)]
    const f2 = off[Math.min(t0 + 2, K - 1)]
    const f3 = off[Math.min(t0 + 3, K - 1)]
    const f4 = off[Math.min(t0 + 4, K - 1)]
    const f5 = off[Math.min(t0 + 5, K - 1)]
    const f6 = off[Math.min(t0 + 6, K - 1)]
    const f7 = off[Math.min(t0 + 7, K - 1)]
    for (let o0 = 0; o0 < O; o0 += 8) {
      const e1 = Math.min(o0 + 1, O - 1), e2 = Math.min(o0 + 2, O - 1), e3 = Math.min(o0 + 3, O - 1), e4 = Math.min(o0 + 4, O - 1), e5 = Math.min(o0 + 5, O - 1), e6 = Math.min(o0 + 6, O - 1), e7 = Math.min(o0 + 7, O - 1)
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0
      let c40 = 0, c41 = 0, c42 = 0, c43 = 0, c44 = 0, c45 = 0, c46 = 0, c47 = 0
      let c50 = 0, c51 = 0, c52 = 0, c53 = 0, c54 = 0, c55 = 0, c56 = 0, c57 = 0
      let c60 = 0, c61 = 0, c62 = 0, c63 = 0, c64 = 0, c65 = 0, c66 = 0, c67 = 0
      let c70 = 0, c71 = 0, c72 = 0, c73 = 0, c74 = 0, c75 = 0, c76 = 0, c77 = 0
      for (let r = 0, dr = 0; r < M; r++, dr += O) {
        const s = st[r]
        const a0 = src[s + f0], a1 = src[s + f1], a2 = src[s + f2], a3 = src[s + f3]
        const a4 = src[s + f4], a5 = src[s + f5], a6 = src[s + f6], a7 = src[s + f7]
        if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0 && a4 === 0 && a5 === 0 && a6 === 0 && a7 === 0) continue
        const d0 = dd[dr + o0], d1 = dd[dr + e1], d2 = dd[dr + e2], d3 = dd[dr + e3], d4 = dd[dr + e4], d5 = dd[dr + e5], d6 = dd[dr + e6], d7 = dd[dr + e7]
        c00 += a0 * d0; c01 += a0 * d1; c02 += a0 * d2; c03 += a0 * d3; c04 += a0 * d4; c05 += a0 * d5; c06 += a0 * d6; c07 += a0 * d7
        c10 += a1 * d0; c11 += a1 * d1; c12 += a1 * d2; c13 += a1 * d3; c14 += a1 * d4; c15 += a1 * d5; c16 += a1 * d6; c17 += a1 * d7
        c20 += a2 * d0; c21 += a2 * d1; c22 += a2 * d2; c23 += a2 * d3; c24 += a2 * d4; c25 += a2 * d5; c26 += a2 * d6; c27 += a2 * d7
        c30 += a3 * d0; c31 += a3 * d1; c32 += a3 * d2; c33 += a3 * d3; c34 += a3 * d4; c35 += a3 * d5; c36 += a3 * d6; c37 += a3 * d7
        c40 += a4 * d0; c41 += a4 * d1; c42 += a4 * d2; c43 += a4 * d3; c44 += a4 * d4; c45 += a4 * d5; c46 += a4 * d6; c47 += a4 * d7
        c50 += a5 * d0; c51 += a5 * d1; c52 += a5 * d2; c53 += a5 * d3; c54 += a5 * d4; c55 += a5 * d5; c56 += a5 * d6; c57 += a5 * d7
        c60 += a6 * d0; c61 += a6 * d1; c62 += a6 * d2; c63 += a6 * d3; c64 += a6 * d4; c65 += a6 * d5; c66 += a6 * d6; c67 += a6 * d7
        c70 += a7 * d0; c71 += a7 * d1; c72 += a7 * d2; c73 += a7 * d3; c74 += a7 * d4; c75 += a7 * d5; c76 += a7 * d6; c77 += a7 * d7
      }
      tile[0] = c00; tile[1] = c01; tile[2] = c02; tile[3] = c03; tile[4] = c04; tile[5] = c05; tile[6] = c06; tile[7] = c07
      tile[8] = c10; tile[9] = c11; tile[10] = c12; tile[11] = c13; tile[12] = c14; tile[13] = c15; tile[14] = c16; tile[15] = c17
      tile[16] = c20; tile[17] = c21; tile[18] = c22; tile[19] = c23; tile[20] = c24; tile[21] = c25; tile[22] = c26; tile[23] = c27
      tile[24] = c30; tile[25] = c31; tile[26] = c32; tile[27] = c33; tile[28] = c34; tile[29] = c35; tile[30] = c36; tile[31] = c37
      tile[32] = c40; tile[33] = c41; tile[34] = c42; tile[35] = c43; tile[36] = c44; tile[37] = c45; tile[38] = c46; tile[39] = c47
      tile[40] = c50; tile[41] = c51; tile[42] = c52; tile[43] = c53; tile[44] = c54; tile[45] = c55; tile[46] = c56; tile[47] = c57
      tile[48] = c60; tile[49] = c61; tile[50] = c62; tile[51] = c63; tile[52] = c64; tile[53] = c65; tile[54] = c66; tile[55] = c67
      tile[56] = c70; tile[57] = c71; tile[58] = c72; tile[59] = c73; tile[60] = c74; tile[61] = c75; tile[62] = c76; tile[63] = c77
      const h = Math.min(8, K - t0)
      const w = Math.min(8, O - o0)
      for (let i = 0; i < h; i++) for (let l = 0; l < w; l++) acc[(t0 + i) * O + o0 + l] += tile[i * 8 + l]
    }
  }


  // db[o] += sum_r dy[r, o]                               (cnn-derivation-lenet eq 10)
  addColumnSums(dbAcc, dd, M, O)
}

// ---- input gradient ------------------------------------------------------------------

// dx[n,h,w,c] = sum over (i,j,p,q) with h = i*sh+p-top, w = j*sw+q-left of
//               sum_o dy[n,i,j,o] k'[p,q,c,o]                        (dx overwritten)
// the 'full' correlation of dy with the rotated kernel: dA = dy k'^T scattered (col2im)
// back onto the image, summing where windows overlap. dy [B,Ho,Wo,O], k [kh,kw,C,O], dx [B,H,W,C].
//   (cnn-layers-softmax eq 2; deep-learning-lecture-notes eqs 33-34, 51-54; cnn-derivation-lenet
//    eqs 15-17; convnet-notes: delta a = sum_j conv2(delta z_j, rot180(k_ij), 'full'))
export function conv2dBackwardInputTs(
  dx: F,
  dy: F,
  k: F,
  g: Conv2dGeometry,
  flip = false,
  table: Uint8Array | null = null,
): void {
  const { B, H, W, C, O, kh, kw, Ho, Wo } = g
  const K = kh * kw * C
  // Panels of 8 taps: kPanels[(tb*O + o)*8 + j] = k'[8tb + j, o] (0 past K).
  const kk = effectiveKernel(k, g, flip, table)
  const tBlocks = Math.ceil(K / 8)
  if (kPanels.length < tBlocks * O * 8) kPanels = new Float64Array(tBlocks * O * 8)
  for (let tb = 0; tb < tBlocks; tb++)
    for (let o = 0; o < O; o++)
      for (let j = 0; j < 8; j++) {
        const t = tb * 8 + j
        kPanels[(tb * O + o) * 8 + j] = t < K ? kk[t * O + o] : 0
      }
  const n = imagesPerChunk(g)
  for (let n0 = 0; n0 < B; n0 += n) {
    const gc = n >= B ? g : { ...g, B: Math.min(n, B - n0) }
    inputGradImages(from(dx, n0 * H * W * C), from(dy, n0 * Ho * Wo * O), gc)
  }
}

/** conv2dBackwardInput on the images of g, with k' already in kPanels. */
function inputGradImages(dx: F, dy: F, g: Conv2dGeometry): void {
  const { B, H, W, O, C, kh, kw, top, left, Ho, Wo } = g
  const K = kh * kw * C
  const M = B * Ho * Wo
  // The scatter target: dx itself, or a zeroed padded scratch cropped into dx at the end.
  dx.fill(0, 0, B * H * W * C)
  const [dst, Hs, Ws] = source(dx, g, false)
  const off = tapOffsets(g, Ws)
  const st = windowStarts(g, Hs, Ws)
  const dd = asFloat64(dy, M * O)
  const kq = kPanels
  const tBlocks = Math.ceil(K / 8)

  for (let r0 = 0; r0 < M; r0 += 8) {
    const h = Math.min(8, M - r0)
    const s0 = st[r0]
    const s1 = st[r0 + Math.min(1, h - 1)]
    const s2 = st[r0 + Math.min(2, h - 1)]
    const s3 = st[r0 + Math.min(3, h - 1)]
    const s4 = st[r0 + Math.min(4, h - 1)]
    const s5 = st[r0 + Math.min(5, h - 1)]
    const s6 = st[r0 + Math.min(6, h - 1)]
    const s7 = st[r0 + Math.min(7, h - 1)]
    const y0 = r0 * O
    const y1 = (r0 + Math.min(1, h - 1)) * O
    const y2 = (r0 + Math.min(2, h - 1)) * O
    const y3 = (r0 + Math.min(3, h - 1)) * O
    const y4 = (r0 + Math.min(4, h - 1)) * O
    const y5 = (r0 + Math.min(5, h - 1)) * O
    const y6 = (r0 + Math.min(6, h - 1)) * O
    const y7 = (r0 + Math.min(7, h - 1)) * O
    for (let tb = 0; tb < tBlocks; tb++) {
      // dA[r0+i, 8tb+j] = sum_o dy[r0+i, o] k'[8tb+j, o]
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0
      let c40 = 0, c41 = 0, c42 = 0, c43 = 0, c44 = 0, c45 = 0, c46 = 0, c47 = 0
      let c50 = 0, c51 = 0, c52 = 0, c53 = 0, c54 = 0, c55 = 0, c56 = 0, c57 = 0
      let c60 = 0, c61 = 0, c62 = 0, c63 = 0, c64 = 0, c65 = 0, c66 = 0, c67 = 0
      let c70 = 0, c71 = 0, c72 = 0, c73 = 0, c74 = 0, c75 = 0, c76 = 0, c77 = 0
      let kb = tb * O * 8
      for (let o = 0; o < O; o++, kb += 8) {
        const k0 = kq[kb + 0], k1 = kq[kb + 1], k2 = kq[kb + 2], k3 = kq[kb + 3], k4 = kq[kb + 4], k5 = kq[kb + 5], k6 = kq[kb + 6], k7 = kq[kb + 7]
        const d0 = dd[y0 + o]
        c00 += d0 * k0; c01 += d0 * k1; c02 += d0 * k2; c03 += d0 * k3; c04 += d0 * k4; c05 += d0 * k5; c06 += d0 * k6; c07 += d0 * k7
        const d1 = dd[y1 + o]
        c10 += d1 * k0; c11 += d1 * k1; c12 += d1 * k2; c13 += d1 * k3; c14 += d1 * k4; c15 += d1 * k5; c16 += d1 * k6; c17 += d1 * k7
        const d2 = dd[y2 + o]
        c20 += d2 * k0; c21 += d2 * k1; c22 += d2 * k2; c23 += d2 * k3; c24 += d2 * k4; c25 += d2 * k5; c26 += d2 * k6; c27 += d2 * k7
        const d3 = dd[y3 + o]
        c30 += d3 * k0; c31 += d3 * k1; c32 += d3 * k2; c33 += d3 * k3; c34 += d3 * k4; c35 += d3 * k5; c36 += d3 * k6; c37 += d3 * k7
        const d4 = dd[y4 + o]
        c40 += d4 * k0; c41 += d4 * k1; c42 += d4 * k2; c43 += d4 * k3; c44 += d4 * k4; c45 += d4 * k5; c46 += d4 * k6; c47 += d4 * k7
        const d5 = dd[y5 + o]
        c50 += d5 * k0; c51 += d5 * k1; c52 += d5 * k2; c53 += d5 * k3; c54 += d5 * k4; c55 += d5 * k5; c56 += d5 * k6; c57 += d5 * k7
        const d6 = dd[y6 + o]
        c60 += d6 * k0; c61 += d6 * k1; c62 += d6 * k2; c63 += d6 * k3; c64 += d6 * k4; c65 += d6 * k5; c66 += d6 * k6; c67 += d6 * k7
        const d7 = dd[y7 + o]
        c70 += d7 * k0; c71 += d7 * k1; c72 += d7 * k2; c73 += d7 * k3; c74 += d7 * k4; c75 += d7 * k5; c76 += d7 * k6; c77 += d7 * k7
      }
      // col2im: scatter the tile onto the (padded) image
      const t0 = tb * 8
      if (h === 8 && t0 + 8 <= K) {
        const f0 = off[t0 + 0], f1 = off[t0 + 1], f2 = off[t0 + 2], f3 = off[t0 + 3], f4 = off[t0 + 4], f5 = off[t0 + 5], f6 = off[t0 + 6], f7 = off[t0 + 7]
        dst[s0 + f0] += c00; dst[s0 + f1] += c01; dst[s0 + f2] += c02; dst[s0 + f3] += c03; dst[s0 + f4] += c04; dst[s0 + f5] += c05; dst[s0 + f6] += c06; dst[s0 + f7] += c07
        dst[s1 + f0] += c10; dst[s1 + f1] += c11; dst[s1 + f2] += c12; dst[s1 + f3] += c13; dst[s1 + f4] += c14; dst[s1 + f5] += c15; dst[s1 + f6] += c16; dst[s1 + f7] += c17
        dst[s2 + f0] += c20; dst[s2 + f1] += c21; dst[s2 + f2] += c22; dst[s2 + f3] += c23; dst[s2 + f4] += c24; dst[s2 + f5] += c25; dst[s2 + f6] += c26; dst[s2 + f7] += c27
        dst[s3 + f0] += c30; dst[s3 + f1] += c31; dst[s3 + f2] += c32; dst[s3 + f3] += c33; dst[s3 + f4] += c34; dst[s3 + f5] += c35; dst[s3 + f6] += c36; dst[s3 + f7] += c37
        dst[s4 + f0] += c40; dst[s4 + f1] += c41; dst[s4 + f2] += c42; dst[s4 + f3] += c43; dst[s4 + f4] += c44; dst[s4 + f5] += c45; dst[s4 + f6] += c46; dst[s4 + f7] += c47
        dst[s5 + f0] += c50; dst[s5 + f1] += c51; dst[s5 + f2] += c52; dst[s5 + f3] += c53; dst[s5 + f4] += c54; dst[s5 + f5] += c55; dst[s5 + f6] += c56; dst[s5 + f7] += c57
        dst[s6 + f0] += c60; dst[s6 + f1] += c61; dst[s6 + f2] += c62; dst[s6 + f3] += c63; dst[s6 + f4] += c64; dst[s6 + f5] += c65; dst[s6 + f6] += c66; dst[s6 + f7] += c67
        dst[s7 + f0] += c70; dst[s7 + f1] += c71; dst[s7 + f2] += c72; dst[s7 + f3] += c73; dst[s7 + f4] += c74; dst[s7 + f5] += c75; dst[s7 + f6] += c76; dst[s7 + f7] += c77
      } else {
        tile[0] = c00; tile[1] = c01; tile[2] = c02; tile[3] = c03; tile[4] = c04; tile[5] = c05; tile[6] = c06; tile[7] = c07
        tile[8] = c10; tile[9] = c11; tile[10] = c12; tile[11] = c13; tile[12] = c14; tile[13] = c15; tile[14] = c16; tile[15] = c17
        tile[16] = c20; tile[17] = c21; tile[18] = c22; tile[19] = c23; tile[20] = c24; tile[21] = c25; tile[22] = c26; tile[23] = c27
        tile[24] = c30; tile[25] = c31; tile[26] = c32; tile[27] = c33; tile[28] = c34; tile[29] = c35; tile[30] = c36; tile[31] = c37
        tile[32] = c40; tile[33] = c41; tile[34] = c42; tile[35] = c43; tile[36] = c44; tile[37] = c45; tile[38] = c46; tile[39] = c47
        tile[40] = c50; tile[41] = c51; tile[42] = c52; tile[43] = c53; tile[44] = c54; tile[45] = c55; tile[46] = c56; tile[47] = c57
        tile[48] = c60; tile[49] = c61; tile[50] = c62; tile[51] = c63; tile[52] = c64; tile[53] = c65; tile[54] = c66; tile[55] = c67
        tile[56] = c70; tile[57] = c71; tile[58] = c72; tile[59] = c73; tile[60] = c74; tile[61] = c75; tile[62] = c76; tile[63] = c77
        const w = Math.min(8, K - t0)
        for (let i = 0; i < h; i++) {
          const s = st[r0 + i]
          for (let j = 0; j < w; j++) dst[s + off[t0 + j]] += tile[i * 8 + j]
        }
      }
    }
  }


  if (dst !== dx) {
    // crop the padded gradient: dx[n,h,w,c] = dxp[n, h+top, w+left, c] (rows/columns no window reads stay 0)
    for (let n = 0; n < B; n++)
      for (let h = 0; h < H; h++) {
        const u = h + top
        if (u >= Hs) break
        for (let w = 0; w < W; w++) {
          const v = w + left
          if (v >= Ws) break
          const s = ((n * Hs + u) * Ws + v) * C
          const d = ((n * H + h) * W + w) * C
          for (let c = 0; c < C; c++) dx[d + c] = dst[s + c]
        }
      }
  }
}

/**
 * Every code path once on tiny operands (edge tiles, padding, flip, a connection table,
 * blank inputs), so V8 optimises the kernels with complete type feedback: see the warm-up
 * note in gemm.ts. Called through warmUpKernels (ops/warm-up.ts).
 */
export const warmUpConv2d = (): void => {
  for (const [pad, flip, table] of [
    [0, false, null],
    [1, true, Uint8Array.from({ length: 3 * 9 }, (_, i) => (i % 4 === 0 ? 0 : 1))],
  ] as const) {
    const g: Conv2dGeometry = { B: 2, H: 7, W: 6, C: 3, O: 9, kh: 3, kw: 2, sh: 1, sw: 2, top: pad, left: pad, Ho: 5 + 2 * pad, Wo: 3 + pad }
    const x = new Float32Array(g.B * g.H * g.W * g.C)
    // Zeros in runs of every length, so each comparison of the all-zero tests runs.
    for (let i = 0; i < x.length; i++) x[i] = (i * 7) % 23 < Math.floor(i / 11) % 12 ? 0 : (i % 7) - 3
    const k = new Float32Array(g.kh * g.kw * g.C * g.O).map((_, i) => (i % 5) - 2)
    const y = new Float32Array(g.B * g.Ho * g.Wo * g.O)
    for (let rep = 0; rep < 3; rep++) {
      if (rep === 2) x.fill(0)
      conv2dForwardTs(y, x, k, new Float32Array(g.O), g, flip, table)
      conv2dBackwardParamsTs(new Float32Array(k.length), new Float32Array(g.O), y, x, g, flip, table)
      conv2dBackwardInputTs(new Float32Array(x.length), y, k, g, flip, table)
    }
  }
}
