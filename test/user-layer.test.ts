// A layer defined outside src/ with the public API only (test/fixtures/user-layer.ts) is
// first-class: threads: 2 gives the bits of threads: 1 (workers import its module), and
// it checkpoints, resumes, replays and learns online like a built-in layer.

import * as E from 'fp-ts/lib/Either.js'
import { lastValueFrom, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import type { AnyObjective, OnlineExample, Snapshot } from '../src/node.ts'
import { arraySource, dense, gradCheck, hashParams, momentum, online, sequential, sgd, softmaxCrossEntropy, supervised, trainObjective, trainWithHistory, checkpoint, registry, streaming } from '../src/node.ts'
import { jitterScale, softsign } from './fixtures/user-layer.ts'
import { blobs } from './helpers.ts'

const data = blobs(40, 3, 6, 5)
const objective = (): AnyObjective => supervised(sequential(dense(10), jitterScale(0.1), softsign(), dense(3)), softmaxCrossEntropy(), [6])
const opt = () => momentum(0.05, { momentum: 0.9 })
const run = (threads: number, initial?: Snapshot) =>
  lastValueFrom(
    trainObjective(objective(), opt(), { data: arraySource(data, { batchSize: 12 }), epochs: 2, seed: 4, microbatches: 2, threads, initial }).pipe(toArray()),
  )

describe('a user-defined layer', () => {
  it('is registered like a built-in: spec round-trip, sequential name, draws from the key, gradCheck', () => {
    const net = sequential(dense(4), jitterScale(0.2), softsign())
    expect(net.children.map((c) => c.name)).toEqual(['fc1', 'jit1', 'user_softsign1'])
    const back = registry.layerFromSpec(JSON.parse(JSON.stringify(net.spec)))
    expect(E.isRight(back) && back.right.spec).toEqual(net.spec)
    expect(registry.drawsFromKey(net.spec)).toBe(true)
    const r = gradCheck(net, [3], { batch: 3 })
    expect(E.isRight(r) && r.right.worst).toBeLessThan(1e-7)
  })

  it('trains with threads: 2 bit-identically to threads: 1', async () => {
    const one = await run(1)
    expect(one.length).toBe(20)
    expect((await run(2)).map(hashParams)).toEqual(one.map(hashParams))
    expect(one[one.length - 1].metrics.loss).toBeLessThan(one[0].metrics.loss)
  })

  it('checkpoints and resumes bit-identically, and its spec rebuilds the objective', async () => {
    const full = await run(1)
    const bytes = checkpoint.encodeCheckpoint(full[7], { model: objective().spec, optimizer: opt().spec })
    const ck = checkpoint.decodeCheckpoint(bytes)
    const rebuilt = registry.objectiveFromSpec(ck.model)
    expect(E.isRight(rebuilt) && rebuilt.right.spec).toEqual(objective().spec)
    const rest = await run(2, ck.snapshot)
    expect(rest.map(hashParams)).toEqual(full.slice(8).map(hashParams))
  })

  it('replays any step exactly', async () => {
    const full = await run(1)
    const h = await trainWithHistory(
      { objective: objective(), optimizer: opt(), config: { data: arraySource(data, { batchSize: 12 }), epochs: 2, seed: 4, microbatches: 2 } },
      { every: 5 },
    )
    for (const step of [4, 13]) expect(hashParams(await h.at(step))).toBe(hashParams(full[step - 1]))
  })

  it('learns online, predicting with a separate evaluation forward (it draws noise in training)', async () => {
    const examples: OnlineExample[] = Array.from({ length: 600 }, (_, i) => {
      const r = i % data.x.shape[0]
      return { features: data.x.data.subarray(r * 6, r * 6 + 6), label: data.labels![r] }
    })
    const events = await lastValueFrom(online(objective(), sgd(0.05), examples, { snapshotEvery: 100, window: 100, seed: 1 }).pipe(streaming.onlineSnapshots(), toArray()))
    const last = events[events.length - 1]
    expect(last.snapshot.seen).toBe(600)
    expect(last.metrics.windowAccuracy).toBeGreaterThan(0.9)
  })
})
