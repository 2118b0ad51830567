import { firstValueFrom, lastValueFrom, take, tap, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { relu } from '../../src/models/activations.ts'
import { dense } from '../../src/models/dense.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import { supervised } from '../../src/models/objective.ts'
import { adam, momentum, sgd } from '../../src/models/optimizers.ts'
import { sequential } from '../../src/models/sequential.ts'
import { key } from '../../src/core/rng.ts'
import { earlyStopping } from '../../src/streams/early-stopping.ts'
import { evaluate, evaluateEvery } from '../../src/streams/evaluate.ts'
import { progress } from '../../src/streams/progress.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import type { Snapshot } from '../../src/streams/snapshot.ts'
import type { LooseBatch } from '../../src/streams/source.ts'
import { arraySource, iterableSource } from '../../src/streams/source.ts'
import { train } from '../../src/streams/train.ts'
import { blobs, slotsHash } from '../helpers.ts'

const net = () => sequential(dense(16), relu(), dense(3))
const data = blobs(100, 3, 4, 1)
const test = blobs(50, 3, 4, 1)

describe('train', () => {
  it('learns separable blobs: loss falls and test accuracy exceeds 95%', async () => {
    const snaps = await lastValueFrom(
      train(net(), softmaxCrossEntropy(), sgd(0.1), {
        data: arraySource(data, { batchSize: 16 }),
        epochs: 5,
        seed: 3,
      }).pipe(toArray()),
    )
    expect(snaps.length).toBe(5 * Math.ceil(300 / 16))
    expect(snaps.map((s) => s.step)).toEqual(snaps.map((_, i) => i + 1))
    const first = snaps.slice(0, 5).reduce((a, s) => a + s.metrics.loss, 0) / 5
    const last = snaps.slice(-5).reduce((a, s) => a + s.metrics.loss, 0) / 5
    expect(last).toBeLessThan(first / 4)
    const ev = evaluate(supervised(net(), softmaxCrossEntropy(), [4]), snaps[snaps.length - 1].params, test)
    expect(ev.accuracy).toBeGreaterThan(0.95)
    expect(ev.confusion!.counts.reduce((a, b) => a + b, 0)).toBe(150)
  })

  it('is bit-identical across runs with the same seed, and differs with another', async () => {
    const run = (seed: number) =>
      lastValueFrom(
        train(net(), softmaxCrossEntropy(), momentum(0.05), {
          data: arraySource(data, { batchSize: 10 }),
          epochs: 2,
          seed,
        }).pipe(toArray()),
      ).then((ss) => ss.map(hashParams))
    const [a, b, c] = await Promise.all([run(7), run(7), run(8)])
    expect(a).toEqual(b)
    expect(a[0]).not.toEqual(c[0])
  })

  it('never changes an emitted snapshot: its bytes hash the same 100 steps later', async () => {
    const seen: Snapshot[] = []
    const hashAtEmit: string[] = []
    const stateHash = (s: Snapshot) => `${hashParams(s)} ${slotsHash(s)}`
    await lastValueFrom(
      train(net(), softmaxCrossEntropy(), adam(0.01), { data: arraySource(data, { batchSize: 8 }), epochs: 3 }).pipe(
        take(101),
        tap((s) => {
          seen.push(s)
          hashAtEmit.push(stateHash(s))
        }),
      ),
    )
    expect(seen.length).toBe(101)
    expect(seen.map(stateHash)).toEqual(hashAtEmit)
    expect(new Set(hashAtEmit).size).toBe(101)
    expect(Object.isFrozen(seen[0])).toBe(true)
    expect(Object.isFrozen(seen[0].metrics)).toBe(true)
    expect(Object.isFrozen(seen[0].params)).toBe(true)
  })

  it('stops within one batch of unsubscribing, and keeps the event loop turning', async () => {
    let pulled = 0
    const source = iterableSource(function* (): Generator<LooseBatch> {
      for (let i = 0; ; i++) {
        pulled++
        const b = (i * 16) % 284 // every window holds 16 whole rows of the 300
        yield {
          x: { shape: [16, 4], data: data.x.data.subarray(b * 4, (b + 16) * 4) },
          y: { shape: [16, 3], data: new Float32Array(48).map((_, j) => (j % 3 === (data.labels![b + Math.floor(j / 3)]) ? 1 : 0)) },
        }
      }
    }, [4])
    let ticks = 0
    const timer = setInterval(() => ticks++, 1)
    let steps = 0
    const sub = train(net(), softmaxCrossEntropy(), sgd(0.1), { data: source, epochs: 1 }).subscribe(() => steps++)
    await new Promise((r) => setTimeout(r, 300))
    sub.unsubscribe()
    const atStop = steps
    const pulledAtStop = pulled
    await new Promise((r) => setTimeout(r, 100))
    clearInterval(timer)
    expect(atStop).toBeGreaterThan(10)
    expect(steps).toBe(atStop)
    expect(pulled - pulledAtStop).toBe(0)
    // The producer never runs ahead of the learner by more than the batch in hand.
    expect(pulledAtStop - atStop).toBeLessThanOrEqual(1)
    expect(ticks).toBeGreaterThan(5)
  })

  it('take(n) stops the source after n batches', async () => {
    let pulled = 0
    const src = arraySource(data, { batchSize: 10 })
    const counting = { ...src, *epoch(e: number, k: never, from?: number) { for (const b of src.epoch(e, k, from) as Iterable<never>) { pulled++; yield b } } }
    await lastValueFrom(train(net(), softmaxCrossEntropy(), sgd(0.1), { data: counting, epochs: 5 }).pipe(take(7)))
    expect(pulled).toBe(7)
  })

  it('shuffles each epoch from the key and the epoch number, reproducibly', () => {
    const src = arraySource(data, { batchSize: 300 })
    const order = (e: number) => Array.from([...(src.epoch(e, key(1)) as Iterable<{ labels?: Int32Array }>)][0].labels!)
    expect(order(0)).toEqual(order(0))
    expect(order(0)).not.toEqual(order(1))
    expect(order(3)).toEqual(order(3))
  })

  it('evaluates each epoch, stops early on a plateau, and reports progress', async () => {
    const obj = supervised(net(), softmaxCrossEntropy(), [4])
    const reports: number[] = []
    const snaps = await lastValueFrom(
      train(net(), softmaxCrossEntropy(), sgd(0.1), { data: arraySource(data, { batchSize: 30 }), epochs: 50, seed: 2 }).pipe(
        progress((p) => reports.push(p.batch), { batchesPerEpoch: 10 }),
        evaluateEvery(obj, test),
        earlyStopping({ monitor: (s) => s.evaluation?.accuracy, mode: 'max', patience: 2 }),
        toArray(),
      ),
    )
    const evals = snaps.filter((s) => s.evaluation)
    expect(evals.length).toBeGreaterThanOrEqual(3)
    expect(evals.length).toBeLessThan(50)
    expect(snaps[snaps.length - 1].endOfEpoch).toBe(true)
    expect(evals.every((s) => s.position === 10)).toBe(true)
    expect(reports.slice(0, 10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  })

  it('skips the update on a non-finite loss and keeps the last good parameters', async () => {
    const bad = { ...data, x: { shape: data.x.shape, data: Float32Array.from(data.x.data, (v, i) => (i < 4 ? NaN : v)) } }
    const snaps = await lastValueFrom(
      train(net(), softmaxCrossEntropy(), sgd(0.1), {
        data: arraySource(bad, { batchSize: 10, order: 'sequential' }),
        epochs: 1,
      }).pipe(toArray()),
    )
    expect(snaps[0].metrics.skipped).toBe('non-finite loss')
    expect(snaps[0].step).toBe(0)
    expect(snaps[1].step).toBe(1)
    expect(snaps.every((s) => s.flat.every(Number.isFinite))).toBe(true)
  })

  it('reports an init error as a stream error naming the layer', async () => {
    await expect(
      firstValueFrom(train(sequential(dense(4), dense(-1)), softmaxCrossEntropy(), sgd(0.1), { data: arraySource(data, { batchSize: 4 }) })),
    ).rejects.toThrow('fc2 (dense): expected units to be a positive integer, got -1')
  })
})
