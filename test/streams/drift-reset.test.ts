// Drift detection inside online(): on a stream with a known concept change, the detector
// signals after the change; `reset` re-initialises the model (from the reset key) and so
// recovers accuracy faster than the model that has to unlearn; `warn` changes no bit; the
// detectors' saved state restores exactly, and a run resumed from a checkpoint (with the
// drift state) signals and resets at the same examples and ends on the same bits.

import { lastValueFrom, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { key, permutation, uniform } from '../../src/core/rng.ts'
import { decodeCheckpoint, encodeCheckpoint } from '../../src/io/checkpoint.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import { momentum } from '../../src/models/optimizers.ts'
import { mlp } from '../../src/models/zoo/mlp.ts'
import { adwin } from '../../src/streams/drift-adwin.ts'
import { pageHinkley } from '../../src/streams/drift-page-hinkley.ts'
import type { DriftDetector } from '../../src/streams/drift.ts'
import type { OnlineDrift, SavedDrift } from '../../src/streams/drift-reset.ts'
import { resetKey } from '../../src/streams/drift-reset.ts'
import type { OnlineDriftEvent, OnlineEvent, OnlineExample, OnlineOptions, OnlineSnapshotEvent } from '../../src/streams/online.ts'
import { online } from '../../src/streams/online.ts'
import type { Snapshot } from '../../src/streams/snapshot.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import { initialSnapshot } from '../../src/streams/train.ts'
import { blobs } from '../helpers.ts'

const CHANGE = 3000
const N = 6000

/** Three Gaussian blobs; from example CHANGE + 1 on, the labels are rotated (0 -> 1 -> 2 -> 0). */
const conceptChange = (): OnlineExample[] => {
  const b = blobs(N / 3, 3, 4, 5)
  const order = permutation(key(9), N)
  return Array.from(order, (j, i) => {
    const l = b.labels![j]
    return { features: b.x.data.subarray(j * 4, (j + 1) * 4), label: i < CHANGE ? l : (l + 1) % 3 }
  })
}

const objective = (): AnyObjective => supervised(mlp({ hidden: [16], classes: 3 }), softmaxCrossEntropy(), [4]) as AnyObjective
const opt = () => momentum(0.01, { momentum: 0.9 })

const run = (data: OnlineExample[], options: OnlineOptions = {}): Promise<OnlineEvent[]> =>
  lastValueFrom(online(objective(), opt(), data, { seed: 3, snapshotEvery: 100, window: 100, ...options }).pipe(toArray()))

const snaps = (es: OnlineEvent[]) => es.filter((e): e is OnlineSnapshotEvent => e.type === 'snapshot')
const driftsOf = (es: OnlineEvent[]) => es.filter((e): e is OnlineDriftEvent => e.type === 'drift')
/** Prequential accuracy over examples (a, b]: from the cumulative accuracies of the snapshots at a and b. */
const accuracyBetween = (es: OnlineEvent[], a: number, b: number): number => {
  const at = (n: number) => {
    const s = snaps(es).find((e) => e.metrics.examples === n)
    if (s === undefined) throw new Error(`no snapshot at ${n}`)
    return s.metrics.accuracy * n
  }
  return (at(b) - at(a)) / (b - a)
}

describe('online() with a drift detector', () => {
  const data = conceptChange()

  it('reset recovers accuracy after a concept change faster than no reset (ADWIN and Page-Hinkley)', async () => {
    const plain = await run(data)
    // the detector, the longest delay of its first reset, and the accuracy over examples
    // 3,001-4,000 it must beat no reset's by (measured: adwin resets at 3,040 and reaches
    // 0.945, Page-Hinkley at 3,780 and 0.877; no reset 0.853)
    const cases = [
      [() => adwin(), 200, 0.08],
      [() => pageHinkley(), 1000, 0.02],
    ] as const
    for (const [make, delay, margin] of cases) {
      const warned = await run(data, { drift: { detector: make, onDrift: 'warn' } })
      const reset = await run(data, { drift: { detector: make, onDrift: 'reset' } })
      // warn watches only: the same bits as no detector
      expect(hashParams(snaps(warned).at(-1)!.snapshot)).toBe(hashParams(snaps(plain).at(-1)!.snapshot))
      const w = driftsOf(warned)
      expect(w.length).toBeGreaterThanOrEqual(1)
      expect(w.every((d) => !d.reset)).toBe(true)
      // ADWIN also signals the falling error of early learning: reported, no reset
      const first = driftsOf(reset).find((d) => d.reset)!
      expect(first.step).toBeGreaterThan(CHANGE)
      expect(first.step).toBeLessThan(CHANGE + delay)
      expect(snaps(reset).at(-1)!.metrics.resets).toBeGreaterThanOrEqual(1)
      // before the change both learn alike; after it, over the next 1,000 examples:
      const before = accuracyBetween(plain, 2000, 3000)
      expect(before).toBeGreaterThan(0.95)
      const withReset = accuracyBetween(reset, 3000, 4000)
      const without = accuracyBetween(plain, 3000, 4000)
      expect(withReset).toBeGreaterThan(without + margin)
    }
  })

  it('re-initialises from foldIn(foldIn(key, RESET), n): the parameters right after the first reset are init\'s from that key', async () => {
    const es = await run(data.slice(0, 3400), { drift: { detector: () => adwin(), onDrift: 'reset' }, snapshotEvery: 1 })
    const d = driftsOf(es).find((e) => e.reset)!
    const after = snaps(es).find((e) => e.metrics.examples === d.step)!
    const fresh = initialSnapshot(objective(), opt(), resetKey(key(3), 0))
    if (fresh._tag === 'Left') throw fresh.left
    expect(hashParams(after.snapshot)).toBe(hashParams(fresh.right))
    expect(after.snapshot.step).toBe(d.step) // the counters go on
    expect(after.snapshot.opt.step).toBe(0)
  })

  it('a run resumed from a checkpoint with the drift state resets at the same examples and ends on the same bits', async () => {
    for (const make of [() => adwin(), () => pageHinkley()]) {
      const drift: OnlineDrift = { detector: make, onDrift: 'reset' }
      const whole = await run(data, { drift })
      for (const cut of [3020, 4500]) {
        let saved: { snapshot: Snapshot; drift?: SavedDrift } | undefined
        await run(data.slice(0, cut), { drift, checkpoint: { every: cut, save: (snapshot, _m, d) => (saved = { snapshot, drift: d }) } })
        if (saved === undefined) throw new Error('no checkpoint')
        const bytes = encodeCheckpoint(saved.snapshot, { model: objective().spec, optimizer: opt().spec, extra: { drift: JSON.stringify(saved.drift) } })
        const c = decodeCheckpoint(bytes)
        const resume = JSON.parse(c.extra.drift) as SavedDrift
        const rest = await run(data.slice(cut), { initial: c.snapshot, drift: { ...drift, resume } })
        expect(hashParams(snaps(rest).at(-1)!.snapshot), `cut ${cut}`).toBe(hashParams(snaps(whole).at(-1)!.snapshot))
        const steps = (es: OnlineEvent[]) => driftsOf(es).map((d) => `${d.step}${d.reset ? 'r' : ''}`)
        expect([...steps((await run(data.slice(0, cut), { drift })) ), ...steps(rest)]).toEqual(steps(whole))
        expect(snaps(rest).at(-1)!.drift!.resets).toBe(snaps(whole).at(-1)!.drift!.resets)
      }
    }
  })
})

describe('detector save / restore', () => {
  const errs = Array.from(uniform(key(4), 20_000, 'float64'), (u, i) => (u < (i < 10_000 ? 0.1 : 0.4) ? 1 : 0))
  const signals = (d: DriftDetector, xs: readonly number[], offset: number): number[] =>
    xs.flatMap((x, i) => (d.update(x) ? [offset + i + 1] : []))

  it.each([
    ['adwin', () => adwin()],
    ['page-hinkley', () => pageHinkley()],
  ] as const)('%s continues from a saved state (through JSON) exactly', (_name, make) => {
    const one = make()
    const all = signals(one, errs, 0)
    expect(all.length).toBeGreaterThanOrEqual(1)
    for (const cut of [5000, 10_100, 15_000]) {
      const a = make()
      const first = signals(a, errs.slice(0, cut), 0)
      const b = make()
      b.restore(JSON.parse(JSON.stringify(a.save())))
      expect([...first, ...signals(b, errs.slice(cut), cut)]).toEqual(all)
      expect(b.save()).toEqual(one.save())
    }
  })

  it('refuses another detector\'s state in one line', () => {
    expect(() => adwin().restore(pageHinkley().save())).toThrow('adwin: expected a saved state of adwin, got "page-hinkley"')
    expect(() => pageHinkley().restore({ detector: 'page-hinkley', n: 3 })).toThrow('page-hinkley: expected a saved state with a finite number "mean", got nothing')
  })
})
