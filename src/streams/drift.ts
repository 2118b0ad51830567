// Drift detection on the prequential error stream: an operator that feeds each error
// (1 for a miss, 0 for a hit, or any bounded loss) to a detector and emits a `drift`
// event when the detector signals a change. Detectors (drift-adwin.ts,
// drift-page-hinkley.ts) are private mutable state machines behind one interface, made
// fresh by the operator for each subscription, so each run is independent and a run over
// the same errors signals at the same steps.

import type { OperatorFunction } from 'rxjs'
import { Observable } from 'rxjs'
import { GradstreamError } from '../core/errors.ts'

export interface DriftDetector {
  /** 'adwin' or 'page-hinkley' (what the events name). */
  readonly name: string
  /** Feeds one value; true when a change is detected at it. */
  update(x: number): boolean
  /** What the detector knows now (window size and means, cumulative sums...). */
  describe(): { readonly [k: string]: number }
  /** Forgets everything (after a reset of the model, say). */
  reset(): void
  /**
   * Everything it knows, as JSON (numbers round-trip exactly through JSON), so a
   * checkpoint can carry it and a resumed run signals at the same values as one run.
   */
  save(): DetectorState
  /** Continues from a saved state (of a detector with the same options); throws on a bad one. */
  restore(state: DetectorState): void
}

/** A detector's saved state: its name and its numbers. */
export interface DetectorState {
  readonly detector: string
  readonly [field: string]: string | number | readonly (readonly number[])[] | readonly number[]
}

/** The number `field` of a saved state, or a one-line error naming the detector. */
export const savedNumber = (state: DetectorState, name: string, field: string): number => {
  const v = state[field]
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new GradstreamError(`${name}: expected a saved state with a finite number "${field}", got ${JSON.stringify(v) ?? 'nothing'}`)
  return v
}

/** Checks that a saved state is this detector's. */
export const checkSavedState = (state: DetectorState, name: string): void => {
  if (typeof state !== 'object' || state === null || state.detector !== name)
    throw new GradstreamError(`${name}: expected a saved state of ${name}, got ${JSON.stringify(state?.detector) ?? 'nothing'}`)
}

export interface DriftEvent {
  readonly type: 'drift'
  /** 1-based position of the value at which the change was detected. */
  readonly step: number
  readonly detector: string
  /** The detector's state right after detecting. */
  readonly detail: { readonly [k: string]: number }
}

/** Emits a DriftEvent for every value at which a fresh detector (from `make`) signals. */
export const detectDrift =
  (make: () => DriftDetector): OperatorFunction<number, DriftEvent> =>
  (source) =>
    new Observable<DriftEvent>((subscriber) => {
      const d = make()
      let step = 0
      return source.subscribe({
        next: (x) => {
          step++
          if (d.update(x)) subscriber.next({ type: 'drift', step, detector: d.name, detail: d.describe() })
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      })
    })
