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
import { WorkerPool } from './pool.ts'

/** Worker threads (worker_threads + SharedArrayBuffer), started once per run. */
export const workerThreads: ExecutorFactory = ({ threads, objective, layout }) => WorkerPool.create({ threads, objective, layout })

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
