// The step arena (core/arena.ts): inside computeShard the layers' arrays are the previous
// shard's again, zeroed; nothing computeShard returns may be one of them.

import { describe, expect, it } from 'vitest'
import { inArena, StepArena } from '../../src/core/arena.ts'
import { foldIn, key, uniform } from '../../src/core/rng.ts'
import { ravel } from '../../src/core/tree.ts'
import type { Params } from '../../src/core/tree.ts'
import { alloc } from '../../src/core/tensor.ts'
import { relu } from '../../src/models/activations.ts'
import { batchNorm } from '../../src/models/batch-norm.ts'
import { conv2d } from '../../src/models/conv2d.ts'
import { dense } from '../../src/models/dense.ts'
import { dropout } from '../../src/models/dropout.ts'
import { flatten } from '../../src/models/flatten.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import { supervised } from '../../src/models/objective.ts'
import { momentum } from '../../src/models/optimizers.ts'
import { maxPool2d } from '../../src/models/pool.ts'
import { sequential } from '../../src/models/sequential.ts'
import type { ShardResult } from '../../src/streams/shards.ts'
import { computeShard } from '../../src/streams/shards.ts'
import { initialSnapshot } from '../../src/streams/train.ts'
import type { Snapshot } from '../../src/streams/snapshot.ts'
import { backwardStep, forwardStep, trainStep, updateStep } from '../../src/streams/steps.ts'
import type { Batch } from '../../src/models/objective.ts'

describe('the step arena', () => {
  it('hands out zeroed arrays, the same ones again after a reset when size and type match, and alloc outside a scope is fresh', () => {
    const arena = new StepArena()
    const first = inArena(arena, () => {
      const a = alloc('float32', 5)
      const b = alloc('float64', 3)
      a.fill(7)
      b.fill(9)
      return [a, b]
    })
    const again = inArena(arena, () => [alloc('float32', 5), alloc('float64', 3), alloc('float32', 2)])
    expect(again[0]).toBe(first[0])
    expect(again[1]).toBe(first[1])
    expect(Array.from(again[0])).toEqual([0, 0, 0, 0, 0])
    expect(Array.from(again[1])).toEqual([0, 0, 0])
    expect(again[1]).toBeInstanceOf(Float64Array)
    // Another size or type at a position: a fresh array.
    const other = inArena(arena, () => [alloc('float32', 6), alloc('float32', 3)])
    expect(other[0]).not.toBe(first[0])
    expect(other[0].length).toBe(6)
    expect(other[1]).toBeInstanceOf(Float32Array)
    // Outside: fresh, and a nested scope gives the outer one back when it ends.
    expect(alloc('float32', 5)).not.toBe(first[0])
    const inner = new StepArena()
    inArena(arena, () => {
      inArena(inner, () => alloc('float32', 1))
      expect(alloc('float32', 6)).toBe(other[0])
    })
  })

  it('computeShard with one arena shard after shard equals a fresh arena each time, and its results are not the arena arrays', () => {
    // Conv, pooling, dropout noise and batch norm state: every kind of saved array.
    const net = sequential(conv2d({ kernelSize: 3, filters: 2 }), batchNorm(), relu(), maxPool2d({ pool: 2 }), flatten(), dropout(0.25), dense(3))
    const obj = supervised(net, softmaxCrossEntropy(), [8, 8, 1])
    const s0 = initialSnapshot(obj, momentum(0.1), key(4))
    if (s0._tag === 'Left') throw s0.left
    const { flat, layout } = s0.right
    const st = ravel(s0.right.modelState as Params, 'float32')
    const state = { flat: st.data as Float32Array, layout: st.layout }
    // Shards of 5, 5 and 3 rows (the last one smaller, as a short final batch is).
    const shards = [5, 5, 3].map((rows, s) => {
      const x = uniform(key(10 + s), rows * 64, 'float32', -1, 1) as Float32Array
      const labels = Int32Array.from({ length: rows }, (_, r) => (r + s) % 3)
      const y = new Float32Array(rows * 3)
      labels.forEach((l, r) => (y[r * 3 + l] = 1))
      return { shard: s, key: foldIn(key(7), s), batch: { x: { shape: [rows, 8, 8, 1], data: x }, y: { shape: [rows, 3], data: y }, labels, epoch: 0, position: 0 } }
    })
    const copy = (r: ShardResult) => ({ loss: r.loss, grads: r.grads.slice(), outputs: r.outputs.data.slice(), state: r.state?.slice() })
    const fresh = shards.map((t) => copy(computeShard(obj, flat, layout, t, undefined, state)))
    const arena = new StepArena()
    const reused = shards.map((t) => computeShard(obj, flat, layout, t, undefined, state, arena))
    // Compared after all three ran: a result aliasing the arena would show the last shard's values.
    reused.forEach((r, s) => {
      expect(r.loss).toBe(fresh[s].loss)
      expect(r.grads).toEqual(fresh[s].grads)
      expect(r.outputs.data).toEqual(fresh[s].outputs)
      expect(r.state).toEqual(fresh[s].state)
    })
    expect(fresh[0].grads).not.toEqual(fresh[1].grads)
    expect(reused[0].outputs.data).not.toEqual(reused[1].outputs.data)
  })

  it('trainStep draws the layers\' arrays from its arena (stateless models) with the bits of the fresh-array steps, and every snapshot it emitted stays intact', () => {
    const batches: Batch[] = [6, 6, 4].map((rows, p) => {
      const x = uniform(key(20 + p), rows * 64, 'float32', -1, 1) as Float32Array
      const labels = Int32Array.from({ length: rows }, (_, r) => (r + p) % 3)
      const y = new Float32Array(rows * 3)
      labels.forEach((l, r) => (y[r * 3 + l] = 1))
      return { x: { shape: [rows, 8, 8, 1], data: x }, y: { shape: [rows, 3], data: y }, labels, epoch: 0, position: p }
    })
    const run = (withBatchNorm: boolean): void => {
      const layers = [conv2d({ kernelSize: 3, filters: 2 }), ...(withBatchNorm ? [batchNorm()] : []), relu(), maxPool2d({ pool: 2 }), flatten(), dropout(0.25), dense(3)]
      const obj = supervised(sequential(...layers), softmaxCrossEntropy(), [8, 8, 1])
      const opt = momentum(0.1)
      const s0 = initialSnapshot(obj, opt, key(4))
      if (s0._tag === 'Left') throw s0.left
      // The reference: the three operators' functions, every array fresh.
      const fwd = forwardStep(obj)
      const bwd = backwardStep(obj)
      const upd = updateStep(opt)
      const step = trainStep(obj, opt)
      const fresh: Snapshot[] = []
      const reused: Snapshot[] = []
      let a = s0.right
      let b = s0.right
      for (const batch of batches) {
        a = upd(bwd(fwd({ snapshot: a, batch })))
        fresh.push(a)
        b = step({ snapshot: b, batch })
        reused.push(b)
      }
      // Compared after every step ran: a snapshot aliasing reused memory would show later values.
      reused.forEach((r, i) => {
        expect(r.flat).toEqual(fresh[i].flat)
        expect(r.metrics).toEqual(fresh[i].metrics)
        expect(r.modelState).toEqual(fresh[i].modelState)
      })
      expect(reused[0].flat).not.toEqual(reused[2].flat)
      if (withBatchNorm) expect(reused[0].modelState).not.toEqual(reused[2].modelState)
    }
    run(false)
    run(true)
  })
})
