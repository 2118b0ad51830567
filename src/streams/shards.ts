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

import { concatAll } from 'fp-ts/lib/Monoid.js'
import type { Monoid } from 'fp-ts/lib/Monoid.js'
import { GradstreamError } from '../errors.ts'
import type { AnyObjective, Batch } from '../models/objective.ts'
import type { Key } from '../rng.ts'
import { foldIn } from '../rng.ts'
import type { Tensor } from '../tensor.ts'
import { size } from '../tensor.ts'
import type { Layout } from '../tree.ts'
import { ravelInto, unravel } from '../tree.ts'
import { forwardKey } from './snapshot.ts'
import type { BackwardResult, StepInput } from './steps.ts'

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

export interface ShardResult {
  readonly loss: number
  /** The shard's mean gradient, flat in the snapshot's layout. */
  readonly grads: Float32Array
  /** The shard's outputs [B_s, ...]. */
  readonly outputs: Tensor
}

/** Computes shard results, in task order. */
export interface ShardExecutor {
  run(objective: AnyObjective, flat: Float32Array, layout: Layout, tasks: readonly ShardTask[]): ShardResult[]
}

/** One shard's loss and gradient with the parameters in `flat` (the worker runs this too). */
export const computeShard = (objective: AnyObjective, flat: Float32Array, layout: Layout, task: ShardTask): ShardResult => {
  const params = unravel(layout, flat)
  const fwd = objective.forward(params, null, task.batch, { training: true, key: task.key })
  const { grads } = objective.backward(params, null, task.batch, fwd)
  const g = new Float32Array(layout.size)
  ravelInto(g, layout, grads)
  return { loss: fwd.loss, grads: g, outputs: fwd.outputs }
}

/** Every shard in this thread, one after another. */
export const localExecutor: ShardExecutor = {
  run: (objective, flat, layout, tasks) => tasks.map((t) => computeShard(objective, flat, layout, t)),
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

const scaled = (g: Float32Array, w: number): Float32Array => {
  if (w === 1) return g
  const out = new Float32Array(g.length)
  for (let i = 0; i < g.length; i++) out[i] = w * g[i]
  return out
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

/**
 * The backward half of a sharded step: splits the batch, has the executor compute every
 * shard, and combines them in shard order. Its result feeds the ordinary updateStep.
 */
export const shardedBackward =
  (objective: AnyObjective, executor: ShardExecutor, shards: number) =>
  ({ snapshot, batch }: StepInput): BackwardResult => {
    if (snapshot.modelState !== null)
      throw new GradstreamError('microbatches: models with state (e.g. persistent RBM chains) train with microbatches = 1')
    const B = batch.x.shape[0]
    const base = forwardKey(snapshot.key, snapshot.step)
    const tasks: ShardTask[] = shardRanges(B, shards)
      .map(([r0, r1], s) => ({ shard: s, batch: shardOf(batch, r0, r1), key: foldIn(base, s) }))
      .filter((t) => t.batch.x.shape[0] > 0)
    const results = executor.run(objective, snapshot.flat, snapshot.layout, tasks)
    const weights = tasks.map((t) => t.batch.x.shape[0] / B)
    const loss = results.reduce((acc, r, i) => acc + weights[i] * r.loss, 0)
    const grads = concatAll(flatSumMonoid(snapshot.flat.length))(results.map((r, i) => scaled(r.grads, weights[i])))
    return {
      snapshot,
      batch,
      loss,
      outputs: joinRows(
        results.map((r) => r.outputs),
        B,
      ),
      grads,
      modelState: null,
    }
  }
