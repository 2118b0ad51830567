// Training on worker threads: the executor factory streams/ is given (streams/ does not
// import parallel/; DESIGN.md, Layout), and `train` / `trainObjective` as the Node entry
// exports them, with the worker pool as the default executor, so `threads: N` works for
// a user of the package as it always has.

import type { Observable } from 'rxjs'
import type { Snapshot } from '../core/snapshot.ts'
import type { Shape } from '../core/tensor.ts'
import type { AnyLayer } from '../models/layer.ts'
import type { AnyLoss } from '../models/loss.ts'
import type { AnyObjective } from '../models/objective.ts'
import type { Optimizer } from '../models/optimizers.ts'
import type { ExecutorFactory } from '../streams/shards.ts'
import type { TrainConfig } from '../streams/train.ts'
import { train as trainOn, trainObjective as trainObjectiveOn } from '../streams/train.ts'
import { GradstreamError } from '../core/errors.ts'
import { kernelBackend } from '../ops/backend.ts'
import { WorkerPool } from './pool.ts'

/** Worker threads (worker_threads + SharedArrayBuffer), started once per run. */
export const workerThreads: ExecutorFactory = ({ threads, objective, layout }) => WorkerPool.create({ threads, objective, layout })

/** Worker threads kept from one run to the next (keptWorkerThreads). */
export interface KeptWorkerThreads {
  /** The factory to pass as TrainConfig.executor. */
  readonly executor: ExecutorFactory
  /** Pools started so far (one per model, thread count and kernel backend in turn). */
  readonly started: number
  /** Stops the pool kept now, if any. */
  close(): Promise<void>
}

/**
 * Worker threads kept across runs, for a program that trains the same model several
 * times (a search over learning rates, repeated fits, a benchmark's warm-up and timed
 * run): the first run starts a pool; a later run of the same model spec, thread count
 * and kernel backend takes the same threads, with no start-up and with their compiled
 * code already warm (a fresh worker spends its first seconds of training compiling);
 * a run of another model replaces the pool. Runs take the threads one at a time; the
 * bits are those of fresh threads (a pool keeps no state of a run). close() stops it.
 */
export const keptWorkerThreads = (): KeptWorkerThreads => {
  let kept: { readonly key: string; readonly pool: WorkerPool } | null = null
  let started = 0
  let busy = false
  const close = async (): Promise<void> => {
    const k = kept
    kept = null
    if (k !== null) await k.pool.terminate()
  }
  const executor: ExecutorFactory = async ({ threads, objective, layout }) => {
    if (busy) throw new GradstreamError('keptWorkerThreads: expected one run at a time, got a second run while one is training')
    const key = JSON.stringify([objective.spec, threads, kernelBackend()])
    if (kept === null || kept.key !== key || !kept.pool.usable) {
      await close()
      kept = { key, pool: await WorkerPool.create({ threads, objective, layout }) }
      started++
    }
    const pool = kept.pool
    busy = true
    return {
      run: (...a) => pool.run(...a),
      runReduced: (...a) => pool.runReduced(...a),
      // The run is over; the threads stay for the next one.
      terminate: async () => {
        busy = false
      },
    }
  }
  return {
    executor,
    get started() {
      return started
    },
    close,
  }
}

/** streams' trainObjective with worker threads as the default executor. */
export const trainObjective = (objective: AnyObjective, optimizer: Optimizer, config: TrainConfig): Observable<Snapshot> =>
  trainObjectiveOn(objective, optimizer, { executor: workerThreads, ...config })

/** streams' train with worker threads as the default executor. */
export const train = (
  model: AnyLayer,
  loss: AnyLoss,
  optimizer: Optimizer,
  config: TrainConfig & { readonly inShape?: Shape },
): Observable<Snapshot> => trainOn(model, loss, optimizer, { executor: workerThreads, ...config })
