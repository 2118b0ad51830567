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

/** The records and labels of `labelsApart`: two event logs, ids `<ms>-<seq>` as Redis gives them. */
export interface LabelsApart {
  /** The records without their label, with an id `rid` ("r<i>"); bad lines as they were. */
  readonly recLines: string[]
  /** Record i at ms 1000 (i + 1). */
  readonly recIds: string[]
  /** The labels in arrival order: record i's, `at` ms; one in 40 never comes. */
  readonly labels: { readonly i: number; readonly at: number; readonly kind: string }[]
  /** Each label's id: its ms, and a sequence number when two share one. */
  readonly labIds: string[]
  /** Each label as a record {rid, kind}. */
  readonly labLines: string[]
}

/** Splits a stream into records and labels that arrive 5 s to 5 s + spreadMs later (so they overtake each other). */
export const labelsApart = (data: StreamData, seed: number, spreadMs: number): LabelsApart => {
  const n = data.lines.length
  const u = uniform(key(seed), n, 'float64')
  const recLines = data.lines.map((l, i) => {
    if (data.bad.includes(i)) return l
    const o = JSON.parse(l) as Record<string, unknown>
    return JSON.stringify({ ...Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'kind')), rid: `r${i}` })
  })
  const labels = data.lines
    .map((l, i) => ({ i, at: 1000 * (i + 1) + Math.round(5000 + u[i] * spreadMs), kind: data.bad.includes(i) ? 'a' : (JSON.parse(l) as { kind: string }).kind }))
    .filter((l) => l.i % 40 !== 3)
    .sort((p, q) => p.at - q.at || p.i - q.i)
  const labIds: string[] = []
  for (let k = 0; k < labels.length; k++) {
    const prev = k > 0 && labels[k - 1].at === labels[k].at ? Number(labIds[k - 1].split('-')[1]) + 1 : 0
    labIds.push(`${labels[k].at}-${prev}`)
  }
  return {
    recLines,
    recIds: Array.from({ length: n }, (_, i) => `${1000 * (i + 1)}-0`),
    labels,
    labIds,
    labLines: labels.map((l) => JSON.stringify({ rid: `r${l.i}`, kind: l.kind })),
  }
}
