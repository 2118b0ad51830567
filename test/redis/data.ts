// A labelled NDJSON stream with bad lines at known positions (deterministic, from keys).

import { key, normal, split, uniform } from '../../src/core/rng.ts'

export interface StreamData {
  readonly lines: string[]
  /** Positions (0-based) of the lines the learner must reject. */
  readonly bad: number[]
}

const BAD = [
  (f: number[]) => `{"f0":${f[0]},"f1":`, // invalid json
  (f: number[]) => JSON.stringify({ f0: f[0], f1: f[1], kind: 'a' }), // missing fields
  (f: number[]) => JSON.stringify({ ...Object.fromEntries(f.map((v, i) => [`f${i}`, i === 2 ? 'x' : v])), kind: 'b' }), // non-numeric
  (f: number[]) => JSON.stringify({ ...Object.fromEntries(f.map((v, i) => [`f${i}`, v])), kind: 'zebra' }), // unknown class
  (f: number[]) => `{${f.map((v, i) => `"f${i}":${i === 1 ? '1e999' : v}`).join(',')},"kind":"c"}`, // non-finite
  () => '[1,2,3]', // not an object
]

/** n records of D features in 3 classes a, b, c (Gaussian blobs); about badRate of them bad. */
export const streamData = (n: number, D = 8, badRate = 0.02, seed = 7): StreamData => {
  const [kc, kx, kb] = split(key(seed), 3)
  const centres = normal(kc, 3 * D, 'float64', 0, 2)
  const z = normal(kx, n * D, 'float64', 0, 1)
  const u = uniform(kb, n, 'float64')
  const lines: string[] = []
  const bad: number[] = []
  for (let i = 0; i < n; i++) {
    const c = (i * 7 + (i >> 3)) % 3
    const f = Array.from({ length: D }, (_, d) => Math.round((centres[c * D + d] + z[i * D + d]) * 1000) / 1000)
    if (u[i] < badRate) {
      lines.push(BAD[bad.length % BAD.length](f))
      bad.push(i)
    } else lines.push(JSON.stringify({ ...Object.fromEntries(f.map((v, d) => [`f${d}`, v])), kind: 'abc'[c] }))
  }
  return { lines, bad }
}
