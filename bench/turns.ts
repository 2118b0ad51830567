// Round-robin turns for training runs timed epoch by epoch (W2, W3), so that the systems a
// target compares are timed in the same minutes: on a shared or virtual machine whose
// speed drifts (the same GEMM measured at 5.88 and 3.58 GFLOP/s half an hour apart),
// systems timed one after the other carry the drift into their ratios.
//
// Every run asks for a turn before its setup (warm-up, threads, compilation) and before
// each epoch, and holds it until it asks again or leaves: exactly one run computes at a
// time, in the order setup 0, setup 1, ..., epoch 1 of 0, epoch 1 of 1, ..., epoch 2 of 0,
// ... A run with fewer epochs (or that failed) leaves, and the others go on without it.

import type { Attempt } from './workloads/context.ts'
import { attempt } from './workloads/context.ts'

export type Turn = () => Promise<void>

/** Turns for `runs` runs, numbered 0 .. runs-1 (the order they take turns in). */
export class Turns {
  private holder: number | null = null
  private next = 0
  private readonly waiting = new Map<number, () => void>()
  private readonly gone = new Set<number>()

  constructor(private readonly runs: number) {}

  /** The turn function of run i: gives up the turn it holds, resolves at its next one. */
  of(i: number): Turn {
    return () => {
      if (this.holder === i) this.holder = null
      return new Promise((resolve) => {
        this.waiting.set(i, resolve)
        this.pass()
      })
    }
  }

  /** Run i takes no more turns (it finished, or failed). */
  leave(i: number): void {
    this.gone.add(i)
    this.waiting.delete(i)
    if (this.holder === i) this.holder = null
    this.pass()
  }

  private pass(): void {
    if (this.holder !== null) return
    for (let tried = 0; tried < this.runs; tried++) {
      const j = this.next
      if (this.gone.has(j)) {
        this.next = (j + 1) % this.runs
        continue
      }
      const go = this.waiting.get(j)
      // j is next but has not asked yet (it is being started): it will call pass itself.
      if (go === undefined) return
      this.waiting.delete(j)
      this.holder = j
      this.next = (j + 1) % this.runs
      go()
      return
    }
  }
}

/** A turn that then makes the run's system current (its kernel backend, its TF.js backend). */
export const turnThen =
  (turn: Turn, current: () => unknown): Turn =>
  async () => {
    await turn()
    await current()
  }

/** A turn that is always granted at once: a run timed on its own. */
export const ownTurn: Turn = () => Promise.resolve()

/**
 * Starts every run with its turn function and waits for all of them; each run's result or
 * its failure's reason, by name. A run leaves its turns when it ends, however it ends.
 */
export const inTurns = async <K extends string, T>(
  runs: ReadonlyArray<readonly [K, (turn: Turn) => Promise<T>]>,
): Promise<Map<K, Attempt<T>>> => {
  const turns = new Turns(runs.length)
  const settled = await Promise.all(
    runs.map(async ([name, run], i) => {
      const r = await attempt(() => run(turns.of(i)))
      turns.leave(i)
      return [name, r] as const
    }),
  )
  return new Map(settled)
}
