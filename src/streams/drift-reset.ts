// Drift detection inside online learning, and what a signal does (online.ts):
//
//   prequential errors (1 = miss, 0 = hit per example; a regressor's loss) --> detector
//     'warn'   a `drift` event, nothing else changes;
//     'reset'  a `drift` event, and when the error ROSE (ADWIN: the newer sub-window has
//              the higher mean; Page-Hinkley in mode 'up' signals only rises) the model is
//              re-initialised: parameters, optimizer state and layer state come from
//              init with the key foldIn(foldIn(runKey, RESET), resets so far), so the n-th
//              reset of a run draws the same parameters on every run. The counters (step,
//              seen) go on, so checkpoints keep their order. The detector starts over
//              with the new model (its falling error is learning, not drift).
//
// Determinism and exactly-once. The detector's state and the counts of drifts and resets
// are saved with every checkpoint (`save()`: JSON, in which numbers round-trip exactly),
// and a resumed run restores them (`resume`), so it signals and resets at the same
// examples, with the same keys, as an uninterrupted run.

import * as E from 'fp-ts/lib/Either.js'
import type { Key } from '../core/rng.ts'
import { foldIn } from '../core/rng.ts'
import { makeSnapshot } from '../core/snapshot.ts'
import type { Snapshot } from '../core/snapshot.ts'
import { GradstreamError } from '../core/errors.ts'
import type { AnyObjective } from '../models/objective.ts'
import type { Optimizer } from '../models/optimizers.ts'
import { trainsDifferently } from '../models/define.ts'
import type { DetectorState, DriftDetector } from './drift.ts'
import type { Learner } from './learner.ts'
import { learner } from './learner.ts'
import { initialSnapshot } from './train.ts'

export type OnDrift = 'warn' | 'reset'

/** Drift detection in online(): a fresh detector per run, the action, and a saved state to continue from. */
export interface OnlineDrift {
  readonly detector: () => DriftDetector
  /** Default 'warn'. */
  readonly onDrift?: OnDrift
  /** What a checkpoint saved (`SavedDrift`): a resumed run continues from it. */
  readonly resume?: SavedDrift
}

/** What a checkpoint keeps of the drift detection: the detector's state and the counts over the whole stream. */
export interface SavedDrift {
  readonly state: DetectorState
  readonly drifts: number
  readonly resets: number
}

/** A signal: the example (1-based, over the whole stream), the detector's view, and whether the model is reset. */
export interface DriftSignal {
  readonly at: number
  readonly detector: string
  readonly detail: { readonly [k: string]: number }
  readonly reset: boolean
}

/** The tag folded into the run key for resets ('rese'). */
const RESET = 0x72657365

/** The key of the n-th reset (0-based) of a run. */
export const resetKey = (runKey: Key, n: number): Key => foldIn(foldIn(runKey, RESET), n)

/** Reads a SavedDrift from JSON (a checkpoint's metadata); a one-line error when it is not one. */
export const savedDriftOf = (where: string, raw: string): SavedDrift => {
  let v: unknown
  try {
    v = JSON.parse(raw)
  } catch {
    throw new GradstreamError(`${where}: expected the drift detector's state as JSON, got ${JSON.stringify(raw.slice(0, 40))}`)
  }
  const o = v as { state?: unknown; drifts?: unknown; resets?: unknown }
  const count = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
  if (typeof v !== 'object' || v === null || typeof o.state !== 'object' || o.state === null || !count(o.drifts) || !count(o.resets))
    throw new GradstreamError(`${where}: expected the drift detector's state {state, drifts, resets}, got ${raw.slice(0, 80)}`)
  return v as SavedDrift
}

export interface DriftWatch {
  /**
   * Feeds the errors of a batch of n examples that follow example `before` (over the
   * whole stream): hits (NaN for a regressor, whose error is the loss). Returns the
   * signals (at most one that resets: the rest of its batch was predicted by the old model).
   */
  observe(n: number, hits: number, loss: number, before: number): DriftSignal[]
  /** A learner re-initialised after a reset signal, continuing `current`'s counters. */
  resetLearner(current: Snapshot): Learner
  /** Drifts and resets in this run. */
  drifts(): number
  resets(): number
  /** The state to checkpoint (counts over the whole stream). */
  save(): SavedDrift
}

export const driftWatch = (drift: OnlineDrift, objective: AnyObjective, optimizer: Optimizer, runKey: Key): DriftWatch => {
  const detector = drift.detector()
  const onDrift = drift.onDrift ?? 'warn'
  if (onDrift !== 'warn' && onDrift !== 'reset') throw new GradstreamError(`online: expected onDrift 'warn' or 'reset', got ${JSON.stringify(onDrift)}`)
  if (drift.resume !== undefined) detector.restore(drift.resume.state)
  const baseDrifts = drift.resume?.drifts ?? 0
  const baseResets = drift.resume?.resets ?? 0
  let drifts = 0
  let resets = 0
  return {
    observe: (n, hits, loss, before) => {
      const out: DriftSignal[] = []
      const misses = Number.isNaN(hits) ? -1 : n - hits
      for (let i = 0; i < n; i++) {
        const err = misses < 0 ? loss : i < misses ? 1 : 0
        if (!Number.isFinite(err)) continue
        if (!detector.update(err)) continue
        drifts++
        const detail = detector.describe()
        const reset = onDrift === 'reset' && (detector.name !== 'adwin' || detail.rising === 1)
        out.push({ at: before + i + 1, detector: detector.name, detail, reset })
        if (reset) {
          detector.reset()
          break
        }
      }
      return out
    },
    resetLearner: (current) => {
      const fresh = initialSnapshot(objective, optimizer, resetKey(runKey, baseResets + resets))
      if (E.isLeft(fresh)) throw fresh.left
      resets++
      const s = fresh.right
      const initial = makeSnapshot({
        ...s,
        step: current.step,
        epoch: current.epoch,
        position: current.position,
        seen: current.seen,
        key: current.key,
        metrics: current.metrics,
      })
      return learner(objective, optimizer, initial, trainsDifferently(objective.spec))
    },
    drifts: () => drifts,
    resets: () => resets,
    save: () => ({ state: detector.save(), drifts: baseDrifts + drifts, resets: baseResets + resets }),
  }
}
