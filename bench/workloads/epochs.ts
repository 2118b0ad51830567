// Epoch-timed training (W2, W3) for each system: samples/s per epoch, test accuracy
// after chosen epochs, and (gradstream) memory after chosen epochs. Every system starts
// from gradstream's initial weights for seed RUN_SEED, visits the same fixed order every
// epoch, and is warmed up on a throwaway copy of the model first, so the timed run's
// accuracy is that of exactly `epochs` epochs.

import { lastValueFrom, takeWhile, tap } from 'rxjs'
import type { BatchSource, Dataset, Params, Sequential } from '../../src/node.ts'
import type { TrainConfig } from '../../src/node.ts'
import { arraySource, keptWorkerThreads, key, sgd, softmaxCrossEntropy, train } from '../../src/node.ts'
import { now, repeatFor, secondsSince } from '../clock.ts'
import { gatherRows, oneHotRows, PIXELS, RUN_SEED } from '../data.ts'
import { gsAccuracy, initialParams, objectiveOf, withThreads } from '../gradstream.ts'
import type { MemorySample } from '../memory.ts'
import { sampleMemory } from '../memory.ts'
import type { Cell } from '../report.ts'
import { measured, missing } from '../report.ts'
import { single, summarize } from '../stats.ts'
import type { TfBackend } from '../tfjs.ts'
import { requireBackend, tf } from '../tfjs.ts'
import type { TfNet } from '../tfjs-nets.ts'
import { tfAccuracy, tfTrainStep } from '../tfjs-nets.ts'
import type { Attempt, WorkloadContext } from './context.ts'
import { ONE_THREAD_REASON } from './context.ts'
import type { SystemId } from '../report.ts'
import { SYSTEMS } from '../report.ts'
import type { Turn } from '../turns.ts'
import { inTurns, ownTurn, turnThen } from '../turns.ts'
import type { KernelBackend } from '../../src/ops/backend.ts'
import { kernelBackend, setKernelBackend } from '../../src/ops/backend.ts'

type Labelled = Dataset & { readonly labels: Int32Array }

export interface EpochPlan {
  readonly model: () => Sequential
  readonly lr: number
  readonly batch: number
  readonly epochs: number
  /** Training samples in visiting order (a data set and its fixed order). */
  readonly train: Dataset
  readonly order: Int32Array
  readonly test: Labelled
  /** 1-based epochs after which to measure test accuracy (untimed). */
  readonly accuracyAfter: readonly number[]
  /** Warm-up on a throwaway copy: this many steps, and for at least warmupMs. */
  readonly warmupSteps: number
  readonly warmupMs: number
}

export interface EpochRun {
  /** Training samples/s of each epoch. */
  readonly rates: readonly number[]
  /** Test accuracy after epoch e (1-based key). */
  readonly accuracy: ReadonlyMap<number, number>
  /** Memory after epoch e (1-based key), gradstream only. */
  readonly memory: ReadonlyMap<number, MemorySample>
  /** Final parameters, flat (to compare runs bit for bit). */
  readonly finalFlat?: Float32Array
}

/**
 * gradstream through the real pipeline: train(model, loss, sgd, { data: arraySource(...,
 * { order }) }), timed from the snapshot stream's endOfEpoch flags. Evaluation and
 * memory sampling happen between epochs, outside the timed spans.
 */
export const gradstreamEpochs = async (
  plan: EpochPlan,
  threads: number,
  memoryAfter: readonly number[] = [],
  turn: Turn = ownTurn,
  backend: KernelBackend = kernelBackend(),
): Promise<EpochRun> => {
  // The kernel backend is this thread's; other runs may take turns between ours.
  const myTurn = turnThen(turn, () => setKernelBackend(backend))
  await myTurn()
  const source = arraySource(plan.train, { batchSize: plan.batch, order: plan.order })
  // The warm-up and the timed run share their worker threads, as one thread's share the
  // main thread's compiled code: a fresh worker spends its first seconds of training
  // compiling, which the warm-up is there to leave out of the timing.
  const kept = threads > 1 ? keptWorkerThreads() : null
  const config = (epochs: number, data: BatchSource): TrainConfig => ({
    ...withThreads({ data, epochs, key: key(RUN_SEED) }, threads),
    ...(kept !== null ? { executor: kept.executor } : {}),
  })
  try {
    return await timedEpochs(plan, source, config, myTurn, memoryAfter)
  } finally {
    await kept?.close()
  }
}

/** gradstreamEpochs' warm-up and timed run, on `config`'s threads. */
const timedEpochs = async (
  plan: EpochPlan,
  source: BatchSource,
  config: (epochs: number, data: BatchSource) => TrainConfig,
  myTurn: () => Promise<void>,
  memoryAfter: readonly number[],
): Promise<EpochRun> => {
  // Warm-up: a throwaway run (JIT, scratch buffers) of warmupSteps steps and warmupMs.
  const warm = now()
  const warming = (_: unknown, i: number): boolean => i + 1 < plan.warmupSteps || now() - warm < plan.warmupMs
  await lastValueFrom(train(plan.model(), softmaxCrossEntropy(), sgd(plan.lr), config(WARMUP_EPOCHS, source)).pipe(takeWhile(warming, true)))

  const model = plan.model()
  const objective = objectiveOf(model)
  const samples = plan.train.x.shape[0]
  const rates: number[] = []
  const accuracy = new Map<number, number>()
  const memory = new Map<number, MemorySample>()
  let t0 = now()
  // Each epoch starts on our turn (the clock starts there) and ends at the stream's
  // endOfEpoch flag; evaluation and memory sampling follow, untimed, still on our turn.
  const timed: BatchSource = {
    ...source,
    epoch: (e, k, from) => ({
      async *[Symbol.asyncIterator]() {
        await myTurn()
        t0 = now()
        yield* source.epoch(e, k, from)
      },
    }),
  }
  const last = await lastValueFrom(
    train(model, softmaxCrossEntropy(), sgd(plan.lr), config(plan.epochs, timed)).pipe(
      tap((s) => {
        if (!s.endOfEpoch) return
        rates.push(samples / secondsSince(t0))
        const e = s.epoch + 1
        if (plan.accuracyAfter.includes(e)) accuracy.set(e, gsAccuracy(objective, s.params, plan.test))
        if (memoryAfter.includes(e)) memory.set(e, sampleMemory())
      }),
    ),
  )
  return { rates, accuracy, memory, finalFlat: last.flat }
}

/** Epochs the warm-up run may take at most (it stops at warmupSteps and warmupMs). */
const WARMUP_EPOCHS = 100

/** One epoch of TF.js SGD steps over the plan's order; returns samples/s. */
const tfjsEpoch = (net: TfNet, opt: tf.Optimizer, plan: EpochPlan, steps: number): number => {
  const { batch: B, order } = plan
  const x = plan.train.x.data
  const labels = plan.train.labels
  if (!labels) throw new Error('TF.js training: expected labelled data')
  const t0 = now()
  let samples = 0
  for (let p = 0; p < steps; p++) {
    const idx = order.subarray(p * B, Math.min(order.length, (p + 1) * B))
    // Wrapping the batch (gather + one-hot + tensor) is part of the timed step.
    tfTrainStep(net, opt, gatherRows(x, idx, PIXELS), oneHotRows(labels, idx), idx.length)
    samples += idx.length
  }
  return samples / secondsSince(t0)
}

/**
 * TF.js on `backend`, same weights, order and hyperparameters. `samples` limits the
 * epoch to the first samples of the order (TF.js cpu on W3 runs ~24 samples/s).
 * Throws if the backend cannot train the net (e.g. a missing gradient kernel).
 */
export const tfjsEpochs = async (
  backend: TfBackend,
  plan: EpochPlan,
  makeNet: (params: Params) => TfNet,
  samples: number = plan.order.length,
  turn: Turn = ownTurn,
): Promise<EpochRun> => {
  const myTurn = turnThen(turn, () => requireBackend(backend))
  await myTurn()
  const params = initialParams(plan.model())
  const steps = Math.ceil(samples / plan.batch)
  // Warm-up on a throwaway copy; also where a missing kernel shows up.
  const scratch = makeNet(params)
  const scratchOpt = tf.train.sgd(plan.lr)
  try {
    repeatFor(plan.warmupMs, () => void tfjsEpoch(scratch, scratchOpt, plan, Math.min(plan.warmupSteps, steps)))
  } finally {
    scratch.dispose()
    scratchOpt.dispose()
  }
  const net = makeNet(params)
  const opt = tf.train.sgd(plan.lr)
  const rates: number[] = []
  const accuracy = new Map<number, number>()
  try {
    for (let e = 1; e <= plan.epochs; e++) {
      await myTurn()
      // Counted within our turn (other runs' tensors live in the same engine, unchanged meanwhile).
      const before = tf.memory().numTensors
      rates.push(tfjsEpoch(net, opt, plan, steps))
      if (plan.accuracyAfter.includes(e)) accuracy.set(e, tfAccuracy(net, plan.test))
      const leaked = tf.memory().numTensors - before
      if (leaked > 0) throw new Error(`TF.js ${backend}: ${leaked} tensors leaked by an epoch of training and evaluation (bench bug)`)
    }
  } finally {
    net.dispose()
    opt.dispose()
  }
  return { rates, accuracy, memory: new Map() }
}

/** A peer's epochs as a run taking turns. */
export type EpochTurns = readonly [SystemId, (turn: Turn) => Promise<EpochRun>]

/**
 * The four gradstream columns (default and TypeScript kernels, 1 and ctx.threads threads)
 * and the peers' runs, taking turns epoch by epoch (turns.ts); every system's result, the
 * N-thread columns explained when there is one thread.
 */
export const interleavedEpochs = async (ctx: WorkloadContext, plan: EpochPlan, peers: readonly EpochTurns[]): Promise<Record<SystemId, Attempt<EpochRun>>> => {
  const fast = kernelBackend()
  const N = ctx.threads
  const gradstream: EpochTurns[] = [
    ['gradstream', (turn) => gradstreamEpochs(plan, 1, [], turn, fast)],
    ['gradstreamThreads', (turn) => gradstreamEpochs(plan, N, [], turn, fast)],
    ['gradstreamTs', (turn) => gradstreamEpochs(plan, 1, [], turn, 'ts')],
    ['gradstreamTsThreads', (turn) => gradstreamEpochs(plan, N, [], turn, 'ts')],
  ]
  const runs = N > 1 ? gradstream : gradstream.filter(([s]) => s !== 'gradstreamThreads' && s !== 'gradstreamTsThreads')
  const done = await inTurns([...runs, ...peers])
  setKernelBackend(fast)
  return Object.fromEntries(SYSTEMS.map((s) => [s, done.get(s) ?? { ok: false, reason: ONE_THREAD_REASON }])) as Record<SystemId, Attempt<EpochRun>>
}

/** The samples/s cell of a run: median [min-max] over its epochs. */
export const speedCell = (r: Attempt<EpochRun>, note?: string): Cell =>
  r.ok ? measured(summarize(r.value.rates), note) : missing(r.reason)

/** The test-accuracy cell after epoch e (1-based). */
export const accuracyCell = (r: Attempt<EpochRun>, e: number, whyNot?: string): Cell => {
  if (!r.ok) return missing(r.reason)
  const a = r.value.accuracy.get(e)
  return a === undefined ? missing(whyNot ?? `not measured after epoch ${e}`) : measured(single(a))
}
