// One term of a weighted sum of flat float32 vectors, in place:
//
//   out[i] = (first ? 0 : out[i]) + fl32(w g[i])          for i < out.length
//
// rounded to float32 after the product and after the sum, and returning
// sum_i fl32(w g[i]) * 0, which is 0 when every term is finite and NaN otherwise (the
// finiteness check rides along). It is the microbatch reduction of streams/shards.ts,
// grads = sum_s (B_s / B) g_s folded in shard order, over every parameter of the model,
// on the main thread once per shard: at 235k parameters a JavaScript loop costs ~0.5-1 ms
// a term, the SIMD kernel (kernels.wat `wadd`) a tenth of that with the copies.
//
// Both backends give the same bits: Math.fround(w * g) is the double product rounded once
// to float32, which is what the kernel's promote / f64 multiply / demote computes; the
// sum of two float32 values rounded to float32 is the same in either. (NaN payloads may
// differ; a non-finite gradient is skipped whole by the step, so they are never used.)

import { kernelBackend } from './backend.ts'
import { streamPair, streamThrough } from './wasm/instance.ts'

/** The TypeScript twin (the reference, and the path for short vectors). */
export function weightedAddTs(out: Float32Array, g: Float32Array, w: number, first: boolean): number {
  const n = out.length
  // Four probes, not one: a single running sum is a chain of dependent additions.
  let p0 = 0
  let p1 = 0
  let p2 = 0
  let p3 = 0
  let i = 0
  if (first) {
    for (; i + 4 <= n; i += 4) {
      const a = Math.fround(w * g[i])
      const b = Math.fround(w * g[i + 1])
      const c = Math.fround(w * g[i + 2])
      const d = Math.fround(w * g[i + 3])
      // 0 + v, not v: the fold's first sum turns -0 into +0.
      out[i] = 0 + a
      out[i + 1] = 0 + b
      out[i + 2] = 0 + c
      out[i + 3] = 0 + d
      p0 += a * 0
      p1 += b * 0
      p2 += c * 0
      p3 += d * 0
    }
    for (; i < n; i++) {
      const v = Math.fround(w * g[i])
      out[i] = 0 + v
      p0 += v * 0
    }
    return p0 + p1 + p2 + p3
  }
  for (; i + 4 <= n; i += 4) {
    const a = Math.fround(w * g[i])
    const b = Math.fround(w * g[i + 1])
    const c = Math.fround(w * g[i + 2])
    const d = Math.fround(w * g[i + 3])
    out[i] += a
    out[i + 1] += b
    out[i + 2] += c
    out[i + 3] += d
    p0 += a * 0
    p1 += b * 0
    p2 += c * 0
    p3 += d * 0
  }
  for (; i < n; i++) {
    const v = Math.fround(w * g[i])
    out[i] += v
    p0 += v * 0
  }
  return p0 + p1 + p2 + p3
}

/** Below this many floats the copies into the kernel memory cost more than they save. */
const SMALL = 1024

/** The SIMD path: out (unless first) and g copied into the kernel memory, `wadd`, out copied back, CHUNK floats at a time. */
export function weightedAddSimd(out: Float32Array, g: Float32Array, w: number, first: boolean): number {
  const n = out.length
  if (n < SMALL) return weightedAddTs(out, g, w, first)
  return streamPair(out, out, g, n, first, (k, oAt, gAt, m) => k.wadd(oAt, gAt, m, w, first ? 1 : 0))
}

/** out = (first ? 0 : out) + fl32(w g) on this thread's kernel backend; 0, or NaN if a term is not finite. */
export const weightedAdd = (out: Float32Array, g: Float32Array, w: number, first: boolean): number =>
  kernelBackend() === 'simd' ? weightedAddSimd(out, g, w, first) : weightedAddTs(out, g, w, first)

// Two terms at once: weightedAdd(out, ga, wa, first) then weightedAdd(out, gb, wb, false),
// element by element in one pass (the same two roundings in the same order: the same bits).
// The reduction of two or more shards takes its terms in pairs: on the SIMD path each
// operand is copied into the kernel memory once and out back once (kernels.wat `wadd2`).

/** The TypeScript twin of the pair. */
export function weightedAdd2Ts(out: Float32Array, ga: Float32Array, gb: Float32Array, wa: number, wb: number, first: boolean): number {
  const n = out.length
  let pa = 0
  let pb = 0
  for (let i = 0; i < n; i++) {
    const a = Math.fround(wa * ga[i])
    const b = Math.fround(wb * gb[i])
    // a float32 sum of float32 values, rounded once: what the kernel's f32 add gives
    out[i] = Math.fround((first ? 0 : out[i]) + a) + b
    pa += a * 0
    pb += b * 0
  }
  return pa + pb
}

/** The SIMD path of the pair: out (unless first), ga and gb copied in, `wadd2`, out copied back. */
export function weightedAdd2Simd(out: Float32Array, ga: Float32Array, gb: Float32Array, wa: number, wb: number, first: boolean): number {
  const n = out.length
  if (n < SMALL) return weightedAdd2Ts(out, ga, gb, wa, wb, first)
  return streamThrough(out, out, [ga, gb], n, first, (k, oAt, [aAt, bAt], m) => k.wadd2(oAt, aAt, bAt, m, wa, wb, first ? 1 : 0))
}

/** out = ((first ? 0 : out) + fl32(wa ga)) + fl32(wb gb), each sum rounded to float32; 0, or NaN if a term is not finite. */
export const weightedAdd2 = (out: Float32Array, ga: Float32Array, gb: Float32Array, wa: number, wb: number, first: boolean): number =>
  kernelBackend() === 'simd' ? weightedAdd2Simd(out, ga, gb, wa, wb, first) : weightedAdd2Ts(out, ga, gb, wa, wb, first)
