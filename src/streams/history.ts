// History and time travel (DESIGN.md, "Replay and time travel").
//
// A run is deterministic: the same objective, optimizer, data, key and config give the
// same snapshot at every step, because every random draw derives from the run key:
//   init                         foldIn(key, 0)                          (train.ts initialSnapshot)
//   shuffle of epoch e           foldIn(foldIn(key, 1), e)               (source.ts epochOrder)
//   forward noise of step s      foldIn(foldIn(foldIn(key, 2), s), 0)    (RReLU slopes; layer i of
//                                                                         a sequential: foldIn(., i))
//   model sampling of step s     foldIn(foldIn(foldIn(key, 2), s), 2)    (RBM Gibbs chains)
//   augmentation of batch (e, p) foldIn(foldIn(foldIn(key, 3), e), p)    (augment.ts randomShift)
// Step keys follow snapshot.step and augmentation the batch's place in its epoch, and a
// snapshot carries both, so a replay from any snapshot draws exactly what the live run
// drew. Hence a history keeps one snapshot every K steps and recomputes any other by
// replaying the batch stream from the nearest one at or before it: memory is
// (steps / K + 1) snapshots, and `at(step)` costs at most K - 1 training steps.
// `every: 'all'` (K = 1) keeps every snapshot, for small models.
//
//   train(...) ──► recordHistory(run, { every: K }) ──► History, History, ...  (one per step)
//
// Each emitted History is an immutable value: later steps extend an append-only store
// that older values never read past, so a History taken mid-run stays valid and `at`
// may be called on it while training goes on.
//
// `fork(step, changes)` gives a new run definition that starts from the snapshot at
// `step` with changed hyperparameters; the history it came from is untouched, and the
// same fork made twice trains bit-identically. `diff(a, b)` compares two steps tensor
// by tensor.

import * as E from 'fp-ts/lib/Either.js'
import type { Observable, OperatorFunction } from 'rxjs'
import { defaultIfEmpty, defer, filter, firstValueFrom, lastValueFrom, map } from 'rxjs'
import { GradstreamError } from '../core/errors.ts'
import type { AnyObjective } from '../models/objective.ts'
import type { LearningRate, Optimizer, OptimizerSpec } from '../models/optimizers.ts'
import { optimizerFromSpec } from '../models/optimizers.ts'
import { key as rootKey } from '../core/rng.ts'
import type { Shape } from '../core/tensor.ts'
import { size } from '../core/tensor.ts'
import { leaves } from '../core/tree.ts'
import type { Snapshot } from './snapshot.ts'
import { makeSnapshot } from './snapshot.ts'
import type { BatchSource } from './source.ts'
import type { TrainConfig } from './train.ts'
import { initialSnapshot, trainObjective } from './train.ts'

/** Everything that determines a run: what `trainRun` trains and a history replays. */
export interface RunDefinition {
  readonly objective: AnyObjective
  readonly optimizer: Optimizer
  readonly config: TrainConfig
  /**
   * The batch size of config.data and a way to rebuild the source with another one:
   * needed only to fork with a new batch size (e.g. `b => arraySource(ds, { batchSize: b })`).
   */
  readonly batching?: { readonly batchSize: number; readonly source: (batchSize: number) => BatchSource }
}

/** The run's snapshots (cold: each subscription trains from the start snapshot). */
export const trainRun = (run: RunDefinition): Observable<Snapshot> => trainObjective(run.objective, run.optimizer, run.config)

/** The snapshot a run starts from: config.initial, or step 0 from the run key. */
export const runStart = (run: RunDefinition): Snapshot => {
  if (run.config.initial) return run.config.initial
  const k = run.config.key ?? rootKey(run.config.seed ?? 0)
  const s0 = initialSnapshot(run.objective, run.optimizer, k, run.config.params)
  if (E.isLeft(s0)) throw s0.left
  return s0.right
}

const checkStep = (what: string, step: number): void => {
  if (!Number.isSafeInteger(step) || step < 0) throw new GradstreamError(`${what}: expected a step (an integer >= 0), got ${step}`)
}

/**
 * The first snapshot with `.step === step`, trained from `from` (a snapshot of the run).
 * Costs step - from.step training steps; `from` itself when they are equal.
 */
export const replayTo = async (run: RunDefinition, from: Snapshot, step: number): Promise<Snapshot> => {
  checkStep('replay', step)
  if (step < from.step) throw new GradstreamError(`replay: step ${step} is before the starting snapshot (step ${from.step})`)
  if (step === from.step) return from
  const r = await firstValueFrom(
    trainObjective(run.objective, run.optimizer, { ...run.config, initial: from }).pipe(filter((s) => s.step >= step)),
    { defaultValue: undefined },
  )
  if (r === undefined || r.step !== step)
    throw new GradstreamError(`replay: the run ends before step ${step} (it has ${r?.step ?? 'fewer'} steps from step ${from.step})`)
  return r
}

// ---------------------------------------------------------------------------------------
// Comparing two snapshots

export interface TensorChange {
  readonly name: string
  readonly shape: Shape
  /** ||b - a||_2 over the tensor. */
  readonly change: number
  /** ||a||_2 and ||b||_2. */
  readonly normA: number
  readonly normB: number
}

/** Per-tensor L2 norms of the change from a to b, and of both (float64 sums, in order). */
export const diffSnapshots = (a: Snapshot, b: Snapshot): TensorChange[] => {
  if (a.layout.names.join('\n') !== b.layout.names.join('\n') || a.flat.length !== b.flat.length)
    throw new GradstreamError(`diff: the snapshots have different parameters (steps ${a.step} and ${b.step})`)
  return a.layout.names.map((name, i) => {
    const off = a.layout.offsets[i]
    const n = size(a.layout.shapes[i])
    let dd = 0
    let aa = 0
    let bb = 0
    for (let j = off; j < off + n; j++) {
      const x = a.flat[j]
      const y = b.flat[j]
      dd += (y - x) * (y - x)
      aa += x * x
      bb += y * y
    }
    return { name, shape: a.layout.shapes[i], change: Math.sqrt(dd), normA: Math.sqrt(aa), normB: Math.sqrt(bb) }
  })
}

// ---------------------------------------------------------------------------------------
// Forking

export interface ForkChanges {
  /**
   * A new learning rate. A number keeps the shape of a schedule and changes its base
   * rate (cosine from lr ...); a schedule spec replaces the schedule.
   */
  readonly lr?: LearningRate
  /**
   * A new optimizer. The optimizer state (slots and step counter) carries over when the
   * type is the same; another type starts from fresh state (so its schedule restarts).
   */
  readonly optimizer?: Optimizer | OptimizerSpec
  /** A new batch size (the run needs `batching`). */
  readonly batchSize?: number
  /** A new total number of epochs (counted from epoch 0, as in TrainConfig). */
  readonly epochs?: number
}

const isOptimizer = (o: Optimizer | OptimizerSpec): o is Optimizer => typeof (o as Optimizer).update === 'function'

const withLr = (spec: OptimizerSpec, lr: LearningRate): OptimizerSpec =>
  ({ ...spec, lr: typeof lr === 'number' && typeof spec.lr === 'object' ? { ...spec.lr, lr } : lr }) as OptimizerSpec

/** The optimizer after the changes. */
export const forkOptimizer = (current: Optimizer, changes: Pick<ForkChanges, 'lr' | 'optimizer'>): Optimizer => {
  const base = changes.optimizer === undefined ? current : isOptimizer(changes.optimizer) ? changes.optimizer : optimizerFromSpec(changes.optimizer)
  return changes.lr === undefined ? base : optimizerFromSpec(withLr(base.spec, changes.lr))
}

/**
 * A snapshot made ready to continue under other settings (the pure part of a fork):
 *  - a new optimizer type gets fresh state; the same type keeps slots and step;
 *  - a new batch size keeps the epoch's sample order (the shuffle depends only on the key
 *    and the epoch) and continues at the first new-size batch that starts at or after
 *    the samples already used this epoch: no sample is seen twice in an epoch, and fewer
 *    than one new batch of samples is skipped when the sizes do not divide.
 */
export const forkSnapshot = (
  snapshot: Snapshot,
  options: {
    readonly from: Optimizer
    readonly to: Optimizer
    readonly batchSize?: { readonly from: number; readonly to: number; readonly source: BatchSource }
  },
): Snapshot => {
  let s = snapshot
  if (options.to.spec.type !== options.from.spec.type)
    s = makeSnapshot({ ...s, params: s.params, opt: options.to.init(s.params) })
  const b = options.batchSize
  if (b !== undefined && b.from !== b.to) {
    const per = b.source.batchesPerEpoch
    const samples = b.source.samplesPerEpoch
    if (per === undefined || samples === undefined)
      throw new GradstreamError('fork: changing the batch size needs a source that knows its epoch length')
    const used = s.step === 0 && s.seen === 0 ? 0 : s.endOfEpoch ? samples : Math.min(samples, s.position * b.from)
    const position = Math.min(per, Math.ceil(used / b.to))
    s = makeSnapshot({ ...s, params: s.params, position, endOfEpoch: position >= per })
  }
  return s
}

/** The run that continues from `snapshot` with the changes applied. */
export const forkRun = (run: RunDefinition, snapshot: Snapshot, changes: ForkChanges = {}): RunDefinition => {
  const optimizer = forkOptimizer(run.optimizer, changes)
  let batching = run.batching
  let data = run.config.data
  let resize: { from: number; to: number; source: BatchSource } | undefined
  if (changes.batchSize !== undefined && changes.batchSize !== run.batching?.batchSize) {
    if (run.batching === undefined) throw new GradstreamError('fork: a new batch size needs the run to define `batching`')
    data = run.batching.source(changes.batchSize)
    resize = { from: run.batching.batchSize, to: changes.batchSize, source: data }
    batching = { ...run.batching, batchSize: changes.batchSize }
  }
  const initial = forkSnapshot(snapshot, { from: run.optimizer, to: optimizer, batchSize: resize })
  return {
    objective: run.objective,
    optimizer,
    batching,
    config: { ...run.config, data, epochs: changes.epochs ?? run.config.epochs, initial },
  }
}

// ---------------------------------------------------------------------------------------
// The history

export interface HistoryOptions {
  /** Keep one snapshot every K steps (default 100), or 'all'. */
  readonly every?: number | 'all'
}

export interface History {
  readonly run: RunDefinition
  /** K: a snapshot is kept at every step that is a multiple of K (and at the start). */
  readonly every: number
  /** Steps covered: firstStep (the run's start) .. lastStep (the latest snapshot). */
  readonly firstStep: number
  readonly lastStep: number
  /** The latest snapshot. */
  readonly latest: Snapshot
  /** The kept snapshots, by step. */
  readonly checkpoints: readonly Snapshot[]
  /** Bytes of typed arrays held by the kept snapshots (parameters and optimizer slots). */
  readonly bytes: number
  /** Loss and learning rate of the step that produced `step` (from the per-step log; no replay). */
  loss(step: number): number
  lr(step: number): number
  /** The kept snapshot nearest at or before `step`. */
  nearest(step: number): Snapshot
  /** The exact snapshot at `step`, replayed from `nearest(step)`. */
  at(step: number): Promise<Snapshot>
  /** A run that continues from the snapshot at `step` with the changes. */
  fork(step: number, changes?: ForkChanges): Promise<RunDefinition>
  /** Per-tensor L2 norms of the change from step a to step b, and of both. */
  diff(a: number, b: number): Promise<TensorChange[]>
}

/** Typed-array bytes of a snapshot: parameters plus optimizer slots. */
export const snapshotBytes = (s: Snapshot): number => {
  let n = s.flat.byteLength
  for (const slot of Object.values(s.opt.slots)) for (const [, t] of leaves(slot)) n += t.data.byteLength
  return n
}

/** Append-only storage shared by the History values of one recording. */
interface Store {
  readonly kept: Snapshot[]
  bytes: number[]
  losses: Float64Array
  lrs: Float64Array
}

const grow = (a: Float64Array, n: number): Float64Array => {
  if (n <= a.length) return a
  const b = new Float64Array(Math.max(n, 2 * a.length))
  b.set(a)
  return b
}

const makeHistory = (run: RunDefinition, every: number, store: Store, kept: number, latest: Snapshot): History => {
  const first = store.kept[0].step
  const last = latest.step
  // Values of this History read only the prefix that existed when it was made.
  const losses = store.losses
  const lrs = store.lrs
  const inRange = (what: string, step: number): void => {
    checkStep(what, step)
    if (step < first || step > last)
      throw new GradstreamError(`history.${what}: step ${step} is outside the history (steps ${first} to ${last})`)
  }
  const nearest = (step: number): Snapshot => {
    inRange('nearest', step)
    // Kept steps are increasing: binary search for the last one <= step.
    let lo = 0
    let hi = kept - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (store.kept[mid].step <= step) lo = mid
      else hi = mid - 1
    }
    return store.kept[lo]
  }
  const at = async (step: number): Promise<Snapshot> => {
    inRange('at', step)
    if (step === last) return latest
    return replayTo(run, nearest(step), step)
  }
  return Object.freeze({
    run,
    every,
    firstStep: first,
    lastStep: last,
    latest,
    get checkpoints() {
      return Object.freeze(store.kept.slice(0, kept))
    },
    bytes: store.bytes[kept - 1],
    loss: (step: number) => {
      inRange('loss', step)
      return step === first ? store.kept[0].metrics.loss : losses[step - first - 1]
    },
    lr: (step: number) => {
      inRange('lr', step)
      return step === first ? store.kept[0].lr : lrs[step - first - 1]
    },
    nearest,
    at,
    fork: async (step: number, changes: ForkChanges = {}) => forkRun(run, await at(step), changes),
    diff: async (a: number, b: number) => diffSnapshots(await at(a), await at(b)),
  })
}

const everyOf = (options: HistoryOptions): number => {
  const k = options.every ?? 100
  if (k === 'all') return 1
  if (!Number.isSafeInteger(k) || k < 1) throw new GradstreamError(`history: expected every to be a positive integer or 'all', got ${String(k)}`)
  return k
}

/** A fresh recording: the History of the start snapshot, and the step that extends it. */
const recorder = (run: RunDefinition, options: HistoryOptions): { base: History; record: (s: Snapshot) => History | undefined } => {
  const every = everyOf(options)
  const start = runStart(run)
  const store: Store = { kept: [start], bytes: [snapshotBytes(start)], losses: new Float64Array(1024), lrs: new Float64Array(1024) }
  let last = start.step
  const record = (s: Snapshot): History | undefined => {
    // A skipped update (non-finite loss) repeats its step: keep the first snapshot of each step.
    if (s.step <= last) return undefined
    if (s.step !== last + 1)
      throw new GradstreamError(`history: expected step ${last + 1} next, got step ${s.step} (apply recordHistory to trainRun(run))`)
    last = s.step
    const i = s.step - start.step - 1
    store.losses = grow(store.losses, i + 1)
    store.lrs = grow(store.lrs, i + 1)
    store.losses[i] = s.metrics.loss
    store.lrs[i] = s.lr
    if (s.step % every === 0) {
      store.kept.push(s)
      store.bytes.push(store.bytes[store.bytes.length - 1] + snapshotBytes(s))
    }
    return makeHistory(run, every, store, store.kept.length, s)
  }
  return { base: makeHistory(run, every, store, 1, start), record }
}

/**
 * Records the history of `run` from the snapshots of `trainRun(run)` (apply it to that
 * stream): emits the History after every step.
 */
export const recordHistory =
  (run: RunDefinition, options: HistoryOptions = {}): OperatorFunction<Snapshot, History> =>
  (snapshots) =>
    defer(() => {
      const { record } = recorder(run, options)
      return snapshots.pipe(
        map(record),
        filter((h): h is History => h !== undefined),
      )
    })

/** Trains the run to its end while recording; resolves to the final History. */
export const trainWithHistory = (run: RunDefinition, options: HistoryOptions = {}): Promise<History> =>
  lastValueFrom(
    defer(() => {
      const { base, record } = recorder(run, options)
      return trainRun(run).pipe(
        map(record),
        filter((h): h is History => h !== undefined),
        defaultIfEmpty(base),
      )
    }),
  )
