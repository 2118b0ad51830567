// SHA-256 (FIPS 180-4) in plain TypeScript, so hashing parameters needs no `node:crypto`
// and the core runs unchanged in a browser. Digests equal node:crypto's (tested on many
// inputs); the hex digest of a snapshot's bytes is the identity of a training state.
//
// Streaming: `update` may be called with any chunking; bytes are buffered into 64-byte
// blocks. Lengths up to 2^53 - 1 bytes are supported (the message length is encoded in
// bits as a 64-bit big-endian number, FIPS 180-4 section 5.1.1).

import { GradstreamError } from './errors.ts'

// First 32 bits of the fractional parts of the cube roots of the first 64 primes (4.2.2).
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
])

// First 32 bits of the fractional parts of the square roots of the first 8 primes (5.3.3).
const H0 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n))

export class Sha256 {
  private readonly h = new Uint32Array(H0)
  private readonly w = new Uint32Array(64)
  private readonly block = new Uint8Array(64)
  private filled = 0
  private length = 0
  private done = false

  /** Adds bytes to the message; returns this for chaining. */
  update(bytes: Uint8Array): this {
    if (this.done) throw new GradstreamError('sha256: expected update before the digest, got update after it')
    this.length += bytes.length
    let i = 0
    if (this.filled > 0) {
      const take = Math.min(64 - this.filled, bytes.length)
      this.block.set(bytes.subarray(0, take), this.filled)
      this.filled += take
      i = take
      if (this.filled < 64) return this
      this.compress(this.block, 0)
      this.filled = 0
    }
    for (; i + 64 <= bytes.length; i += 64) this.compress(bytes, i)
    if (i < bytes.length) {
      this.block.set(bytes.subarray(i), 0)
      this.filled = bytes.length - i
    }
    return this
  }

  /** Pads (5.1.1), compresses the last block(s) and returns the digest as 64 hex digits. */
  hex(): string {
    if (this.done) throw new GradstreamError('sha256: expected one digest, got a second call')
    const bits = this.length * 8
    const tail = new Uint8Array(this.filled < 56 ? 64 : 128)
    tail.set(this.block.subarray(0, this.filled))
    tail[this.filled] = 0x80
    const view = new DataView(tail.buffer)
    view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000))
    view.setUint32(tail.length - 4, bits >>> 0)
    for (let o = 0; o < tail.length; o += 64) this.compress(tail, o)
    this.done = true
    let out = ''
    for (const v of this.h) out += v.toString(16).padStart(8, '0')
    return out
  }

  // One 64-byte block (6.2.2): message schedule, then 64 rounds.
  private compress(bytes: Uint8Array, o: number): void {
    const w = this.w
    for (let t = 0; t < 16; t++) {
      const j = o + 4 * t
      w[t] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3]
    }
    for (let t = 16; t < 64; t++) {
      const a = w[t - 15]
      const b = w[t - 2]
      const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3)
      const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10)
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0
    }
    const h = this.h
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
    for (let t = 0; t < 64; t++) {
      const S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
      const ch = (e & f) ^ (~e & g)
      const t1 = (hh + S1 + ch + K[t] + w[t]) | 0
      const S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
      const maj = (a & b) ^ (a & c) ^ (b & c)
      const t2 = (S0 + maj) | 0
      hh = g
      g = f
      f = e
      e = (d + t1) | 0
      d = c
      c = b
      b = a
      a = (t1 + t2) | 0
    }
    h[0] += a
    h[1] += b
    h[2] += c
    h[3] += d
    h[4] += e
    h[5] += f
    h[6] += g
    h[7] += hh
  }
}

/** SHA-256 of the bytes behind a typed array (or any view), as 64 lowercase hex digits. */
export const sha256Hex = (data: ArrayBufferView): string =>
  new Sha256().update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).hex()
