// Layer state (batch norm's running statistics) through training: part of the snapshot,
// never an optimizer's, combined across shards as their weighted mean in shard order (so
// any thread count gives the same bits), saved in checkpoints as state.<path>, and kept
// exactly by resume and replay.

import { lastValueFrom, take, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { key } from '../../src/core/rng.ts'
import type { Tensor } from '../../src/core/tensor.ts'
import { leaves } from '../../src/core/tree.ts'
import type { Params } from '../../src/core/tree.ts'
import { decodeCheckpoint, encodeCheckpoint } from '../../src/io/checkpoint.ts'
import { relu } from '../../src/models/activations.ts'
import { batchNorm } from '../../src/models/batch-norm.ts'
import { dense } from '../../src/models/dense.ts'
import { dropout } from '../../src/models/dropout.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import { supervised } from '../../src/models/objective.ts'
import { momentum } from '../../src/models/optimizers.ts'
import { residual } from '../../src/models/residual.ts'
import { sequential } from '../../src/models/sequential.ts'
import { evaluate } from '../../src/streams/evaluate.ts'
import { trainWithHistory } from '../../src/streams/history.ts'
import { computeShard, shardOf, shardRanges } from '../../src/streams/shards.ts'
import type { Snapshot } from '../../src/streams/snapshot.ts'
import { forwardKey, hashBytes, hashParams } from '../../src/streams/snapshot.ts'
import { arraySource, gather } from '../../src/streams/source.ts'
import { initialSnapshot } from '../../src/streams/train.ts'
import { trainObjective } from '../../src/parallel/threads.ts'
import { blobs } from '../helpers.ts'
import { foldIn } from '../../src/core/rng.ts'
import { ravel } from '../../src/core/tree.ts'

const data = blobs(40, 3, 6, 2)
const net = () => sequential(dense(12), batchNorm(), relu(), residual(sequential(dense(12), batchNorm(), relu())), dropout(0.2), dense(3))
const objective = () => supervised(net(), softmaxCrossEntropy(), [6])
const opt = () => momentum(0.05, { momentum: 0.9 })

const stateHash = (s: Snapshot): string => leaves(s.modelState as Params).map(([p, t]) => `${p}:${hashBytes(t.data)}`).join(',')

const run = (threads: number, microbatches: number, epochs = 2) =>
  lastValueFrom(
    trainObjective(objective(), opt(), { data: arraySource(data, { batchSize: 16 }), epochs, seed: 3, microbatches, threads }).pipe(toArray()),
  )

describe('layer state in training', () => {
  it('starts from init, changes every step, and is no optimizer slot', async () => {
    const ss = await run(1, 1, 1)
    const s0 = initialSnapshot(objective(), opt(), key(3))
    if (s0._tag === 'Left') throw s0.left
    const paths = leaves(s0.right.modelState as Params).map(([p]) => p)
    expect(paths).toEqual(['bn1.mean', 'bn1.var', 'res1.block.bn1.mean', 'res1.block.bn1.var'])
    expect(new Set(ss.map(stateHash)).size).toBe(ss.length)
    // the optimizer's slots cover the parameters only
    expect(leaves(ss[3].opt.slots.velocity).reduce((n, [, t]) => n + t.data.length, 0)).toBe(ss[3].flat.length)
    expect(ss[3].layout.names.some((n) => n.includes('mean') || n.includes('var'))).toBe(false)
  })

  it('a sharded step takes the shard-size weighted mean of the shards\' next states, in shard order', async () => {
    const obj = objective()
    const s0 = initialSnapshot(obj, opt(), key(3))
    if (s0._tag === 'Left') throw s0.left
    const batch = gather(data, Int32Array.from({ length: 15 }, (_, i) => i * 7), 0, 0)
    const { data: flatState, layout } = ravel(s0.right.modelState as Params, 'float32')
    const state = { flat: flatState as Float32Array, layout }
    const base = forwardKey(s0.right.key, 0)
    const parts = shardRanges(15, 2).map(([a, b], s) =>
      computeShard(obj, s0.right.flat, s0.right.layout, { shard: s, batch: shardOf(batch, a, b), key: foldIn(base, s) }, undefined, state),
    )
    const [one] = await lastValueFrom(
      trainObjective(obj, opt(), {
        data: { sampleShape: [6], batchesPerEpoch: 1, epoch: () => [batch] },
        epochs: 1,
        initial: s0.right,
        microbatches: 2,
      }).pipe(take(1), toArray()),
    )
    const got = leaves(one.modelState as Params)
    let off = 0
    for (const [, t] of got) {
      for (let i = 0; i < t.data.length; i++) {
        const want = Math.fround(Math.fround((8 / 15) * parts[0].state![off + i]) + Math.fround((7 / 15) * parts[1].state![off + i]))
        expect(t.data[i]).toBe(want)
      }
      off += t.data.length
    }
  })

  it('is bit-identical on 1 and 2 threads', async () => {
    const one = await run(1, 2)
    const two = await run(2, 2)
    expect(two.map(hashParams)).toEqual(one.map(hashParams))
    expect(two.map(stateHash)).toEqual(one.map(stateHash))
  })

  it('evaluation normalises with the snapshot\'s running statistics', async () => {
    const ss = await run(1, 1)
    const last = ss[ss.length - 1]
    const obj = objective()
    const withState = evaluate(obj, last.params, data, 500, last.modelState)
    expect(withState.accuracy).toBeGreaterThan(0.9)
    const s0 = initialSnapshot(obj, opt(), key(3))
    if (s0._tag === 'Left') throw s0.left
    expect(evaluate(obj, last.params, data, 500, s0.right.modelState).loss).not.toBe(withState.loss)
    expect(() => evaluate(obj, last.params, data, 500, null)).toThrow(/^bn1 \(batch_norm\): expected running statistics/)
  })

  it('is saved in checkpoints as state.<path>, and a resumed run ends bit-identical', async () => {
    const full = await run(1, 2)
    const mid = full[6]
    const bytes = encodeCheckpoint(mid, { model: objective().spec, optimizer: opt().spec })
    const ck = decodeCheckpoint(bytes)
    const names = new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true))))
    expect(names).toContain('"state.res1.block.bn1.var"')
    expect(stateHash(ck.snapshot)).toBe(stateHash(mid))
    const rest = await lastValueFrom(
      trainObjective(objective(), opt(), { data: arraySource(data, { batchSize: 16 }), epochs: 2, microbatches: 2, threads: 1, initial: ck.snapshot }).pipe(toArray()),
    )
    expect(rest.map(hashParams)).toEqual(full.slice(7).map(hashParams))
    expect(rest.map(stateHash)).toEqual(full.slice(7).map(stateHash))
  })

  it('replays to the exact state of any step', async () => {
    const full = await run(1, 1)
    const h = await trainWithHistory(
      { objective: objective(), optimizer: opt(), config: { data: arraySource(data, { batchSize: 16 }), epochs: 2, seed: 3 } },
      { every: 4 },
    )
    for (const step of [3, 7, 10]) {
      const s = await h.at(step)
      expect(hashParams(s)).toBe(hashParams(full[step - 1]))
      expect(stateHash(s)).toBe(stateHash(full[step - 1]))
      expect((s.modelState as { bn1: { var: Tensor } }).bn1.var.data).toEqual((full[step - 1].modelState as { bn1: { var: Tensor } }).bn1.var.data)
    }
  })
})
