// Exact snapshots at any step for the dashboard, fast enough to scrub.
//
// A run directory keeps a checkpoint every K steps (default: one per epoch); any other
// step is recomputed by replaying the batch stream from the nearest snapshot at or
// before it (streams/history.ts: a run is a pure function of its key, data and config,
// so a replay from any snapshot of the run reproduces the live run's bits). On top of
// that, this cache
//  - keeps the snapshots it computes in a byte-bounded LRU (parameters and optimizer
//    slots, counted as history.ts `snapshotBytes` does);
//  - while replaying, also keeps an intermediate snapshot every `keepMs` of replay work
//    (but at most `maxPerInterval` per checkpoint interval), so any later request in a
//    replayed stretch starts at most ~keepMs of training (or K / maxPerInterval steps) away;
//  - after answering, goes on replaying quietly to the end of the checkpoint interval
//    (the next checkpoint, or the run's last step), keeping snapshots the same way, and
//    stops at once when another request for that run comes in: after the first visit,
//    every step of the interval answers from a snapshot at most ~keepMs away;
//  - computes concurrent requests for the same step once (they share one promise) and
//    runs one replay per run at a time (there are two cores, not one per request).
// A request K steps past a checkpoint costs at most K steps, whatever is cached.

import { lastValueFrom, takeWhile, tap } from 'rxjs'
import { GradstreamError } from '../core/errors.ts'
import type { RunDefinition } from '../streams/history.ts'
import { snapshotBytes, trainRun } from '../streams/history.ts'
import type { Snapshot } from '../streams/snapshot.ts'
import { ByteLru } from './byte-lru.ts'

/** What the cache needs of a run. */
export interface ReplaySource {
  readonly id: string
  /** The run as it trains (the cache replays with it). */
  definition(): RunDefinition
  /** The step of the stored snapshot (checkpoint or start) nearest at or before `step`. */
  storedStep(step: number): number
  /** That stored snapshot, loaded. */
  stored(step: number): Snapshot
  /** The last step of the checkpoint interval holding `step` (before the next checkpoint, or the run's last). */
  intervalEnd(step: number): number
}

export interface Replayed {
  readonly snapshot: Snapshot
  /** The step replayed from, and the training steps it took (0: served from the cache). */
  readonly from: number
  readonly replayed: number
}

export interface ReplayCacheOptions {
  /** Memory budget for cached snapshots, bytes (default 256 MB). */
  readonly maxBytes?: number
  /** Replay work between kept intermediate snapshots, ms (default 50). */
  readonly keepMs?: number
  /** Go on replaying to the end of the interval after answering (default true). */
  readonly prefetch?: boolean
  /**
   * At most this many intermediate snapshots per checkpoint interval (default 64): on a
   * slow or busy machine keepMs alone would keep nearly every step.
   */
  readonly maxPerInterval?: number
}

export class ReplayCache {
  private readonly lru: ByteLru<string, Snapshot>
  private readonly steps = new Map<string, Set<number>>()
  private readonly inflight = new Map<string, Promise<Replayed>>()
  private readonly queues = new Map<string, Promise<unknown>>()
  private readonly pending = new Map<string, number>()
  private readonly keepMs: number
  private readonly prefetch: boolean
  private readonly maxPerInterval: number
  /** Training steps replayed so far (for tests and the note's measurements). */
  replayedSteps = 0

  constructor(options: ReplayCacheOptions = {}) {
    this.keepMs = options.keepMs ?? 50
    this.prefetch = options.prefetch ?? true
    this.maxPerInterval = options.maxPerInterval ?? 64
    this.lru = new ByteLru(options.maxBytes ?? 256 * 2 ** 20, (k) => {
      const [id, step] = splitKey(k)
      this.steps.get(id)?.delete(step)
    })
  }

  get bytes(): number {
    return this.lru.bytes
  }

  get size(): number {
    return this.lru.size
  }

  /** The exact snapshot at `step` (the caller checks that the run has it). */
  at(src: ReplaySource, step: number): Promise<Replayed> {
    if (this.closed) return Promise.reject(new GradstreamError('replay: the dashboard is shutting down'))
    const k = keyOf(src.id, step)
    const hit = this.lru.get(k)
    if (hit !== undefined) return Promise.resolve({ snapshot: hit, from: step, replayed: 0 })
    const running = this.inflight.get(k)
    if (running !== undefined) return running
    this.pending.set(src.id, (this.pending.get(src.id) ?? 0) + 1)
    const p = this.serial(src.id, () => this.compute(src, step)).finally(() => {
      this.inflight.delete(k)
      this.pending.set(src.id, (this.pending.get(src.id) ?? 1) - 1)
    })
    this.inflight.set(k, p)
    if (this.prefetch) p.then(() => this.extend(src, step), () => undefined)
    return p
  }

  private closed = false

  /** Stops every replay at its next step (the server is shutting down); later requests fail. */
  close(): void {
    this.closed = true
  }

  /** Resolves when the run has no replay running or queued (prefetch included). */
  async whenIdle(id: string): Promise<void> {
    for (let q = this.queues.get(id); q !== undefined; ) {
      await q
      const next = this.queues.get(id)
      q = next === q ? undefined : next
    }
  }

  /** Forgets a run's snapshots (its directory changed under us, e.g. it was resumed). */
  forget(id: string): void {
    for (const step of this.steps.get(id) ?? []) this.lru.delete(keyOf(id, step))
    this.steps.delete(id)
  }

  private serial<T>(id: string, job: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(id) ?? Promise.resolve()
    const next = prev.then(job, job)
    this.queues.set(
      id,
      next.then(
        () => undefined,
        () => undefined,
      ),
    )
    return next
  }

  private keep(id: string, s: Snapshot): void {
    this.lru.set(keyOf(id, s.step), s, snapshotBytes(s))
    if (this.lru.has(keyOf(id, s.step))) {
      let set = this.steps.get(id)
      if (set === undefined) this.steps.set(id, (set = new Set()))
      set.add(s.step)
    }
  }

  /** The cached snapshot nearest at or before `step`. */
  private nearestCached(id: string, step: number): Snapshot | undefined {
    let best = -1
    for (const s of this.steps.get(id) ?? []) if (s <= step && s > best) best = s
    return best < 0 ? undefined : this.lru.get(keyOf(id, best))
  }

  /** The best starting point for `step`: a cached snapshot, or the stored one if nearer. */
  private base(src: ReplaySource, step: number): Snapshot {
    const cached = this.nearestCached(src.id, step)
    if (cached !== undefined && cached.step >= src.storedStep(step)) return cached
    const stored = src.stored(step)
    this.keep(src.id, stored)
    return stored
  }

  private async compute(src: ReplaySource, step: number): Promise<Replayed> {
    const hit = this.lru.get(keyOf(src.id, step))
    if (hit !== undefined) return { snapshot: hit, from: step, replayed: 0 }
    const base = this.base(src, step)
    const snapshot = await this.replay(src, base, step, () => false)
    if (snapshot === undefined) throw new GradstreamError(`replay: stopped before step ${step}`)
    return { snapshot, from: base.step, replayed: step - base.step }
  }

  /** Replays on to the end of the interval holding `step` while nobody waits for this run. */
  private extend(src: ReplaySource, step: number): void {
    const idle = (): boolean => (this.pending.get(src.id) ?? 0) === 0
    if (!idle()) return
    void this.serial(src.id, async () => {
      const end = src.intervalEnd(step)
      if (!idle() || end <= step || this.lru.has(keyOf(src.id, end))) return
      await this.replay(src, this.base(src, end), end, () => !idle())
    }).catch(() => undefined)
  }

  /**
   * Trains from `base` to step `to` (the first snapshot of each step, as history.ts
   * `replayTo`), keeping one snapshot every keepMs and the last; undefined when `stop`
   * ended it early.
   */
  private async replay(src: ReplaySource, base: Snapshot, to: number, stop: () => boolean): Promise<Snapshot | undefined> {
    if (base.step === to) return base
    if (base.step > to) throw new GradstreamError(`replay: step ${to} is before the starting snapshot (step ${base.step})`)
    const run = src.definition()
    const stride = Math.max(1, Math.ceil((src.intervalEnd(base.step) - base.step) / this.maxPerInterval))
    let last = base.step
    let keptStep = base.step
    let keptAt = performance.now()
    let result: Snapshot | undefined
    await lastValueFrom(
      trainRun({ ...run, config: { ...run.config, initial: base } }).pipe(
        takeWhile((s) => s.step < to && !stop() && !this.closed, true),
        tap((s) => {
          if (s.step <= last) return
          last = s.step
          this.replayedSteps++
          const now = performance.now()
          if (s.step === to) {
            result = s
            this.keep(src.id, s)
          } else if (now - keptAt >= this.keepMs && s.step - keptStep >= stride) {
            this.keep(src.id, s)
            keptAt = now
            keptStep = s.step
          }
        }),
      ),
      { defaultValue: undefined },
    )
    if (result === undefined && this.closed) throw new GradstreamError('replay: the dashboard is shutting down')
    if (result === undefined && !stop()) throw new GradstreamError(`replay: the run ends before step ${to} (it stops at step ${last})`)
    return result
  }
}

const keyOf = (id: string, step: number): string => `${id}:${step}`

const splitKey = (k: string): [string, number] => {
  const i = k.lastIndexOf(':')
  return [k.slice(0, i), Number(k.slice(i + 1))]
}
