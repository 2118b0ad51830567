// Online learning with prequential evaluation (DESIGN.md, "Online learning"):
//
//   records --pulled--> prequential: for each example (or small batch)
//                          predict with the current parameters, score the prediction,
//                          then learn from the example
//                       --> events: snapshots with running metrics, rejections, skips
//
// `online(objective, optimizer, source)` pulls from an iterable or async iterable one
// record at a time (record-source.ts), so a producer faster than the learner waits;
// `prequential(...)` is the same thing as an operator on an Observable of records (an
// Observable cannot be paused, so it has no backpressure: prefer `online`).
//
// Events are one discriminated union on one stream, in the order things happened:
//   {type: 'snapshot'}  every `snapshotEvery` examples (default 100) and once at the
//                       end (final: true): an immutable Snapshot, the running metrics;
//   {type: 'rejected'}  a record that could not be used (line, reason, detail); it never
//                       reaches the parameters and the stream goes on;
//   {type: 'skipped'}   an example whose loss or gradient was not finite: the update is
//                       skipped, the parameters stay the last good ones.
//   {type: 'drift'}     a change the drift detector signalled (with `drift`: drift-reset.ts),
//                       and whether the model was reset after it.
// Also here: a regressor's targets and rolling MAE / RMSE, and delayed labels (`labelDelay`).
// RxJS's error channel ends a stream, so it is kept for failures of the pipeline itself
// (a model that does not fit its data, a throwing checkpoint writer); `onlineSnapshots`
// and `onlineIssues` split the union.
//
// Metrics are fp-ts Monoids (metrics.ts): the cumulative score is a fold with concat,
// and the windowed one a sliding-window fold over the last W examples ("two stacks":
// amortised O(1) per example, exact, no subtraction, so no drift over long streams).

import * as E from 'fp-ts/lib/Either.js'
import type { Monoid } from 'fp-ts/lib/Monoid.js'
import type { OperatorFunction } from 'rxjs'
import { filter, Observable } from 'rxjs'
import { GradstreamError } from '../core/errors.ts'
import type { Rejection, RejectReason } from '../io/records.ts'
import type { AnyObjective } from '../models/objective.ts'
import type { Optimizer } from '../models/optimizers.ts'
import type { Key } from '../core/rng.ts'
import { key as rootKey } from '../core/rng.ts'
import { size } from '../core/tensor.ts'
import type { Params } from '../core/tree.ts'
import type { Learner } from './learner.ts'
import { learner } from './learner.ts'
import type { Mean } from './metrics.ts'
import { mean, MeanMonoid } from './metrics.ts'
import { pulled } from './record-source.ts'
import type { Snapshot } from './snapshot.ts'
import { initialSnapshot } from './train.ts'
import { trainsDifferently } from '../models/define.ts'
import type { ClassCounts, ClassScore, RegressionScore } from './rolling-metrics.ts'
import { classScoreMonoid, classScoreOfBatch, macroF1, mae, RegressionMonoid, regressionScore, rmse } from './rolling-metrics.ts'
import { MAX_CONFUSION_CLASSES } from './evaluate.ts'
import { slidingWindow } from './sliding-window.ts'
import type { DriftEvent } from './drift.ts'
import type { OnlineDrift, SavedDrift } from './drift-reset.ts'
import { driftWatch } from './drift-reset.ts'

// ---- inputs -----------------------------------------------------------------------

/** One example: features (the model's input, flattened) and, for classifiers, a class. */
export interface OnlineExample {
  readonly features: ArrayLike<number>
  /** A classifier's class; a regressor's target when it has one output and no `target`. */
  readonly label?: number
  /** A regressor's target: a number, or one per output. */
  readonly target?: number | ArrayLike<number>
  /** Where it came from (line of a file), for reports. */
  readonly line?: number
  /** The record's id, which its label names when labels come as their own items (`joinLabels`). */
  readonly id?: string | number
}

/** A label that arrives on its own, for the example whose `id` it names (`joinLabels`). */
export interface OnlineLabel {
  readonly labelFor: string | number
  readonly label?: number
  readonly target?: number | ArrayLike<number>
  readonly line?: number
}

/**
 * An example predicted on arrival and waiting for its label (labelDelay, joinLabels), as a
 * checkpoint keeps it: a restarted run given these (`OnlineOptions.waiting`) learns them
 * when their labels arrive, scored with the predictions made at their arrival, so it ends
 * on the bits and figures of a run that was never stopped (log-online.ts, waiting-codec.ts).
 */
export interface WaitingExample {
  readonly features: Float32Array
  /** labelDelay, a classifier: its class (0 otherwise). */
  readonly label: number
  /** labelDelay, a regressor: its targets. */
  readonly target?: Float32Array
  /** The class predicted at arrival, and whether it was the label (labelDelay: 1 or 0). */
  readonly predicted: number
  readonly hit: number
  /** A regressor's outputs at arrival. */
  readonly prediction?: Float32Array
  readonly line?: number
  /**
   * Where it was read: its 0-based position in the source, less the records read before
   * the snapshot it was saved with (so negative: this many records before a resumed run's first).
   */
  readonly index: number
  /** joinLabels: the record id its label names. */
  readonly id?: string | number
}

/** What a source yields: examples, records already rejected by a decoder, or (with `joinLabels`) labels. */
export type OnlineItem = OnlineExample | E.Either<Rejection, OnlineExample> | OnlineLabel

export type OnlineSource = Iterable<OnlineItem> | AsyncIterable<OnlineItem>

// ---- events -------------------------------------------------------------------------

export interface OnlineMetrics {
  /** Records read from the source: examples and rejected records. */
  readonly seen: number
  /** Examples predicted and scored (seen - rejected). */
  readonly examples: number
  /** Examples whose update was applied. */
  readonly learned: number
  /** Examples whose update was skipped (non-finite loss or gradient). */
  readonly skipped: number
  readonly rejected: number
  readonly rejectedByReason: { readonly [reason: string]: number }
  /** Prequential accuracy over every example so far (classifiers; NaN before any). */
  readonly accuracy: number
  /** Mean prequential loss over every example with a finite loss. */
  readonly loss: number
  /** The same over the last `window` examples. */
  readonly windowAccuracy: number
  readonly windowLoss: number
  readonly windowExamples: number
  /**
   * A regressor's prequential mean absolute and root mean squared error over every
   * example and over the window (rolling-metrics.ts's Monoid; NaN for a classifier).
   */
  readonly mae: number
  readonly rmse: number
  readonly windowMae: number
  readonly windowRmse: number
  /**
   * A classifier's macro F1 (rolling-metrics.ts: the mean over the classes present of
   * 2 TP_c / (predicted_c + actual_c)) over every example and over the window; NaN for a
   * regressor or above MAX_CONFUSION_CLASSES classes (per-class counts are not kept there).
   * The rolling log loss is `loss` / `windowLoss` (the softmax cross-entropy).
   */
  readonly macroF1: number
  readonly windowMacroF1: number
  /**
   * The per-class counts behind `macroF1` (over every example; classifiers up to
   * MAX_CONFUSION_CLASSES classes): a log run adds them to its checkpoint's so that a
   * restarted learner's cumulative macro F1 is the uninterrupted run's (log-online.ts).
   */
  readonly classCounts?: ClassCounts
  /** Changes signalled by the drift detector in this run (0 without one). */
  readonly drifts: number
  /** Of them, the ones that re-initialised the model (`onDrift: 'reset'`). */
  readonly resets: number
  /** Examples predicted and waiting for their label (labelDelay, joinLabels). */
  readonly waiting?: number
  /** Labels that named no waiting example (joinLabels). */
  readonly unmatchedLabels?: number
}

export interface OnlineSnapshotEvent {
  readonly type: 'snapshot'
  readonly snapshot: Snapshot
  readonly metrics: OnlineMetrics
  /** True for the last event of a stream that ended. */
  readonly final: boolean
  /** With a drift detector: its state and counts to checkpoint with this snapshot (drift-reset.ts). */
  readonly drift?: SavedDrift
  /** The final event of a run with `keepWaiting`: the examples still waiting for their labels, oldest first. */
  readonly waiting?: readonly WaitingExample[]
}

export interface RejectedEvent {
  readonly type: 'rejected'
  /** 0-based position of the record in the source. */
  readonly index: number
  /** Line of the file, when the record came from one. */
  readonly line?: number
  readonly reason: RejectReason
  readonly detail: string
}

export interface SkippedEvent {
  readonly type: 'skipped'
  /** Updates applied before this one (the snapshot step that stays current). */
  readonly step: number
  readonly index: number
  readonly line?: number
  readonly reason: 'non-finite loss' | 'non-finite gradient'
  readonly loss: number
}

/**
 * A change signalled by the drift detector on the prequential errors. `step` is the
 * example at which it was signalled, counted from the start of the stream (a resumed run
 * continues the count: the snapshot's `seen`); `reset` tells whether the model was
 * re-initialised after it.
 */
export interface OnlineDriftEvent extends DriftEvent {
  readonly reset: boolean
  readonly index: number
  readonly line?: number
}

export type OnlineEvent = OnlineSnapshotEvent | RejectedEvent | SkippedEvent | OnlineDriftEvent

export const isSnapshotEvent = (e: OnlineEvent): e is OnlineSnapshotEvent => e.type === 'snapshot'
export const isIssueEvent = (e: OnlineEvent): e is RejectedEvent | SkippedEvent => e.type === 'rejected' || e.type === 'skipped'

/** Only the snapshot events. */
export const onlineSnapshots = (): OperatorFunction<OnlineEvent, OnlineSnapshotEvent> => filter(isSnapshotEvent)
/** Only the rejections and skipped updates (the error side channel). */
export const onlineIssues = (): OperatorFunction<OnlineEvent, RejectedEvent | SkippedEvent> => filter(isIssueEvent)

// ---- metrics ------------------------------------------------------------------------

/** Loss (finite losses only) and hits of a run of examples. */
export interface Score {
  readonly loss: Mean
  readonly hits: Mean
}

/** The product of two Mean monoids (fp-ts `struct`, written out: it runs per example). */
export const ScoreMonoid: Monoid<Score> = {
  concat: (a, b) => ({ loss: MeanMonoid.concat(a.loss, b.loss), hits: MeanMonoid.concat(a.hits, b.hits) }),
  empty: { loss: MeanMonoid.empty, hits: MeanMonoid.empty },
}

export type { SlidingWindow } from './sliding-window.ts'
export { slidingWindow } from './sliding-window.ts'

// ---- learners -----------------------------------------------------------------------

export type { Learner, LearnOutcome } from './learner.ts'

export interface LearnerOptions {
  /** Seed of the run key (default 0), or the key itself. */
  readonly seed?: number
  readonly key?: Key
  /** Continue from this snapshot (resume, fork, replay) instead of initialising. */
  readonly initial?: Snapshot
  /** Start from these parameters instead of init's. */
  readonly params?: Params
  /** Examples per update (default 1). */
  readonly batchSize?: number
}

/**
 * The learner of an objective and optimizer (learner.ts) for every model, every optimizer and every
 * batch size, from the options' initial snapshot or a fresh one.
 */
export const onlineLearner = (
  objective: AnyObjective,
  optimizer: Optimizer,
  options: LearnerOptions = {},
): E.Either<GradstreamError, Learner> => {
  const batchSize = options.batchSize ?? 1
  if (!(Number.isInteger(batchSize) && batchSize >= 1))
    return E.left(new GradstreamError(`online: expected batchSize to be a positive integer, got ${batchSize}`))
  let initial: Snapshot
  if (options.initial !== undefined) initial = options.initial
  else {
    const s = initialSnapshot(objective, optimizer, options.key ?? rootKey(options.seed ?? 0), options.params)
    if (E.isLeft(s)) return s
    initial = s.right
  }
  return E.right(learner(objective, optimizer, initial, trainsDifferently(objective.spec)))
}

// ---- the prequential operator -------------------------------------------------------

export interface OnlineOptions extends LearnerOptions {
  /** Size of the sliding window of the windowed metrics, in examples (default 500). */
  readonly window?: number
  /**
   * A snapshot event every this many examples (default 100), and one at the end. A
   * snapshot is a copy of the learner's parameters and optimizer slots (~40 us for
   * 784-64-10): every example would halve the batch-1 speed, every 100 costs ~3%.
   */
  readonly snapshotEvery?: number
  /**
   * Called with a snapshot every `every` examples (e.g. to write a checkpoint file).
   * It runs inside the step, so the source waits for it; a throw ends the stream.
   */
  readonly checkpoint?: {
    readonly every: number
    /** `drift`: the detector's state and the resets so far (with a drift option), to checkpoint. */
    readonly save: (snapshot: Snapshot, metrics: OnlineMetrics, drift?: SavedDrift, waiting?: readonly WaitingExample[]) => void
  }
  /** A drift detector on the prequential errors, and what a signal does (driftReset.ts). */
  readonly drift?: OnlineDrift
  /**
   * Delayed labels (default 0): the label of example i becomes available at example
   * i + labelDelay. Each example is predicted when it arrives (that prediction is what
   * the prequential metrics score) and learned when its label arrives; at the end of
   * the stream the labels still pending arrive. Examples are learned in arrival order,
   * so the final parameters equal the undelayed run's; only the predictions differ.
   * The reported loss is the training loss at learning time.
   */
  readonly labelDelay?: number
  /**
   * Labels joined by record id: examples carry an `id` (their own label is ignored), are
   * predicted on arrival and wait; an OnlineLabel item naming that id (the caller merges
   * the label stream into the source, in arrival order) makes the example learned, scored
   * with its arrival prediction. Labels naming no waiting example are counted
   * (`unmatchedLabels`); examples whose label never comes are never learned (`waiting`).
   */
  readonly joinLabels?: boolean
  /**
   * Examples a stopped run left waiting for their labels (the `waiting` of its checkpoint
   * hook or final event), oldest first: this run continues with them (labelDelay, joinLabels).
   */
  readonly waiting?: readonly WaitingExample[]
  /**
   * At the end of the source the examples still waiting stay waiting (default false: their
   * labels arrive then, as at the end of a file): the final snapshot event carries them
   * (`waiting`) for a checkpoint, so that a run continued later equals one never stopped.
   */
  readonly keepWaiting?: boolean
}


const isEither = (item: OnlineItem): item is E.Either<Rejection, OnlineExample> =>
  typeof item === 'object' && item !== null && '_tag' in item && (item._tag === 'Left' || item._tag === 'Right')

const positiveInt = (name: string, v: number | undefined, def: number): number => {
  const n = v ?? def
  if (!(Number.isInteger(n) && n >= 1)) throw new GradstreamError(`online: expected ${name} to be a positive integer, got ${n}`)
  return n
}

/** The running state of one prequential run (private, mutable; emits immutable events). */
const prequentialRun = (objective: AnyObjective, optimizer: Optimizer, options: OnlineOptions) => {
  const learnerE = onlineLearner(objective, optimizer, options)
  if (E.isLeft(learnerE)) throw learnerE.left
  let learner = learnerE.right
  const k = positiveInt('batchSize', options.batchSize, 1)
  const windowSize = positiveInt('window', options.window, 500)
  const every = positiveInt('snapshotEvery', options.snapshotEvery, 100)
  const checkpointEvery = options.checkpoint ? positiveInt('checkpoint.every', options.checkpoint.every, 1) : 0
  const classifies = objective.task === 'classification'
  const C = learner.classes
  const S = size(objective.inShape)
  // The window holds per-batch scores: the last W examples, rounded up to whole batches.
  const window = slidingWindow(ScoreMonoid, Math.ceil(windowSize / k))
  let total: Score = ScoreMonoid.empty
  // A regressor's errors: outputs per example, the targets of the batch, and the scores.
  const regresses = objective.task === 'regression'
  const O = regresses ? (learner.outputs ?? 0) : 0
  const targets = regresses ? new Float32Array(k * O) : undefined
  const regWindow = slidingWindow(RegressionMonoid, Math.ceil(windowSize / k))
  let regTotal: RegressionScore = RegressionMonoid.empty
  // A classifier's per-class counts for macro F1 (bounded like the confusion matrix).
  const f1Monoid = classifies && C <= MAX_CONFUSION_CLASSES ? classScoreMonoid(C) : undefined
  const f1Window = f1Monoid === undefined ? undefined : slidingWindow(f1Monoid, Math.ceil(windowSize / k))
  let f1Total: ClassScore | undefined = f1Monoid?.empty
  let seen = 0
  let examples = 0
  let learned = 0
  let skipped = 0
  let rejected = 0
  const byReason = new Map<string, number>()
  // The drift detector and the reset (drift-reset.ts); examples are counted from the start
  // of the stream (the initial snapshot's `seen`), so a resumed run names the same ones.
  const seenBefore = learner.snapshot().seen
  const drift = options.drift === undefined ? undefined : driftWatch(options.drift, objective, optimizer, learner.snapshot().key)
  // The batch being filled. The step hands it to the model (which may keep it in what it
  // saves, or in its state), so it gets a fresh buffer per batch.
  let x = new Float32Array(k * S)
  const labels = new Int32Array(k)
  const lines: (number | undefined)[] = []
  const indices: number[] = []
  let filled = 0
  // Delayed labels: examples predicted on arrival, waiting for their label (oldest
  // first), and the arrival-time scores of the batch being filled.
  const delay = options.labelDelay ?? 0
  if (!(Number.isInteger(delay) && delay >= 0)) throw new GradstreamError(`online: expected labelDelay to be an integer >= 0, got ${delay}`)
  type Waiting = WaitingExample
  const waiting: Waiting[] = []
  let waitingHead = 0
  let arrivalHits = 0
  // The classes predicted at arrival of the examples in the batch being filled.
  const arrivalClasses = new Int32Array(k)
  const arrivalPredictions = regresses ? new Float32Array(k * O) : undefined
  // Labels joined by id: examples waiting by id, with their arrival prediction.
  const join = options.joinLabels === true
  if (join && delay > 0) throw new GradstreamError('online: expected labelDelay or joinLabels, not both')
  const byId = new Map<string | number, Waiting>()
  let unmatched = 0

  const metrics = (): OnlineMetrics => {
    const w = window.value()
    const rw = regWindow.value()
    return {
      seen,
      examples,
      learned,
      skipped,
      rejected,
      rejectedByReason: Object.fromEntries(byReason),
      accuracy: mean(total.hits),
      loss: mean(total.loss),
      windowAccuracy: mean(w.hits),
      windowLoss: mean(w.loss),
      windowExamples: w.hits.count > 0 ? w.hits.count : w.loss.count,
      mae: mae(regTotal),
      rmse: rmse(regTotal),
      windowMae: mae(rw),
      windowRmse: rmse(rw),
      macroF1: f1Total === undefined ? NaN : macroF1(f1Total),
      windowMacroF1: f1Window === undefined ? NaN : macroF1(f1Window.value()),
      ...(f1Total !== undefined ? { classCounts: { truePositives: f1Total.truePositives, predicted: f1Total.predicted, actual: f1Total.actual } } : {}),
      drifts: drift?.drifts() ?? 0,
      resets: drift?.resets() ?? 0,
      ...(delay > 0 || join ? { waiting: waiting.length - waitingHead + byId.size } : {}),
      ...(join ? { unmatchedLabels: unmatched } : {}),
    }
  }

  const reject = (emit: (e: OnlineEvent) => void, index: number, line: number | undefined, reason: RejectReason, detail: string): void => {
    rejected++
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1)
    emit(line === undefined ? { type: 'rejected', index, reason, detail } : { type: 'rejected', index, line, reason, detail })
  }

  /** Copies and checks one example into slot `filled` of the batch; a rejection reason or undefined. */
  const admit = (ex: OnlineExample): [RejectReason, string] | undefined => {
    const f = ex.features
    if (f === null || typeof f !== 'object' || typeof f.length !== 'number')
      return ['missing field', 'expected features to be an array of numbers']
    if (f.length !== S) return ['wrong field count', `expected ${S} features, got ${f.length}`]
    const o = filled * S
    // Stored as float32 first (a native copy), then checked there: a double beyond
    // float32's range is not finite once stored; v - v is NaN for NaN and +-Infinity.
    x.set(f, o)
    for (let i = o; i < o + S; i++) {
      const v = x[i]
      if (v - v !== 0) {
        const raw = f[i - o]
        return [typeof raw === 'number' ? 'non-finite feature' : 'non-numeric feature', `feature ${i - o} is ${String(raw)}`]
      }
    }
    return join ? undefined : admitLabel(ex)
  }

  /** Checks the label (or target) of `ex` into slot `filled`; a rejection reason or undefined. */
  const admitLabel = (ex: { readonly label?: number; readonly target?: number | ArrayLike<number> }): [RejectReason, string] | undefined => {
    if (classifies) {
      const l = ex.label
      if (l === undefined || l === null) return ['missing label', 'expected a class label']
      if (!(typeof l === 'number' && Number.isInteger(l) && l >= 0)) return ['invalid label', `label ${String(l)} is not a class index`]
      if (l >= C) return ['too many classes', `label ${l}, but the model has ${C} outputs`]
      labels[filled] = l
    }
    if (targets !== undefined) {
      const t = ex.target ?? ex.label
      if (t === undefined || t === null) return ['missing label', 'expected a numeric target']
      const o = filled * O
      if (typeof t === 'number') {
        if (O !== 1) return ['wrong field count', `expected ${O} targets, got 1`]
        targets[o] = t
      } else if (typeof t === 'object' && typeof t.length === 'number') {
        if (t.length !== O) return ['wrong field count', `expected ${O} targets, got ${t.length}`]
        targets.set(t, o)
      } else return ['invalid label', `target ${String(t)} is not a number`]
      for (let i = o; i < o + O; i++) {
        const v = targets[i]
        if (v - v !== 0) return ['invalid label', `target ${String(t)} is not a finite number`]
      }
    }
    return undefined
  }

  const emitSnapshot = (emit: (e: OnlineEvent) => void, final: boolean): void => {
    const e: OnlineSnapshotEvent = { type: 'snapshot', snapshot: learner.snapshot(), metrics: metrics(), final }
    const kept = final && options.keepWaiting === true ? savedWaiting() : undefined
    emit({ ...e, ...(drift !== undefined ? { drift: drift.save() } : {}), ...(kept !== undefined ? { waiting: kept } : {}) })
  }

  const learnBatch = (emit: (e: OnlineEvent) => void): void => {
    const n = filled
    const out = learner.learn(
      n === k ? x : x.subarray(0, n * S),
      classifies ? (n === k ? labels : labels.subarray(0, n)) : undefined,
      n,
      targets === undefined ? undefined : targets.slice(0, n * O),
    )
    x = new Float32Array(k * S)
    const before = examples
    examples += n
    const lossOk = Number.isFinite(out.loss)
    // With delayed labels the scores are of the predictions made at arrival.
    const hits = delay > 0 || join ? arrivalHits : out.hits
    const predictions = delay > 0 || join ? arrivalPredictions?.subarray(0, n * O) : out.predictions
    arrivalHits = 0
    const score: Score = {
      loss: lossOk ? { sum: out.loss * n, count: n } : MeanMonoid.empty,
      hits: classifies ? { sum: hits, count: n } : MeanMonoid.empty,
    }
    total = ScoreMonoid.concat(total, score)
    window.push(score)
    // With delayed labels the classes are the ones predicted at arrival.
    const predictedClasses = delay > 0 || join ? arrivalClasses : out.predicted
    if (f1Monoid !== undefined && f1Window !== undefined && f1Total !== undefined && predictedClasses !== undefined) {
      const c = classScoreOfBatch(C, labels, predictedClasses, n, lossOk ? out.loss * n : 0)
      f1Total = f1Monoid.concat(f1Total, c)
      f1Window.push(c)
    }
    if (targets !== undefined && predictions !== undefined) {
      const r = regressionScore(predictions, targets.subarray(0, n * O))
      regTotal = RegressionMonoid.concat(regTotal, r)
      regWindow.push(r)
    }
    if (out.skipped !== undefined) {
      skipped += n
      const step = learner.snapshot().step
      for (let i = 0; i < n; i++) {
        const line = lines[i]
        const e: SkippedEvent = { type: 'skipped', step, index: indices[i], reason: out.skipped, loss: out.loss }
        emit(line === undefined ? e : { ...e, line })
      }
    } else learned += n
    if (drift !== undefined) {
      // One error per example: 1 for a miss, 0 for a hit (within a batch of k > 1, whose
      // hits are counted but not placed, the misses come first).
      for (const signal of drift.observe(n, classifies ? hits : NaN, out.loss, seenBefore + before)) {
        const i = signal.at - seenBefore - before - 1
        const line = lines[i]
        const e: OnlineDriftEvent = { type: 'drift', step: signal.at, detector: signal.detector, detail: signal.detail, reset: signal.reset, index: indices[i] }
        emit(line === undefined ? e : { ...e, line })
        if (signal.reset) learner = drift.resetLearner(learner.snapshot())
      }
    }
    filled = 0
    lines.length = 0
    indices.length = 0
    if (Math.floor(examples / every) > Math.floor(before / every)) emitSnapshot(emit, false)
    if (options.checkpoint && Math.floor(examples / checkpointEvery) > Math.floor(before / checkpointEvery))
      options.checkpoint.save(learner.snapshot(), metrics(), drift?.save(), savedWaiting())
  }

  /** The arrival prediction of the example in slot `filled`: its features, class (argmax) and outputs. */
  const predictArrival = (): { xi: Float32Array; best: number; out: ArrayLike<number> } => {
    const xi = x.slice(filled * S, (filled + 1) * S)
    const out = (learner.predict ?? ((): never => { throw new GradstreamError('online: delayed labels need a learner with predict') }))(xi, 1).data
    let best = 0
    if (classifies) for (let c = 1; c < out.length; c++) if (out[c] > out[best]) best = c
    return { xi, best, out }
  }

  /** Delayed labels: predicts the example admitted into slot `filled`, queues it, and releases the one whose label arrives now. */
  const arrive = (emit: (e: OnlineEvent) => void, line: number | undefined, index: number): void => {
    const { xi, best, out } = predictArrival()
    const hit = classifies && best === labels[filled] ? 1 : 0
    waiting.push({
      features: xi,
      label: labels[filled],
      line,
      index,
      hit,
      predicted: best,
      ...(targets !== undefined ? { target: targets.slice(filled * O, (filled + 1) * O), prediction: Float32Array.from(out) } : {}),
    })
    if (waiting.length - waitingHead > delay) release(emit)
  }

  /** The oldest waiting example's label arrives: it joins the batch to learn, with its arrival-time score. */
  const release = (emit: (e: OnlineEvent) => void): void => {
    const w = waiting[waitingHead++]
    if (waitingHead > 1024 && waitingHead * 2 > waiting.length) {
      waiting.splice(0, waitingHead)
      waitingHead = 0
    }
    x.set(w.features, filled * S)
    labels[filled] = w.label
    if (targets !== undefined && w.target !== undefined) targets.set(w.target, filled * O)
    if (arrivalPredictions !== undefined && w.prediction !== undefined) arrivalPredictions.set(w.prediction, filled * O)
    arrivalHits += w.hit
    arrivalClasses[filled] = w.predicted
    lines.push(w.line)
    indices.push(w.index)
    filled++
    if (filled === k) learnBatch(emit)
  }

  /** Joined labels: an example with an id, predicted and waiting for its label. */
  const arriveById = (emit: (e: OnlineEvent) => void, ex: OnlineExample, index: number): void => {
    const id = ex.id
    if (!(typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))))
      return reject(emit, index, ex.line, 'missing field', 'expected an id (a string or a number) to join its label by')
    if (byId.has(id)) return reject(emit, index, ex.line, 'invalid label', `id ${JSON.stringify(id)} is already waiting for its label`)
    const { xi, best, out } = predictArrival()
    byId.set(id, { features: xi, label: 0, id, line: ex.line, index, hit: 0, predicted: best, ...(targets !== undefined ? { prediction: Float32Array.from(out) } : {}) })
  }

  /** Joined labels: the label of a waiting example arrives; it joins the batch with its arrival score. */
  const labelArrives = (emit: (e: OnlineEvent) => void, l: OnlineLabel, index: number): void => {
    const w = byId.get(l.labelFor)
    if (w === undefined) {
      unmatched++
      return
    }
    const bad = admitLabel(l)
    if (bad !== undefined) return reject(emit, index, l.line, bad[0], bad[1])
    byId.delete(l.labelFor)
    x.set(w.features, filled * S)
    if (arrivalPredictions !== undefined && w.prediction !== undefined) arrivalPredictions.set(w.prediction, filled * O)
    if (classifies && w.predicted === labels[filled]) arrivalHits++
    arrivalClasses[filled] = w.predicted
    lines.push(w.line)
    indices.push(w.index)
    filled++
    if (filled === k) learnBatch(emit)
  }

  /** The examples waiting for their labels, oldest first, as a checkpoint keeps them (index relative to `seen`). */
  const savedWaiting = (): readonly WaitingExample[] | undefined => {
    if (delay === 0 && !join) return undefined
    const all = delay > 0 ? waiting.slice(waitingHead) : [...byId.values()]
    return all.map((w) => ({ ...w, index: w.index - seen }))
  }

  /** A resumed run's waiting examples (OnlineOptions.waiting), checked against this model. */
  const restoreWaiting = (saved: readonly WaitingExample[]): void => {
    if (saved.length > 0 && delay === 0 && !join) throw new GradstreamError(`online: ${saved.length} examples are waiting for labels, but there is no labelDelay or joinLabels`)
    if (delay > 0 && saved.length > delay)
      throw new GradstreamError(`online: expected at most labelDelay (${delay}) waiting examples, got ${saved.length}`)
    for (const w of saved) {
      if (!(w.features instanceof Float32Array) || w.features.length !== S)
        throw new GradstreamError(`online: expected waiting examples of ${S} features, got ${w.features?.length}`)
      if (classifies && !(Number.isInteger(w.predicted) && w.predicted >= 0 && w.predicted < C && (join || (Number.isInteger(w.label) && w.label >= 0 && w.label < C))))
        throw new GradstreamError(`online: a waiting example's class is outside 0..${C - 1} (label ${w.label}, predicted ${w.predicted})`)
      if (regresses && !(w.prediction?.length === O && (join || w.target?.length === O)))
        throw new GradstreamError(`online: expected a waiting example of a regressor to keep its ${O} outputs at arrival${join ? '' : ' and its targets'}`)
      if (join) {
        const id = w.id
        if (!(typeof id === 'string' || typeof id === 'number')) throw new GradstreamError('online: expected every waiting example to keep the id its label names')
        byId.set(id, w)
      } else waiting.push(w)
    }
  }
  if (options.waiting !== undefined) restoreWaiting(options.waiting)

  return {
    push: (item: OnlineItem, emit: (e: OnlineEvent) => void): void => {
      const index = seen++
      if (typeof item !== 'object' || item === null) return reject(emit, index, undefined, 'not an object', `got ${String(item)}`)
      if ('labelFor' in item) {
        if (!join) return reject(emit, index, item.line, 'not an object', 'a label item needs joinLabels')
        return labelArrives(emit, item, index)
      }
      let ex: OnlineExample
      if (isEither(item)) {
        if (E.isLeft(item)) return reject(emit, index, item.left.line, item.left.reason, item.left.detail)
        ex = item.right
      } else ex = item
      const bad = admit(ex)
      if (bad !== undefined) return reject(emit, index, ex.line, bad[0], bad[1])
      if (delay > 0) return arrive(emit, ex.line, index)
      if (join) return arriveById(emit, ex, index)
      lines.push(ex.line)
      indices.push(index)
      filled++
      if (filled === k) learnBatch(emit)
    },
    finish: (emit: (e: OnlineEvent) => void): void => {
      if (options.keepWaiting !== true) while (waitingHead < waiting.length) release(emit)
      if (filled > 0) learnBatch(emit)
      emitSnapshot(emit, true)
    },
  }
}

/**
 * Prequential learning as an operator on an Observable of records (examples or decoded
 * Eithers). Each subscription is an independent run from the same initial state.
 * An Observable cannot be paused: for sources with their own pace use `online`.
 */
export const prequential =
  (objective: AnyObjective, optimizer: Optimizer, options: OnlineOptions = {}): OperatorFunction<OnlineItem, OnlineEvent> =>
  (source) =>
    new Observable<OnlineEvent>((subscriber) => {
      let run: ReturnType<typeof prequentialRun>
      try {
        run = prequentialRun(objective, optimizer, options)
      } catch (e) {
        subscriber.error(e)
        return undefined
      }
      const emit = (e: OnlineEvent): void => subscriber.next(e)
      return source.subscribe({
        next: (item) => {
          try {
            run.push(item, emit)
          } catch (e) {
            subscriber.error(e)
          }
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => {
          try {
            run.finish(emit)
            subscriber.complete()
          } catch (e) {
            subscriber.error(e)
          }
        },
      })
    })

/**
 * Online learning from a pulled source: an array, any iterable, an async iterable (a
 * generator reading a socket, `recordsFrom...(...).records`). The next record is asked
 * for only after the previous one has been learned, so memory stays bounded whatever
 * the producer's pace; the event loop is served between records. Cold: each
 * subscription is a run; unsubscribing stops the pull and closes the source.
 */
export const online = (
  objective: AnyObjective,
  optimizer: Optimizer,
  source: OnlineSource,
  options: OnlineOptions = {},
): Observable<OnlineEvent> => pulled<OnlineItem>(source).pipe(prequential(objective, optimizer, options))
