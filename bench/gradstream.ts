// gradstream's side of the bench: the W2-W5 models built to WORKLOADS.md's rules, their
// initial parameters (which TF.js copies), test accuracy, and the thread setting.

import * as E from 'fp-ts/lib/Either.js'
import type { AnyObjective, Dataset, Params, Sequential, Snapshot, TrainConfig } from '../src/node.ts'
import { key, sgd, softmaxCrossEntropy, supervised, tensors, zoo, training } from '../src/node.ts'
import { accuracyOf, RUN_SEED } from './data.ts'
import type { KernelBackend } from '../src/ops/backend.ts'
import { kernelBackend, setKernelBackend } from '../src/ops/backend.ts'

export const IMAGE: readonly number[] = [28, 28, 1]

/** W2: 784-256-128-10 ReLU. mlp() defaults to He init for ReLU; WORKLOADS.md says Glorot. */
export const w2Model = (): Sequential => zoo.mlp({ hidden: [256, 128], init: 'glorot' })
/** W3/W5: the 4-layer CNN (35,474 parameters; Glorot is conv2d's and dense's default). */
export const w3Model = (): Sequential => zoo.cnn()
/** W4: 784-64-10 ReLU, Glorot. */
export const w4Model = (hidden: number): Sequential => zoo.mlp({ hidden: [hidden], init: 'glorot' })

export const objectiveOf = (model: Sequential): AnyObjective =>
  supervised(model, softmaxCrossEntropy(), IMAGE) as AnyObjective

/**
 * The step-0 snapshot train() starts from with seed RUN_SEED: its params are the ones
 * TF.js copies, so every system starts from the same weights.
 */
export const initialState = (model: Sequential, lr: number): Snapshot => {
  const s = training.initialSnapshot(objectiveOf(model), sgd(lr), key(RUN_SEED))
  if (E.isLeft(s)) throw new Error(`bench: model init failed: ${s.left.message}`)
  return s.right
}

export const initialParams = (model: Sequential): Params => initialState(model, 0.1).params

/** Test-set accuracy with the objective's evaluation-mode predict (never timed). */
export const gsAccuracy = (objective: AnyObjective, params: Params, test: Dataset & { readonly labels: Int32Array }, chunk = 500): number => {
  const N = test.x.shape[0]
  const S = test.x.data.length / N
  const pred = new Int32Array(N)
  for (let i = 0; i < N; i += chunk) {
    const B = Math.min(chunk, N - i)
    const x = { shape: [B, ...test.x.shape.slice(1)], data: test.x.data.subarray(i * S, (i + B) * S) }
    pred.set(tensors.argmaxRows(objective.predict(params, x)), i)
  }
  return accuracyOf(pred, test.labels)
}

// ---- threads -----------------------------------------------------------------------
//
// The "gradstream Nt" column: each minibatch split into N fixed shards (microbatches)
// computed on N threads (src/streams/shards.ts, src/parallel/pool.ts). The 1-thread
// column is the plain, unsharded step.

export const TRAINING_THREADS_SUPPORTED = true

export class UnsupportedError extends Error {}

export const withThreads = (config: TrainConfig, threads: number): TrainConfig =>
  threads === 1 ? config : { ...config, threads, microbatches: threads }

// ---- kernel backends -------------------------------------------------------------------
//
// The "gradstream" columns run on the default backend (WebAssembly SIMD where the engine
// has it), the "gs-ts" columns on the TypeScript kernels: the same code, switched before
// the run starts (pool workers take the backend of the thread that creates them).

/** Runs f with the kernel backend set to b, then restores the previous one. */
export const onBackend = async <T>(b: KernelBackend, f: () => Promise<T> | T): Promise<T> => {
  const before = kernelBackend()
  setKernelBackend(b)
  try {
    return await f()
  } finally {
    setKernelBackend(before)
  }
}
