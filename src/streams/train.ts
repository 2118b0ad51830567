// train(model, loss, optimizer, config): Observable<Snapshot>, one snapshot per step.
//
//   minibatches(source) --augment...--> fit (scan of forward, backward, update) --> snapshots
//
// Cold and lazy: nothing runs until subscribed, each subscription is an independent run,
// and unsubscribing stops it within one batch. With the same seed, data, model and
// config every run emits bit-identical snapshots.

import * as E from 'fp-ts/lib/Either.js'
import type { MonoTypeOperatorFunction, Observable } from 'rxjs'
import { defer, finalize, from, pipe as rxPipe, switchMap, throwError } from 'rxjs'
import type { LayerError } from '../core/errors.ts'
import { GradstreamError } from '../core/errors.ts'
import { verifySnapshot } from '../core/immutable-guard.ts'
import type { AnyLayer } from '../models/layer.ts'
import type { AnyLoss } from '../models/loss.ts'
import type { AnyObjective, Batch } from '../models/objective.ts'
import { supervised } from '../models/objective.ts'
import type { Optimizer } from '../models/optimizers.ts'
import type { Key } from '../core/rng.ts'
import { key as rootKey } from '../core/rng.ts'
import type { Shape } from '../core/tensor.ts'
import type { Params } from '../core/tree.ts'
import { ravel, unravel } from '../core/tree.ts'
import type { Snapshot } from './snapshot.ts'
import { initKey, makeSnapshot } from './snapshot.ts'
import type { BatchSource } from './source.ts'
import { minibatches } from './source.ts'
import type { ExecutorFactory, ShardExecutor } from './shards.ts'
import { localExecutor, shardedTrainStep } from './shards.ts'
import { fit } from './steps.ts'
import { warmUpKernels } from '../ops/warm-up.ts'

export interface TrainConfig {
  readonly data: BatchSource
  /** Epochs to run, counted from epoch 0 (a resumed run stops at the same epoch). Default 1. */
  readonly epochs?: number
  /** Seed of the run key (default 0); or give the key itself. */
  readonly seed?: number
  readonly key?: Key
  /** Operators applied to every batch before the step (e.g. randomShift). */
  readonly augment?: readonly ((key: Key) => MonoTypeOperatorFunction<Batch>)[]
  /** Continue from this snapshot (resume, fork, replay) instead of initialising. */
  readonly initial?: Snapshot
  /** Start from these parameters (e.g. pretrained) instead of init's. */
  readonly params?: Params
  /**
   * Split every minibatch into this many fixed shards, combined in a fixed order
   * (streams/shards.ts). Default 1: the plain step. The result depends on this number,
   * never on `threads`.
   */
  readonly microbatches?: number
  /** Threads computing the shards (main thread included; default 1). */
  readonly threads?: number
  /**
   * Starts the threads when `threads` > 1 (streams/ does not import parallel/): the Node
   * entry's `train` passes the worker-thread pool (parallel/threads.ts), the browser
   * entry's Web Workers (parallel/web-workers.ts). Without one, or when it cannot start
   * threads where it runs, the run trains on one thread: the same bits (`microbatches`
   * fixes them), with a one-line notice.
   */
  readonly executor?: ExecutorFactory
  /** Where that notice goes (default: console.info). */
  readonly notice?: (line: string) => void
}

/** The step-0 snapshot of a run: parameters from the init key (or given), fresh optimizer state. */
export const initialSnapshot = (
  objective: AnyObjective,
  optimizer: Optimizer,
  key: Key,
  params?: Params,
): E.Either<LayerError, Snapshot> =>
  E.map(({ params: p0, state }: { params: Params; state: unknown }) => {
    const { layout, data } = ravel(params ?? p0, 'float32')
    const flat = data as Float32Array
    return makeSnapshot({
      step: 0,
      epoch: 0,
      position: 0,
      endOfEpoch: false,
      seen: 0,
      flat,
      layout,
      opt: optimizer.init(unravel(layout, flat)),
      modelState: state,
      key,
      lr: optimizer.lr(0),
      metrics: { loss: NaN, samples: 0 },
    })
  })(objective.init(initKey(key)))

/** Trains any objective (supervised, autoencoding, RBM) on the config's batches. */
export const trainObjective = (objective: AnyObjective, optimizer: Optimizer, config: TrainConfig): Observable<Snapshot> =>
  defer(() => {
    warmUpKernels()
    const key = config.key ?? rootKey(config.seed ?? 0)
    if (config.initial) verifySnapshot(config.initial, 'training from it')
    const init = config.initial ? E.right(config.initial) : initialSnapshot(objective, optimizer, key, config.params)
    if (E.isLeft(init)) return throwError(() => init.left)
    const s0 = init.right
    const per = config.data.batchesPerEpoch
    // Resume where the initial snapshot stopped: the next batch of its epoch, or the
    // first batch of the next epoch when its epoch was complete.
    const start =
      s0.step === 0 && s0.seen === 0
        ? { epoch: 0, position: 0 }
        : per !== undefined && s0.position >= per
          ? { epoch: s0.epoch + 1, position: 0 }
          : { epoch: s0.epoch, position: s0.position }
    const augment = (config.augment ?? []).map((make) => make(s0.key))
    const batches = minibatches(config.data, { key: s0.key, epochs: config.epochs ?? 1, start })
    const withAugment = augment.reduce<Observable<Batch>>((obs, op) => obs.pipe(op), batches)
    const shards = config.microbatches ?? 1
    const threads = config.threads ?? 1
    if (!(Number.isInteger(threads) && threads >= 1))
      return throwError(() => new GradstreamError(`threads: expected a positive integer, got ${threads}`))
    if (!(Number.isInteger(shards) && shards >= 1))
      return throwError(() => new GradstreamError(`microbatches: expected a positive integer, got ${shards}`))
    if (shards === 1) return withAugment.pipe(rxPipe(fit(objective, optimizer, s0, per)))
    const sharded = (executor: ShardExecutor) =>
      withAugment.pipe(
        fit(objective, optimizer, s0, per, shardedTrainStep(objective, optimizer, executor, shards)),
      )
    if (threads === 1) return sharded(localExecutor())
    // One thread instead of many: the shards are the same, so are the bits; only the
    // speed differs, which is worth a notice, not an error.
    const oneThread = (why: string): Observable<Snapshot> => {
      ;(config.notice ?? console.info)(`gradstream: training on one thread instead of ${threads}: ${why} (same bits, threads never change them)`)
      return sharded(localExecutor())
    }
    const startExecutor = config.executor
    if (startExecutor === undefined)
      return oneThread("no executor was given (the Node entry's train passes worker threads, the browser entry's Web Workers)")
    // Workers start once for the run and stop when it completes, fails or is unsubscribed.
    return from(startExecutor({ threads: Math.min(threads, shards), objective, layout: s0.layout })).pipe(
      switchMap((pool) =>
        'unavailable' in pool ? oneThread(pool.unavailable) : sharded(pool).pipe(finalize(() => void pool.terminate())),
      ),
    )
  })

/** train(model, loss, optimizer, config): a network against the batch targets. */
export const train = (
  model: AnyLayer,
  loss: AnyLoss,
  optimizer: Optimizer,
  config: TrainConfig & { readonly inShape?: Shape },
): Observable<Snapshot> =>
  trainObjective(supervised(model, loss, config.inShape ?? config.data.sampleShape) as AnyObjective, optimizer, config)
