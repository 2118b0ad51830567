// Minibatch sources, pulled one batch at a time.
//
// A BatchSource yields the batches of one epoch, lazily: the next batch is made only
// when the trainer asks for it (a generator), so a fast source never runs ahead of the
// learner and no queue builds up. `minibatches` turns a source into an Observable that
// pulls across epochs and yields to the event loop between batches, so timers, I/O and
// unsubscription are served while training runs.

import { Observable } from 'rxjs'
import { GradstreamError } from '../core/errors.ts'
import type { Batch, BatchSource, Dataset } from '../core/data.ts'
import type { Key } from '../core/rng.ts'
import { permutation } from '../core/rng.ts'
import type { Shape, Tensor } from '../core/tensor.ts'
import { showShape, size } from '../core/tensor.ts'
import { shuffleKey } from './snapshot.ts'
import { yieldToEventLoop } from './yield.ts'

export type { Batch, BatchSource, Dataset } from '../core/data.ts'

export const numClasses = (ds: Dataset): number => {
  if (ds.classes !== undefined) return ds.classes
  let mx = -1
  for (const l of ds.labels ?? []) mx = Math.max(mx, l)
  return mx + 1
}

/** Rows `idx` of x (and their one-hot labels or targets) as a new batch. */
export const gather = (ds: Dataset, idx: ArrayLike<number>, epoch: number, position: number): Batch => {
  const N = ds.x.shape[0]
  const S = size(ds.x.shape.slice(1))
  const B = idx.length
  const x = new Float32Array(B * S)
  const src = ds.x.data
  for (let r = 0; r < B; r++) {
    const i = idx[r]
    if (!(i >= 0 && i < N)) throw new GradstreamError(`gather: expected indices in [0, ${N}), got ${i}`)
    x.set(src.subarray(i * S, (i + 1) * S), r * S)
  }
  const xs: Tensor = { shape: [B, ...ds.x.shape.slice(1)], data: x }
  if (ds.targets) {
    const T = size(ds.targets.shape.slice(1))
    const y = new Float32Array(B * T)
    for (let r = 0; r < B; r++) y.set(ds.targets.data.subarray(idx[r] * T, (idx[r] + 1) * T), r * T)
    const labels = ds.labels ? Int32Array.from(idx, (i) => ds.labels![i]) : undefined
    return { x: xs, y: { shape: [B, ...ds.targets.shape.slice(1)], data: y }, labels, epoch, position }
  }
  if (ds.labels) {
    const C = numClasses(ds)
    const y = new Float32Array(B * C)
    const labels = new Int32Array(B)
    for (let r = 0; r < B; r++) {
      labels[r] = ds.labels[idx[r]]
      y[r * C + labels[r]] = 1
    }
    return { x: xs, y: { shape: [B, C], data: y }, labels, epoch, position }
  }
  // Unlabelled data (autoencoders, RBMs): the target is the input itself.
  return { x: xs, y: xs, epoch, position }
}

export const checkDataset = (ds: Dataset): void => {
  const N = ds.x.shape[0]
  if (ds.x.shape.length < 2 || !(N >= 1))
    throw new GradstreamError(`dataset: expected inputs of shape [N, ...] with N >= 1, got ${showShape(ds.x.shape)}`)
  if (ds.labels && ds.labels.length !== N)
    throw new GradstreamError(`dataset: expected ${N} labels (one per input), got ${ds.labels.length}`)
  if (ds.targets && ds.targets.shape[0] !== N)
    throw new GradstreamError(`dataset: expected targets for ${N} inputs, got ${showShape(ds.targets.shape)}`)
  if (ds.labels) {
    const C = numClasses(ds)
    for (let i = 0; i < ds.labels.length; i++)
      if (!(Number.isInteger(ds.labels[i]) && ds.labels[i] >= 0 && ds.labels[i] < C))
        throw new GradstreamError(`dataset: expected labels in [0, ${C}), got ${ds.labels[i]} at index ${i}`)
  }
}

export interface ArraySourceOptions {
  readonly batchSize: number
  /**
   * Sample order per epoch: 'shuffle' (default; a fresh permutation from the key and the
   * epoch number, so any epoch's order can be recomputed), 'sequential', or one fixed
   * order used every epoch.
   */
  readonly order?: 'shuffle' | 'sequential' | Int32Array
  /** Drop a last, smaller batch (default false). */
  readonly dropLast?: boolean
}

/** The order of epoch `epoch`'s samples. */
export const epochOrder = (N: number, order: ArraySourceOptions['order'], key: Key, epoch: number): Int32Array =>
  order === 'sequential'
    ? Int32Array.from({ length: N }, (_, i) => i)
    : order instanceof Int32Array
      ? order
      : permutation(shuffleKey(key, epoch), N)

/** Minibatches from arrays in memory. */
export const arraySource = (ds: Dataset, options: ArraySourceOptions): BatchSource => {
  checkDataset(ds)
  const N = ds.x.shape[0]
  const B = options.batchSize
  if (!(Number.isInteger(B) && B >= 1))
    throw new GradstreamError(`arraySource: expected batchSize to be a positive integer, got ${B}`)
  if (options.order instanceof Int32Array && options.order.length !== N)
    throw new GradstreamError(`arraySource: expected a fixed order of ${N} indices, got ${options.order.length}`)
  const batches = options.dropLast ? Math.floor(N / B) : Math.ceil(N / B)
  return {
    sampleShape: ds.x.shape.slice(1),
    batchesPerEpoch: batches,
    samplesPerEpoch: options.dropLast ? batches * B : N,
    *epoch(epoch, key, from = 0) {
      const order = epochOrder(N, options.order, key, epoch)
      for (let p = from; p < batches; p++) yield gather(ds, order.subarray(p * B, Math.min(N, (p + 1) * B)), epoch, p)
    },
  }
}

/** A batch as a user's iterable provides it (epoch and position are filled in). */
export interface LooseBatch {
  readonly x: Tensor
  readonly y?: Tensor
  readonly labels?: Int32Array
}

/**
 * Minibatches from an iterable or async iterable (a generator reading a file, a socket,
 * a queue). `make(epoch)` is called once per epoch; an endless iterable is one endless
 * epoch. Resuming at batch `from` skips that many batches.
 */
export const iterableSource = (
  make: (epoch: number) => Iterable<LooseBatch> | AsyncIterable<LooseBatch>,
  sampleShape: Shape,
): BatchSource => ({
  sampleShape,
  async *epoch(epoch, _key, from = 0) {
    let position = 0
    for await (const b of make(epoch) as AsyncIterable<LooseBatch>) {
      if (b.x.shape.length !== sampleShape.length + 1)
        throw new GradstreamError(`iterableSource: expected batches of shape [B, ${sampleShape.join(', ')}], got ${showShape(b.x.shape)}`)
      if (position >= from) yield { x: b.x, y: b.y ?? b.x, labels: b.labels, epoch, position }
      position++
    }
  },
})

/**
 * Milliseconds of work between yields to the event loop: often enough for timers, I/O,
 * a progress bar and unsubscription to be served (20 times a second), rarely enough that
 * the yield's cost (the deferred GC work V8 runs there, ~0.4-1 ms) stays near 1% of
 * training time. At 15 ms it cost the 4-layer CNN ~6%.
 */
export const YIELD_MS = 50

export interface MinibatchOptions {
  readonly key: Key
  /** Epochs to run (Infinity for endless sources); default 1. */
  readonly epochs?: number
  /** Where to start: epoch and batch within it (for resume and replay). */
  readonly start?: { readonly epoch: number; readonly position: number }
}

/**
 * The batches of epochs start.epoch .. epochs-1 as a cold Observable. Each batch is
 * pulled only after the previous one has been fully handled downstream; every YIELD_MS
 * the loop yields to the event loop. Unsubscribing stops the pull at once and closes
 * the source's iterator.
 */
export const minibatches = (source: BatchSource, options: MinibatchOptions): Observable<Batch> =>
  new Observable<Batch>((subscriber) => {
    let stopped = false
    const epochs = options.epochs ?? 1
    const start = options.start ?? { epoch: 0, position: 0 }
    const run = async (): Promise<void> => {
      let last = performance.now()
      for (let e = start.epoch; e < epochs && !stopped; e++) {
        const it = source.epoch(e, options.key, e === start.epoch ? start.position : 0)
        const iter: Iterator<Batch> | AsyncIterator<Batch> =
          Symbol.asyncIterator in it ? it[Symbol.asyncIterator]() : (it as Iterable<Batch>)[Symbol.iterator]()
        try {
          // Pull by hand so nothing is asked of the source once we are stopped.
          while (!stopped) {
            const r = await iter.next()
            if (r.done || stopped) break
            subscriber.next(r.value)
            if (stopped) break
            const now = performance.now()
            if (now - last >= YIELD_MS) {
              await yieldToEventLoop()
              last = performance.now()
            }
          }
        } finally {
          await iter.return?.()
        }
      }
      if (!stopped) subscriber.complete()
    }
    run().catch((err: unknown) => {
      if (!stopped) subscriber.error(err)
    })
    return () => {
      stopped = true
    }
  })
