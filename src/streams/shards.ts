// Microbatch sharding: a minibatch of B rows split into S fixed shards, each shard's
// loss and gradient computed on its own (in this thread or in a worker), then combined
// in shard order:
//
//   loss = sum_s (B_s / B) loss_s        grads = sum_s (B_s / B) g_s
//
// which is the batch-mean objective. The partition (S, and which rows go to which
// shard) depends only on B and S, and the reduction order is fixed, so the result is
// bit-identical whoever computes each shard: one thread or any number of workers
// (DESIGN.md, "Replay and time travel": parallel work must not change a single bit).
// Shard s of step t draws its forward noise from foldIn(forwardKey(key, t), s).
//
// Model state (batch norm's running statistics; layer.ts): every shard starts from the
// snapshot's state and returns its next state; the step's next state is their weighted
// mean, sum_s (B_s / B) state_s, folded in shard order like the gradient (so it does not
// depend on the thread count either). Objectives whose state cannot be averaged (an
// RBM's persistent chains: one per batch row) train with one shard.

import type { Monoid } from 'fp-ts/lib/Monoid.js'
import { GradstreamError } from '../core/errors.ts'
import { inArena, StepArena } from '../core/arena.ts'
import type { AnyObjective, Batch } from '../models/objective.ts'
import type { Key } from '../core/rng.ts'
import { foldIn } from '../core/rng.ts'
import type { Tensor } from '../core/tensor.ts'
import { size } from '../core/tensor.ts'
import type { Layout, Params } from '../core/tree.ts'
import { ravel, ravelInto, unravel } from '../core/tree.ts'
import { forwardKey } from './snapshot.ts'
import type { Optimizer } from '../models/optimizers.ts'
import type { Snapshot } from './snapshot.ts'
import type { BackwardResult, StepInput } from './steps.ts'
import { updateStep } from './steps.ts'
import { weightedAdd, weightedAdd2 } from '../ops/weighted-add.ts'

/** Row ranges [start, end) of each shard: sizes differ by at most one, larger first. */
export const shardRanges = (B: number, shards: number): Array<readonly [number, number]> => {
  if (!(Number.isInteger(shards) && shards >= 1))
    throw new GradstreamError(`microbatches: expected a positive integer, got ${shards}`)
  const base = Math.floor(B / shards)
  const extra = B % shards
  const out: Array<readonly [number, number]> = []
  let start = 0
  for (let s = 0; s < shards; s++) {
    const n = base + (s < extra ? 1 : 0)
    out.push([start, start + n])
    start += n
  }
  return out
}

const rows = (t: Tensor, r0: number, r1: number): Tensor => {
  const per = size(t.shape.slice(1))
  return { shape: [r1 - r0, ...t.shape.slice(1)], data: t.data.subarray(r0 * per, r1 * per) }
}

/** Shard s of a batch: views of its rows (no copy). */
export const shardOf = (batch: Batch, r0: number, r1: number): Batch => ({
  x: rows(batch.x, r0, r1),
  y: batch.y === batch.x ? rows(batch.x, r0, r1) : rows(batch.y, r0, r1),
  labels: batch.labels?.subarray(r0, r1),
  epoch: batch.epoch,
  position: batch.position,
})

export interface ShardTask {
  readonly shard: number
  readonly batch: Batch
  /** The key of this shard's forward pass. */
  readonly key: Key
}

/** The model state of a step, flat (Float32) with its layout, as shards receive it. */
export interface ShardState {
  readonly flat: Float32Array
  readonly layout: Layout
}

export interface ShardResult {
  /** The shard's next model state, flat in the state's layout (when the step has one). */
  readonly state?: Float32Array
  readonly loss: number
  /** The shard's mean gradient, flat in the snapshot's layout. */
  readonly grads: Float32Array
  /** The shard's outputs [B_s, ...]. */
  readonly outputs: Tensor
}

/**
 * Computes shard results and hands each to `consume` in task order, as soon as it and
 * every earlier one are ready (so the caller can reduce while other shards are still
 * being computed). A result may be a view of the executor's own buffers, valid only
 * during its `consume` call.
 */
export interface ShardExecutor {
  run(
    objective: AnyObjective,
    flat: Float32Array,
    layout: Layout,
    tasks: readonly ShardTask[],
    consume: (index: number, result: ShardResult) => void,
    state?: ShardState | null,
  ): void
  /**
   * Optional: run, and also the gradient reduction sum_s weights[s] g_s, with the
   * arithmetic of WeightedSum (reduceRangeInto), split as the executor likes (the worker
   * pool: every thread reduces a range of the parameters). `consume` sees every result
   * (their gradients are already reduced). Returns the sum, a buffer of the executor's
   * valid until its next call, or null when it does not reduce these tasks (the caller
   * then calls run).
   */
  runReduced?(
    objective: AnyObjective,
    flat: Float32Array,
    layout: Layout,
    tasks: readonly ShardTask[],
    weights: readonly number[],
    consume: (index: number, result: ShardResult) => void,
    state?: ShardState | null,
  ): ReducedGrads | null
}

/** A reduced gradient and its finiteness probe (0 when every term is finite, else NaN). */
export interface ReducedGrads {
  readonly grads: Float32Array
  readonly probe: number
}

/** An executor running for one training run; stopped when the run ends. */
export interface RunningExecutor extends ShardExecutor {
  terminate(): Promise<void>
}

/**
 * A factory's answer when it cannot start threads where it runs (a page that is not
 * cross-origin isolated, a runtime without workers): the run trains on one thread, with
 * the same bits, and says why in a one-line notice (train.ts).
 */
export interface ThreadsUnavailable {
  readonly unavailable: string
}

/**
 * What a run with `threads` > 1 is given to compute its shards on (TrainConfig.executor):
 * it starts once per run. streams/ only knows this type; the Node entry and the CLI pass
 * the worker-thread pool (parallel/threads.ts), the browser entry Web Workers
 * (parallel/web-workers.ts).
 */
export type ExecutorFactory = (options: {
  readonly threads: number
  readonly objective: AnyObjective
  readonly layout: Layout
}) => Promise<RunningExecutor | ThreadsUnavailable>

/** One shard's loss and gradient with the parameters in `flat` (the worker runs this too). */
/** `into`: a buffer of layout.size to receive the gradient (default: a fresh one). */
export const computeShard = (
  objective: AnyObjective,
  flat: Float32Array,
  layout: Layout,
  task: ShardTask,
  into?: Float32Array,
  state?: ShardState | null,
  arena: StepArena = new StepArena(),
): ShardResult => {
  const g = into ?? new Float32Array(layout.size)
  const next = state != null ? new Float32Array(state.layout.size) : null
  // Everything the layers allocate stays in the arena; what leaves is copied out.
  const { loss, outputs } = inArena(arena, () => {
    const params = unravel(layout, flat)
    const s0 = state != null ? unravel(state.layout, state.flat) : null
    const fwd = objective.forward(params, s0, task.batch, { training: true, key: task.key })
    const r = objective.backward(params, s0, task.batch, fwd)
    ravelInto(g, layout, r.grads)
    if (next !== null && state != null) ravelInto(next, state.layout, r.state as Params)
    return { loss: fwd.loss, outputs: { shape: fwd.outputs.shape, data: fwd.outputs.data.slice() } }
  })
  return next === null ? { loss, grads: g, outputs } : { loss, grads: g, outputs, state: next }
}

/**
 * Every shard in this thread, one after another. Each result is consumed before the
 * next shard runs, so one private gradient buffer serves them all.
 */
export const localExecutor = (): ShardExecutor => {
  let scratch = new Float32Array(0)
  // The shards' memory, reused shard after shard, freed with the executor (core/arena.ts).
  const arena = new StepArena()
  return {
    run: (objective, flat, layout, tasks, consume, state) =>
      tasks.forEach((t, i) => {
        if (scratch.length !== layout.size) scratch = new Float32Array(layout.size)
        consume(i, computeShard(objective, flat, layout, t, scratch, state, arena))
      }),
  }
}

/** Flat gradients under addition: the Monoid the shard reduction folds with. */
export const flatSumMonoid = (n: number): Monoid<Float32Array> => ({
  concat: (a, b) => {
    const out = new Float32Array(n)
    for (let i = 0; i < n; i++) out[i] = a[i] + b[i]
    return out
  },
  empty: new Float32Array(n),
})

/**
 * concatAll(flatSumMonoid)(w_s g_s for each shard s), evaluated in place, one term at a
 * time: acc = ((0 + w_0 g_0) + w_1 g_1) + ..., each partial sum rounded to float32
 * exactly as the fold rounds it (tested bit-identical), without a fresh array per term:
 * at 235k parameters the fold's allocations and passes cost more than a shard's
 * backward. `add` returns 0 * sum(term), which is NaN unless every entry is finite: the
 * finiteness check rides along for free.
 */
export class WeightedSum {
  readonly out: Float32Array
  /** Terms added since reset (the first one overwrites: 0 + v, no zero-fill pass). */
  private terms = 0
  constructor(n: number) {
    this.out = new Float32Array(n)
  }
  reset(): void {
    this.terms = 0
  }
  add(g: Float32Array, w: number): number {
    const first = this.terms === 0
    this.terms++
    // ops/weighted-add.ts: Math.fround(w * g[i]), as the fold stores w_s g_s in a Float32Array.
    return weightedAdd(this.out, g, w, first)
  }
}

/**
 * Entries [r0, r1) of sum_s weights[s] g_s into out[r0, r1), where g_s is
 * parts[s P, (s + 1) P): the terms added in shard order, each entry rounded exactly as
 * WeightedSum rounds it (weightedAdd is elementwise), so any split of the entries across
 * threads gives the bits of one WeightedSum. Returns the finiteness probe of the range.
 */
export const reduceRangeInto = (
  out: Float32Array,
  parts: Float32Array,
  P: number,
  weights: ArrayLike<number>,
  S: number,
  r0: number,
  r1: number,
): number => {
  let probe = 0
  const o = out.subarray(r0, r1)
  const part = (s: number): Float32Array => parts.subarray(s * P + r0, s * P + r1)
  // The terms in shard order, two at a time (one pass and one copy of each operand), the
  // last one alone when S is odd: the fold's roundings either way.
  let s = 0
  for (; s + 2 <= S; s += 2) probe += weightedAdd2(o, part(s), part(s + 1), weights[s], weights[s + 1], s === 0)
  if (s < S) probe += weightedAdd(o, part(s), weights[s], s === 0)
  return probe
}

/** The whole reduction at once (tests; shardedBackward streams it). */
export const weightedSum = (parts: readonly Float32Array[], weights: readonly number[], n: number): Float32Array => {
  const acc = new WeightedSum(n)
  parts.forEach((g, s) => acc.add(g, weights[s]))
  return acc.out
}

/** Concatenates shard outputs (in order) into the batch's outputs. */
const joinRows = (parts: readonly Tensor[], B: number): Tensor => {
  const per = size(parts[0].shape.slice(1))
  const data = new Float32Array(B * per)
  let at = 0
  for (const p of parts) {
    data.set(p.data, at)
    at += p.data.length
  }
  return { shape: [B, ...parts[0].shape.slice(1)], data }
}

/** Reduces a step's shards into `acc` (zeroed here), in shard order. */
const reduceShards = (
  objective: AnyObjective,
  executor: ShardExecutor,
  shards: number,
  { snapshot, batch }: StepInput,
  acc: WeightedSum,
  fresh: boolean,
): BackwardResult => {
  let state: ShardState | null = null
  if (snapshot.modelState !== null) {
    if (objective.shardedState !== 'mean')
      throw new GradstreamError('microbatches: models with state (e.g. persistent RBM chains) train with microbatches = 1')
    const r = ravel(snapshot.modelState as Params, 'float32')
    state = { flat: r.data as Float32Array, layout: r.layout }
  }
  const stateAcc = state === null ? null : new WeightedSum(state.layout.size)
  const B = batch.x.shape[0]
  const base = forwardKey(snapshot.key, snapshot.step)
  const tasks: ShardTask[] = shardRanges(B, shards)
    .map(([r0, r1], s) => ({ shard: s, batch: shardOf(batch, r0, r1), key: foldIn(base, s) }))
    .filter((t) => t.batch.x.shape[0] > 0)
  const weights = tasks.map((t) => t.batch.x.shape[0] / B)
  acc.reset()
  const outputs: Tensor[] = new Array(tasks.length)
  let loss = 0
  let probe = 0
  let reducing = false
  const consume = (i: number, r: ShardResult): void => {
    loss += weights[i] * r.loss
    if (!reducing) probe += acc.add(r.grads, weights[i])
    outputs[i] = { shape: r.outputs.shape, data: r.outputs.data.slice() }
    if (stateAcc !== null) {
      if (r.state === undefined) throw new GradstreamError('microbatches: a shard returned no model state')
      stateAcc.add(r.state, weights[i])
    }
  }
  // An executor that reduces as well (the worker pool, one shard per thread) spares this
  // thread the reduction; its sum is the same bits as acc's.
  reducing = executor.runReduced !== undefined
  const reduced = reducing ? (executor.runReduced?.(objective, snapshot.flat, snapshot.layout, tasks, weights, consume, state) ?? null) : null
  if (reduced === null) {
    reducing = false
    executor.run(objective, snapshot.flat, snapshot.layout, tasks, consume, state)
  } else probe = reduced.probe
  const grads = reduced === null ? acc.out : fresh ? reduced.grads.slice() : reduced.grads
  const modelState = state === null || stateAcc === null ? null : unravel(state.layout, stateAcc.out)
  return { snapshot, batch, loss, outputs: joinRows(outputs, B), grads, modelState, finite: probe === 0 }
}

/**
 * The backward half of a sharded step: splits the batch, has the executor compute every
 * shard, and combines them in shard order into a fresh gradient. Its result feeds the
 * ordinary updateStep.
 */
export const shardedBackward =
  (objective: AnyObjective, executor: ShardExecutor, shards: number) =>
  (input: StepInput): BackwardResult =>
    reduceShards(objective, executor, shards, input, new WeightedSum(input.snapshot.flat.length), true)

/**
 * A whole sharded training step (backward, then update). The reduced gradient lives in a
 * buffer private to this step function (or the executor's, when it reduces: runReduced),
 * reused from step to step: it is read by the optimizer, which writes fresh parameters,
 * and never escapes, so no emitted value changes (a fresh 1 MB array per step costs
 * ~0.5 ms in page faults alone).
 */
export const shardedTrainStep = (
  objective: AnyObjective,
  optimizer: Optimizer,
  executor: ShardExecutor,
  shards: number,
): ((input: StepInput) => Snapshot) => {
  const update = updateStep(optimizer, objective.task === 'classification')
  let acc = new WeightedSum(0)
  return (input) => {
    if (acc.out.length !== input.snapshot.flat.length) acc = new WeightedSum(input.snapshot.flat.length)
    return update(reduceShards(objective, executor, shards, input, acc, false))
  }
}
