// `train` / `trainObjective` as the browser-safe core entry (index.ts) exports them: Web
// Workers (web-workers.ts) as the default executor, so `threads: N` uses N threads in a
// Web Worker of a cross-origin isolated page and trains on one thread elsewhere (a
// notice, the same bits): a page that is not isolated, a page's main thread, or Node
// importing the core entry (the Node entry's train uses worker threads: threads.ts).

import type { Observable } from 'rxjs'
import type { Snapshot } from '../core/snapshot.ts'
import type { Shape } from '../core/tensor.ts'
import type { AnyLayer } from '../models/layer.ts'
import type { AnyLoss } from '../models/loss.ts'
import type { AnyObjective } from '../models/objective.ts'
import type { Optimizer } from '../models/optimizers.ts'
import type { TrainConfig } from '../streams/train.ts'
import { train as trainOn, trainObjective as trainObjectiveOn } from '../streams/train.ts'
import { webWorkers } from './web-workers.ts'

const defaultExecutor = webWorkers()

/** streams' trainObjective with Web Workers as the default executor. */
export const trainObjective = (objective: AnyObjective, optimizer: Optimizer, config: TrainConfig): Observable<Snapshot> =>
  trainObjectiveOn(objective, optimizer, { executor: defaultExecutor, ...config })

/** streams' train with Web Workers as the default executor. */
export const train = (
  model: AnyLayer,
  loss: AnyLoss,
  optimizer: Optimizer,
  config: TrainConfig & { readonly inShape?: Shape },
): Observable<Snapshot> => trainOn(model, loss, optimizer, { executor: defaultExecutor, ...config })
