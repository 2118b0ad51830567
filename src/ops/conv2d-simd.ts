// The SIMD twins of conv2d.ts's three kernels (same signatures, same equations; see the
// module comment there). Each is a matrix product on kernels.wat's `mm`, whose gathered
// operand reads the im2col matrix A[r, t] = x'[start(r) + off(t)] in place (r an output
// pixel, t = (p kw + q) C + c a kernel tap, x' the zero-padded input; A is never built):
//
//   forward        y[r, o]   = fl(s + b[o]),  s = sum_t A[r, t] k'[t, o]        rows r, panels of o
//   kernel grad    dk'[t, o] = sum_r A[r, t] dy[r, o]                             rows t, panels of o
//   input grad     D[r, t]   = sum_o dy[r, o] k'[t, o];  dx' = col2im(D)          rows r, panels of t
//
// with k'[p,q,c,o] = T[c,o] k[p,q,c,o] (or the flipped kernel), the products summed in
// float32 in gemm-simd.ts's fixed order (slabs of 256 along the reduction, k ascending),
// the kernel gradient over the images chunk by chunk in order, the col2im scatter in
// (r, t) order, the bias gradient in double over r ascending. Chunks depend only on
// the shapes (imagesPerChunk), so every result is the same bits on every run and thread count.
//   (cnn-layers-softmax eqs 1-3; deep-learning-lecture-notes eqs 28-34, 45-54;
//    cnn-derivation-lenet eqs 1, 9-17)

import type { F } from '../core/tensor.ts'
import type { Conv2dGeometry } from './conv2d-geometry.ts'
import { addColumnSums, fillEffectiveKernel, imagesPerChunk } from './conv2d-geometry.ts'
import { KC, packBytes, packedMm, packPanels } from './gemm-simd.ts'
import { Layout, workspace } from './wasm/instance.ts'

let kEff = new Float32Array(0)
let dbSum = new Float64Array(0)

/** k' as a [K, O] matrix (flip and connection table applied): k itself when there is neither. */
function effectiveKernel(k: F, g: Conv2dGeometry, flip: boolean, table: Uint8Array | null): F {
  if (!flip && table === null) return k // [kh, kw, C, O] is already [K, O] with t = (p kw + q) C + c
  const { kh, kw, C, O } = g
  const CO = C * O
  if (kEff.length < kh * kw * CO) kEff = new Float32Array(kh * kw * CO)
  fillEffectiveKernel(kEff, k, g, flip, table)
  return kEff
}

/** Extent of the padded image the windows read: [Hs, Ws, inside] (inside: no padding needed). */
function extent(g: Conv2dGeometry): [number, number, boolean] {
  const Hp = (g.Ho - 1) * g.sh + g.kh
  const Wp = (g.Wo - 1) * g.sw + g.kw
  const inside = g.top === 0 && g.left === 0 && Hp <= g.H && Wp <= g.W
  return inside ? [g.H, g.W, true] : [Hp, Wp, false]
}

/** x' of `n` images at float index `o` of f32: x itself, or zero-padded to Hs x Ws. */
function putImage(f32: Float32Array, o: number, x: F, x0: number, n: number, g: Conv2dGeometry, Hs: number, Ws: number, inside: boolean): void {
  const { H, W, C, top, left } = g
  if (inside) {
    f32.set(x.subarray(x0, x0 + n * H * W * C), o)
    return
  }
  f32.fill(0, o, o + n * Hs * Ws * C)
  for (let b = 0; b < n; b++)
    for (let h = 0; h < H; h++) {
      const u = h + top
      if (u >= Hs) break
      const wEnd = Math.min(W, Ws - left)
      if (wEnd <= 0) continue
      const s = x0 + ((b * H + h) * W) * C
      const d = o + ((b * Hs + u) * Ws + left) * C
      f32.set(x.subarray(s, s + wEnd * C), d)
    }
}

/** starts (bytes) of the n Ho x Wo windows, r = (n Ho + i) Wo + j, at int index `o`. */
function putStarts(i32: Int32Array, o: number, n: number, g: Conv2dGeometry, Hs: number, Ws: number): void {
  const { C, sh, sw, Ho, Wo } = g
  for (let b = 0, r = o; b < n; b++)
    for (let i = 0; i < Ho; i++) {
      const s = (b * Hs + i * sh) * Ws * C
      for (let j = 0; j < Wo; j++, r++) i32[r] = (s + j * sw * C) * 4
    }
}

/** off(t) = p Ws C + q C + c (bytes) for the K taps, at int index `o`. */
function putOffsets(i32: Int32Array, o: number, g: Conv2dGeometry, Ws: number): void {
  const span = g.kw * g.C
  for (let p = 0, t = o; p < g.kh; p++) for (let u = 0; u < span; u++, t++) i32[t] = (p * Ws * g.C + u) * 4
}

// y[n,i,j,o] = b[o] + sum_{p,q,c} x[n, i*sh+p-top, j*sw+q-left, c] k'[p,q,c,o]   (conv2d.ts conv2dForward)
export function conv2dForwardSimd(y: F, x: F, k: F, b: F, g: Conv2dGeometry, flip = false, table: Uint8Array | null = null): void {
  const { B, H, W, C, O, kh, kw, Ho, Wo } = g
  const K = kh * kw * C
  const kk = effectiveKernel(k, g, flip, table)
  const [Hs, Ws, inside] = extent(g)
  const n = imagesPerChunk(g)
  const slabs = Math.ceil(K / KC)
  const L = new Layout()
  const srcAt = L.take(n * Hs * Ws * C * 4)
  const rsAt = L.take(n * Ho * Wo * 4)
  const csAt = L.take(K * 4)
  const kAt = L.take(K * O * 4 + 32) // k' [K, O], read in place (row stride 4 O)
  const cAt = L.take(n * Ho * Wo * O * 4)
  const bAt = L.take(O * 4)
  // With more than one 8-column panel, each slab of the im2col matrix is gathered once
  // into row blocks (pack4) instead of once per panel (gemm-simd.ts does the same).
  const pack = O > 8
  const apAt = pack ? L.take(packBytes(n * Ho * Wo, Math.min(K, KC))) : 0
  const ws = workspace(L.end)
  const { f32, i32 } = ws
  f32.set(kk.subarray(0, K * O), kAt >> 2)
  if (b instanceof Float32Array) f32.set(b.subarray(0, O), bAt >> 2)
  putOffsets(i32, csAt >> 2, g, Ws)
  for (let n0 = 0; n0 < B; n0 += n) {
    const nb = Math.min(n, B - n0)
    const M = nb * Ho * Wo
    putImage(f32, srcAt >> 2, x, n0 * H * W * C, nb, g, Hs, Ws, inside)
    putStarts(i32, rsAt >> 2, nb, g, Hs, Ws)
    for (let s = 0; s < slabs; s++) {
      const kc = Math.min(KC, K - s * KC)
      if (pack) packedMm(ws.k, apAt, cAt, O * 4, srcAt, rsAt, csAt + s * KC * 4, kAt + s * KC * O * 4, O * 4, 32, M, O, kc, s > 0 ? 1 : 0)
      else ws.k.mm(cAt, O * 4, srcAt, rsAt, csAt + s * KC * 4, kAt + s * KC * O * 4, O * 4, 32, M, O, kc, s > 0 ? 1 : 0)
    }
    // y = s + b: float32 sums (bias_rows) when b is float32, else in double rounded by the store
    const c0 = cAt >> 2
    const y0 = n0 * Ho * Wo * O
    if (b instanceof Float32Array) {
      ws.k.bias_rows(cAt, bAt, M, O)
      y.set(f32.subarray(c0, c0 + M * O), y0)
    } else
      for (let e = 0, o = 0, n = M * O; e < n; e++) {
        y[y0 + e] = f32[c0 + e] + b[o]
        if (++o === O) o = 0
      }
  }
}

// dk[p,q,c,o] = T[c,o] sum_{n,i,j} x[n, i*sh+p'-top, j*sw+q'-left, c] dy[n,i,j,o]; db[o] = sum dy[..., o]
//                                                                   (conv2d.ts conv2dBackwardParams)
export function conv2dBackwardParamsSimd(dk: F, db: F, dy: F, x: F, g: Conv2dGeometry, flip = false, table: Uint8Array | null = null): void {
  const { B, H, W, C, O, kh, kw, Ho, Wo } = g
  const K = kh * kw * C
  const [Hs, Ws, inside] = extent(g)
  const n = imagesPerChunk(g)
  const L = new Layout()
  const srcAt = L.take(n * Hs * Ws * C * 4)
  const rsAt = L.take(K * 4) // rows: the taps
  const csAt = L.take(n * Ho * Wo * 4) // reduction: the window corners
  const dyAt = L.take(n * Ho * Wo * O * 4 + 32) // dy [M, O], read in place (row stride 4 O)
  const cAt = L.take(K * O * 4)
  const pack = O > 8 // as in the forward pass
  const apAt = pack ? L.take(packBytes(K, Math.min(n * Ho * Wo, KC))) : 0
  const ws = workspace(L.end)
  const { f32, i32 } = ws
  putOffsets(i32, rsAt >> 2, g, Ws)
  let first = true
  for (let n0 = 0; n0 < B; n0 += n) {
    const nb = Math.min(n, B - n0)
    const M = nb * Ho * Wo
    putImage(f32, srcAt >> 2, x, n0 * H * W * C, nb, g, Hs, Ws, inside)
    putStarts(i32, csAt >> 2, nb, g, Hs, Ws)
    f32.set(dy.subarray(n0 * Ho * Wo * O, (n0 + nb) * Ho * Wo * O), dyAt >> 2)
    for (let r0 = 0; r0 < M; r0 += KC) {
      const kc = Math.min(KC, M - r0)
      if (pack) packedMm(ws.k, apAt, cAt, O * 4, srcAt, rsAt, csAt + r0 * 4, dyAt + r0 * O * 4, O * 4, 32, K, O, kc, first ? 0 : 1)
      else ws.k.mm(cAt, O * 4, srcAt, rsAt, csAt + r0 * 4, dyAt + r0 * O * 4, O * 4, 32, K, O, kc, first ? 0 : 1)
      first = false
    }
  }
  const c0 = cAt >> 2
  if (first) f32.fill(0, c0, c0 + K * O) // no images
  // Back from k' to the stored k: undo the flip; absent pairs get exactly 0.
  const CO = C * O
  for (let p = 0; p < kh; p++)
    for (let q = 0; q < kw; q++) {
      const dst = (p * kw + q) * CO
      const at = c0 + (flip ? ((kh - 1 - p) * kw + (kw - 1 - q)) * CO : dst)
      if (table === null) for (let e = 0; e < CO; e++) dk[dst + e] = f32[at + e]
      else for (let e = 0; e < CO; e++) dk[dst + e] = table[e] === 1 ? f32[at + e] : 0
    }
  // db[o] = sum_r dy[r, o], in double, r ascending                 (cnn-derivation-lenet eq 10)
  if (dbSum.length < O) dbSum = new Float64Array(O)
  dbSum.fill(0, 0, O)
  addColumnSums(dbSum, dy, B * Ho * Wo, O)
  for (let o = 0; o < O; o++) db[o] = dbSum[o]
}

// dx[n,h,w,c] = sum over windows covering (h,w) of sum_o dy[n,i,j,o] k'[p,q,c,o]   (conv2d.ts conv2dBackwardInput)
export function conv2dBackwardInputSimd(dx: F, dy: F, k: F, g: Conv2dGeometry, flip = false, table: Uint8Array | null = null): void {
  const { B, H, W, C, O, kh, kw, top, left, Ho, Wo } = g
  const K = kh * kw * C
  const kk = effectiveKernel(k, g, flip, table)
  const [Hs, Ws, inside] = extent(g)
  const n = imagesPerChunk(g)
  const slabs = Math.ceil(O / KC)
  const slabBytes = Math.ceil(K / 8) * Math.min(O, KC) * 32
  const L = new Layout()
  const dyAt = L.take(n * Ho * Wo * O * 4)
  const rsAt = L.take(n * Ho * Wo * 4) // rows of dy (bytes), then window corners
  const csAt = L.take(Math.max(O, K) * 4) // channels of dy (bytes), then tap offsets
  const bpAt = L.take(slabs * slabBytes)
  const dAt = L.take(n * Ho * Wo * K * 4)
  const dstAt = L.take(n * Hs * Ws * C * 4)
  // dy in row blocks per slab (pack4): read by every one of the ceil(K / 8) tap panels
  const pack = K > 8
  const apAt = pack ? L.take(packBytes(n * Ho * Wo, Math.min(O, KC))) : 0
  const ws = workspace(L.end)
  const { f32, i32 } = ws
  // Bp(o, t) = k'[t, o]: panels of 8 taps over the channels
  for (let s = 0; s < slabs; s++) packPanels(f32, bpAt + s * slabBytes, kk, K, O, true, s * KC, Math.min(KC, O - s * KC))
  for (let n0 = 0; n0 < B; n0 += n) {
    const nb = Math.min(n, B - n0)
    const M = nb * Ho * Wo
    f32.set(dy.subarray(n0 * Ho * Wo * O, (n0 + nb) * Ho * Wo * O), dyAt >> 2)
    for (let r = 0, o = rsAt >> 2; r < M; r++) i32[o + r] = r * O * 4
    for (let c = 0, o = csAt >> 2; c < O; c++) i32[o + c] = c * 4
    for (let s = 0; s < slabs; s++) {
      const kc = Math.min(KC, O - s * KC)
      if (pack) packedMm(ws.k, apAt, dAt, K * 4, dyAt, rsAt, csAt + s * KC * 4, bpAt + s * slabBytes, 32, kc * 32, M, K, kc, s > 0 ? 1 : 0)
      else ws.k.mm(dAt, K * 4, dyAt, rsAt, csAt + s * KC * 4, bpAt + s * slabBytes, 32, kc * 32, M, K, kc, s > 0 ? 1 : 0)
    }
    // col2im onto the zeroed padded image, then crop into dx
    const d0 = dstAt >> 2
    f32.fill(0, d0, d0 + nb * Hs * Ws * C)
    putStarts(i32, rsAt >> 2, nb, g, Hs, Ws)
    putOffsets(i32, csAt >> 2, g, Ws)
    ws.k.scatter(dstAt, dAt, rsAt, csAt, M, K)
    const x0 = n0 * H * W * C
    if (inside) {
      dx.set(f32.subarray(d0, d0 + nb * H * W * C), x0)
      continue
    }
    dx.fill(0, x0, x0 + nb * H * W * C)
    for (let b = 0; b < nb; b++)
      for (let h = 0; h < H; h++) {
        const u = h + top
        if (u >= Hs) break
        const wEnd = Math.min(W, Ws - left)
        if (wEnd <= 0) continue
        const s = d0 + ((b * Hs + u) * Ws + left) * C
        dx.set(f32.subarray(s, s + wEnd * C), x0 + (b * H + h) * W * C)
      }
  }
}
