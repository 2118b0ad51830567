// ADWIN and Page-Hinkley on synthetic error streams with a known change point: detected
// within a bounded delay, and never on a stationary stream of 100,000 values.

import { from, lastValueFrom, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { key, uniform } from '../../src/core/rng.ts'
import type { DriftDetector } from '../../src/streams/drift.ts'
import { detectDrift } from '../../src/streams/drift.ts'
import { adwin } from '../../src/streams/drift-adwin.ts'
import { pageHinkley } from '../../src/streams/drift-page-hinkley.ts'

/** Bernoulli errors: rate p before `at` (1-based), q from there on. */
const errors = (n: number, p: number, q: number, at: number, seed: number): number[] => {
  const u = uniform(key(seed), n, 'float64')
  return Array.from(u, (v, i) => (v < (i + 1 < at ? p : q) ? 1 : 0))
}

const drifts = async (xs: number[], make: () => DriftDetector) => lastValueFrom(from(xs).pipe(detectDrift(make), toArray()))

const DETECTORS: [string, () => DriftDetector, number][] = [
  // name, detector, the longest delay allowed after an abrupt change of the error rate 0.1 -> 0.5
  ['adwin', () => adwin(), 300],
  ['page-hinkley', () => pageHinkley(), 300],
]

describe.each(DETECTORS)('%s', (name, make, maxDelay) => {
  it('signals nothing on stationary streams of 100,000 errors', async () => {
    for (const [p, seed] of [[0.1, 1], [0.3, 2], [0.5, 3]] as const) {
      const d = await drifts(errors(100_000, p, p, Infinity, seed), make)
      expect(d, `rate ${p}`).toEqual([])
    }
  })

  it('signals an abrupt rise of the error rate within a bounded delay', async () => {
    for (const seed of [4, 5, 6, 7, 8]) {
      const at = 20_000
      const d = await drifts(errors(40_000, 0.1, 0.5, at, seed), make)
      expect(d.length, `seed ${seed}`).toBeGreaterThanOrEqual(1)
      const first = d[0]
      expect(first.type).toBe('drift')
      expect(first.detector).toBe(name)
      expect(first.step).toBeGreaterThanOrEqual(at)
      expect(first.step - at).toBeLessThanOrEqual(maxDelay)
    }
  })

  it('is a function of the values: the same stream gives the same events', async () => {
    const xs = errors(30_000, 0.2, 0.6, 10_000, 9)
    expect(await drifts(xs, make)).toEqual(await drifts(xs, make))
  })
})

describe('adwin', () => {
  it('keeps a growing window while stationary and cuts it to about the new regime after a change', () => {
    const d = adwin()
    const xs = errors(20_000, 0.1, 0.5, 10_001, 11)
    let at = 0
    for (let i = 0; i < xs.length; i++) {
      const hit = d.update(xs[i])
      if (i + 1 === 10_000) {
        expect(d.describe().width).toBe(10_000)
        expect(d.describe().mean).toBeCloseTo(0.1, 1)
      }
      if (hit && at === 0) at = i + 1
    }
    // After the change the old regime has been dropped: the window holds (mostly) new values.
    const s = d.describe()
    expect(at).toBeGreaterThan(10_000)
    expect(s.width).toBeLessThan(20_000 - 10_000 + 200)
    expect(s.mean).toBeCloseTo(0.5, 1)
  })

  it('keeps the window exact: its mean and variance are those of the values it holds', () => {
    const d = adwin()
    const u = Array.from(uniform(key(12), 5000, 'float64'))
    for (const v of u) d.update(v)
    const s = d.describe()
    expect(s.width).toBe(5000)
    const mean = u.reduce((a, b) => a + b, 0) / u.length
    const variance = u.reduce((a, b) => a + (b - mean) ** 2, 0) / u.length
    expect(s.mean).toBeCloseTo(mean, 10)
    expect(s.variance).toBeCloseTo(variance, 10)
  })
})

describe('pageHinkley', () => {
  it("with River's delta (0.005) or fading (1 - 1e-4) raises false alarms on 0/1 errors; the defaults do not", async () => {
    const xs = errors(100_000, 0.5, 0.5, Infinity, 14)
    expect((await drifts(xs, () => pageHinkley({ delta: 0.005 }))).length).toBeGreaterThan(0)
    expect((await drifts(xs, () => pageHinkley({ alpha: 1 - 1e-4 }))).length).toBeGreaterThan(0)
    expect(await drifts(xs, () => pageHinkley())).toEqual([])
  })

  it('in mode up (the default) ignores a falling error rate; in mode down signals it', async () => {
    const xs = errors(40_000, 0.5, 0.1, 20_000, 13)
    expect(await drifts(xs, () => pageHinkley())).toEqual([])
    const down = await drifts(xs, () => pageHinkley({ mode: 'down' }))
    expect(down.length).toBeGreaterThanOrEqual(1)
    expect(down[0].step - 20_000).toBeLessThanOrEqual(300)
  })

  it('refuses bad settings with one line', () => {
    expect(() => pageHinkley({ threshold: 0 })).toThrow('pageHinkley: expected threshold > 0, got 0')
    expect(() => adwin({ delta: 2 })).toThrow('adwin: expected delta in (0, 1), got 2')
    expect(() => adwin().update(NaN)).toThrow('adwin: expected finite values, got NaN')
  })
})
