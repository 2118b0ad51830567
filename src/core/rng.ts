// Seeded, splittable random keys (counter-based, as in JAX).
//
// A Key is two 32-bit words. Random bits are Threefry-2x32 (20 rounds; Salmon et
// al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) of a counter under the
// key, so a draw depends only on (key, index): no hidden state, any draw can be
// recomputed, and replay is exact. No global random source is used anywhere in src/.
//
// Splitting scheme (documented so replays can be reasoned about):
//   foldIn(key, d)      = threefry(key, [d, 0x9E3779B9])   -- a child key per integer d
//   split(key, n)[i]    = foldIn(key, i)
//   bits(key, n)[2j+w]  = word w of threefry(key, [j, 0])  -- the stream of raw bits
// The two counter spaces differ in their second word, so children never reuse the
// bits of their parent.

import { GradstreamError } from './errors.ts'
import type { DType, F } from './tensor.ts'
import { alloc } from './tensor.ts'

export interface Key {
  readonly k0: number
  readonly k1: number
}

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r))

const ROT = [13, 15, 26, 6, 17, 29, 16, 24] as const
const SKEIN_PARITY = 0x1bd11bda

/** Threefry-2x32-20 of the counter (c0, c1) under (k0, k1); writes two words into out. */
const threefry = (k0: number, k1: number, c0: number, c1: number, out: Uint32Array | Int32Array, at: number): void => {
  const ks0 = k0 | 0
  const ks1 = k1 | 0
  const ks2 = (SKEIN_PARITY ^ ks0 ^ ks1) | 0
  let x0 = (c0 + ks0) | 0
  let x1 = (c1 + ks1) | 0
  for (let block = 0; block < 5; block++) {
    const r = (block & 1) * 4
    for (let i = 0; i < 4; i++) {
      x0 = (x0 + x1) | 0
      x1 = rotl(x1, ROT[r + i]) ^ x0
    }
    // Key injection after every four rounds.
    const s = block + 1
    const ka = s % 3 === 0 ? ks0 : s % 3 === 1 ? ks1 : ks2
    const kb = s % 3 === 0 ? ks1 : s % 3 === 1 ? ks2 : ks0
    x0 = (x0 + ka) | 0
    x1 = (x1 + kb + s) | 0
  }
  out[at] = x0
  out[at + 1] = x1
}

const scratch = new Uint32Array(2)

/** The raw block function, exported for known-answer tests: two words of Threefry-2x32-20. */
export const threefry2x32 = (k: Key, c0: number, c1: number): [number, number] => {
  const out = new Uint32Array(2)
  threefry(k.k0, k.k1, c0, c1, out, 0)
  return [out[0], out[1]]
}

const checkSeed = (seed: number): void => {
  if (!Number.isInteger(seed) || seed < 0 || seed > Number.MAX_SAFE_INTEGER)
    throw new GradstreamError(`key: expected a seed that is a non-negative safe integer, got ${seed}`)
}

/** The root key of a seed (any non-negative safe integer). */
export const key = (seed: number): Key => {
  checkSeed(seed)
  const lo = seed >>> 0
  const hi = Math.floor(seed / 4294967296) >>> 0
  threefry(0, 0, lo, hi, scratch, 0)
  return { k0: scratch[0], k1: scratch[1] }
}

/** A child key for the integer d (a layer index, an epoch, a step). */
export const foldIn = (k: Key, d: number): Key => {
  threefry(k.k0, k.k1, d >>> 0, 0x9e3779b9, scratch, 0)
  return { k0: scratch[0], k1: scratch[1] }
}

/** n independent child keys. */
export const split = (k: Key, n = 2): Key[] => Array.from({ length: n }, (_, i) => foldIn(k, i))

/** n raw 32-bit words. */
export const bits = (k: Key, n: number): Uint32Array => {
  const out = new Uint32Array(n + (n & 1))
  for (let j = 0; 2 * j < n; j++) threefry(k.k0, k.k1, j, 0, out, 2 * j)
  return n & 1 ? out.subarray(0, n) : out
}

const TWO_M24 = 1 / 16777216

/**
 * n uniform draws in [lo, hi). Each draw uses the top 24 bits of a word, so the value
 * in [0, 1) is exactly representable in float32 and never rounds up to 1.
 */
export const uniform = (k: Key, n: number, dtype: DType = 'float32', lo = 0, hi = 1): F => {
  const w = bits(k, n)
  const out = alloc(dtype, n)
  const span = hi - lo
  for (let i = 0; i < n; i++) out[i] = lo + span * ((w[i] >>> 8) * TWO_M24)
  return out
}

/** n standard normal draws (Box-Muller on pairs of uniforms). */
export const normal = (k: Key, n: number, dtype: DType = 'float32', mean = 0, std = 1): F => {
  const w = bits(k, n + (n & 1))
  const out = alloc(dtype, n)
  for (let i = 0; i < n; i += 2) {
    // u1 in (0, 1] so the log is finite.
    const u1 = ((w[i] >>> 8) + 1) * TWO_M24
    const u2 = (w[i + 1] >>> 8) * TWO_M24
    const r = Math.sqrt(-2 * Math.log(u1))
    out[i] = mean + std * r * Math.cos(2 * Math.PI * u2)
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2)
  }
  return out
}

/** A uniform integer in [0, n) from one word (multiply-shift; bias < n / 2^32). */
export const intBelow = (word: number, n: number): number => Math.floor((word >>> 0) * (n / 4294967296))

/** A permutation of 0..n-1 (Fisher-Yates driven by the key). */
export const permutation = (k: Key, n: number): Int32Array => {
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = i
  const w = bits(k, n)
  for (let i = n - 1; i > 0; i--) {
    const j = intBelow(w[i], i + 1)
    const t = out[i]
    out[i] = out[j]
    out[j] = t
  }
  return out
}

/** 16 hex digits; the inverse of keyFromHex (used in checkpoints). */
export const keyToHex = (k: Key): string =>
  (k.k0 >>> 0).toString(16).padStart(8, '0') + (k.k1 >>> 0).toString(16).padStart(8, '0')

export const keyFromHex = (hex: string): Key => {
  if (!/^[0-9a-f]{16}$/i.test(hex))
    throw new GradstreamError(`keyFromHex: expected 16 hex digits, got ${JSON.stringify(hex)}`)
  return { k0: parseInt(hex.slice(0, 8), 16) >>> 0, k1: parseInt(hex.slice(8), 16) >>> 0 }
}
