// The pure-TS SHA-256 against node:crypto, on lengths around every padding boundary,
// random chunkings of the same message, typed-array views with offsets, and FIPS 180-4's
// published examples.

import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { key, uniform } from '../../src/core/rng.ts'
import { Sha256, sha256Hex } from '../../src/core/sha256.ts'

const nodeHex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

// Deterministic bytes from the library's own keyed generator.
const bytesOf = (n: number, seed: number): Uint8Array => Uint8Array.from(uniform(key(seed), n), (u) => Math.floor(u * 256))

describe('sha256', () => {
  it('matches the FIPS 180-4 examples', () => {
    const enc = new TextEncoder()
    expect(sha256Hex(enc.encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(sha256Hex(enc.encode(''))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    expect(sha256Hex(enc.encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    )
  })

  it('equals node:crypto for every length 0..300 and some large ones', () => {
    for (let n = 0; n <= 300; n++) {
      const b = bytesOf(n, n)
      expect(sha256Hex(b), `length ${n}`).toBe(nodeHex(b))
    }
    for (const n of [1000, 4095, 4096, 65_537, 1_000_003]) {
      const b = bytesOf(n, n)
      expect(sha256Hex(b), `length ${n}`).toBe(nodeHex(b))
    }
  })

  it('gives the same digest for any chunking', () => {
    const b = bytesOf(5000, 7)
    const want = nodeHex(b)
    const cuts = uniform(key(8), 200)
    for (let trial = 0; trial < 20; trial++) {
      const h = new Sha256()
      let at = 0
      let c = trial * 10
      while (at < b.length) {
        const len = Math.floor(cuts[c++ % cuts.length] * (trial < 10 ? 70 : 700))
        h.update(b.subarray(at, at + len))
        at += len
      }
      expect(h.hex()).toBe(want)
    }
  })

  it('hashes the bytes of a typed-array view, not its whole buffer', () => {
    const f = uniform(key(3), 1000)
    const view = f.subarray(17, 901)
    expect(sha256Hex(view)).toBe(nodeHex(new Uint8Array(f.buffer, 17 * 4, 884 * 4)))
  })

  it('refuses to update or digest after the digest', () => {
    const h = new Sha256().update(new Uint8Array(3))
    h.hex()
    expect(() => h.update(new Uint8Array(1))).toThrow(/update after it/)
    expect(() => h.hex()).toThrow(/second call/)
  })
})
