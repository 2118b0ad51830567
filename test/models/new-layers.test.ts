// dropout, batchNorm, globalAvgPool2d, residual and parallel: gradCheck in Float64, and the
// forward against PyTorch's formulas written out independently here.

import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { key, normal, uniform } from '../../src/core/rng.ts'
import type { Tensor } from '../../src/core/tensor.ts'
import { castTree } from '../../src/core/tree.ts'
import { relu } from '../../src/models/activations.ts'
import { batchNorm } from '../../src/models/batch-norm.ts'
import type { BatchNormState } from '../../src/models/batch-norm.ts'
import { conv2d } from '../../src/models/conv2d.ts'
import { dense } from '../../src/models/dense.ts'
import { dropout } from '../../src/models/dropout.ts'
import { globalAvgPool2d } from '../../src/models/global-pool.ts'
import { gradCheck } from '../../src/models/gradcheck.ts'
import type { AnyLayer, LayerState } from '../../src/models/layer.ts'
import { evalCtx } from '../../src/models/layer.ts'
import { parallel } from '../../src/models/parallel.ts'
import { residual } from '../../src/models/residual.ts'
import { sequential } from '../../src/models/sequential.ts'

const x64 = (seed: number, shape: number[], scale = 1, shift = 0): Tensor => {
  const n = shape.reduce((a, b) => a * b, 1)
  const d = normal(key(seed), n, 'float64')
  for (let i = 0; i < n; i++) d[i] = d[i] * scale + shift
  return { shape, data: d }
}

const initOf = (l: AnyLayer, inShape: number[]) => {
  const r = l.init(key(0), inShape)
  if (E.isLeft(r)) throw r.left
  return r.right
}

const check = (l: AnyLayer, inShape: number[], opts: Parameters<typeof gradCheck>[2] = {}): number => {
  const r = gradCheck(l, inShape, { batch: 3, ...opts })
  if (E.isLeft(r)) throw r.left
  return r.right.worst
}

describe('dropout', () => {
  it('keeps each element with probability 1 - rate, scaled by 1 / (1 - rate), mask from the key', () => {
    const l = dropout(0.25)
    const x = x64(1, [50, 40])
    const ctx = { training: true, key: key(7) }
    const r = l.forward({}, x, ctx)
    const mask = r.saved.mask!
    // PyTorch's training formula given the mask: y = x * mask / (1 - p)
    let kept = 0
    for (let i = 0; i < x.data.length; i++) {
      expect(r.y.data[i]).toBe(mask[i] === 1 ? x.data[i] * (1 / 0.75) : 0)
      kept += mask[i]
    }
    expect(kept / x.data.length).toBeGreaterThan(0.72)
    expect(kept / x.data.length).toBeLessThan(0.78)
    // the mask is the key's: u >= rate for u = uniform(key)
    const u = uniform(ctx.key, x.data.length, 'float64')
    for (let i = 0; i < mask.length; i++) expect(mask[i]).toBe(u[i] >= 0.25 ? 1 : 0)
    expect(l.forward({}, x, ctx).saved.mask).toEqual(mask)
    expect(l.forward({}, x, { training: true, key: key(8) }).saved.mask).not.toEqual(mask)
    // backward: dx = dy * mask / (1 - p)
    const dy = x64(2, [50, 40])
    const dx = l.vjp({}, r.saved, dy).dx
    for (let i = 0; i < dx.data.length; i++) expect(dx.data[i]).toBe(mask[i] === 1 ? dy.data[i] * (1 / 0.75) : 0)
  })

  it('is the identity in evaluation, passes gradCheck in training, and rejects a bad rate', () => {
    const x = x64(3, [4, 5])
    expect(dropout(0.5).forward({}, x, evalCtx).y.data).toEqual(x.data)
    expect(check(dropout(0.4), [6])).toBeLessThan(1e-8)
    expect(check(dropout(0.4), [6], { training: false })).toBeLessThan(1e-8)
    const bad = dropout(1).init(key(0), [3])
    expect(E.isLeft(bad) && bad.left.message).toBe('dropout: expected rate to be a number in [0, 1), got 1')
  })
})

/** PyTorch's batch norm written out: training and evaluation outputs, running updates. */
const torchBatchNorm = (x: Tensor, gamma: ArrayLike<number>, beta: ArrayLike<number>, rm: ArrayLike<number>, rv: ArrayLike<number>, momentum: number, eps: number) => {
  const C = x.shape[x.shape.length - 1]
  const N = x.data.length / C
  const mean = new Float64Array(C)
  const varB = new Float64Array(C)
  for (let c = 0; c < C; c++) {
    let s = 0
    for (let n = 0; n < N; n++) s += x.data[n * C + c]
    mean[c] = s / N
    let q = 0
    for (let n = 0; n < N; n++) q += (x.data[n * C + c] - mean[c]) ** 2
    varB[c] = q / N
  }
  const train = new Float64Array(x.data.length)
  const evaluation = new Float64Array(x.data.length)
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const v = x.data[n * C + c]
      train[n * C + c] = ((v - mean[c]) / Math.sqrt(varB[c] + eps)) * gamma[c] + beta[c]
      evaluation[n * C + c] = ((v - rm[c]) / Math.sqrt(rv[c] + eps)) * gamma[c] + beta[c]
    }
  const runMean = Array.from({ length: C }, (_, c) => (1 - momentum) * rm[c] + momentum * mean[c])
  const runVar = Array.from({ length: C }, (_, c) => (1 - momentum) * rv[c] + momentum * varB[c] * (N / (N - 1)))
  return { train, evaluation, runMean, runVar }
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void => {
  expect(a.length).toBe(b.length)
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(tol)
}

describe('batchNorm', () => {
  for (const shape of [[16, 5], [3, 4, 5, 6]])
    it(`matches PyTorch's training and evaluation formulas on ${JSON.stringify(shape)}`, () => {
      const l = batchNorm({ momentum: 0.1, eps: 1e-5 })
      const init = initOf(l, shape.slice(1))
      const C = shape[shape.length - 1]
      expect(Array.from((init.state as BatchNormState).mean.data)).toEqual(new Array(C).fill(0))
      expect(Array.from((init.state as BatchNormState).var.data)).toEqual(new Array(C).fill(1))
      const gamma = x64(5, [C], 0.3, 1)
      const beta = x64(6, [C], 0.5)
      const p = { gamma, beta }
      const state: LayerState = { mean: x64(8, [C], 0.2), var: x64(9, [C], 0.1, 1.5) }
      const x = x64(4, shape, 2, 0.7)
      const ref = torchBatchNorm(x, gamma.data, beta.data, (state.mean as Tensor).data, (state.var as Tensor).data, 0.1, 1e-5)
      const t = l.forward(p, x, { training: true, key: key(0) }, state)
      close(t.y.data, ref.train, 1e-12)
      const next = t.state as BatchNormState
      close(next.mean.data, ref.runMean, 1e-12)
      close(next.var.data, ref.runVar, 1e-12)
      const e = l.forward(p, x, evalCtx, state)
      close(e.y.data, ref.evaluation, 1e-12)
      expect(e.state).toBeUndefined()
    })

  it('passes gradCheck in training (through the batch statistics) and in evaluation', () => {
    expect(check(batchNorm(), [4], { batch: 5 })).toBeLessThan(1e-6)
    expect(check(batchNorm(), [3, 3, 2])).toBeLessThan(1e-6)
    const state = castTree({ mean: x64(1, [2], 0.5), var: x64(2, [2], 0.1, 1) }, 'float64')
    expect(check(batchNorm(), [3, 3, 2], { training: false, state })).toBeLessThan(1e-7)
  })

  it('says what is wrong', () => {
    const l: AnyLayer = batchNorm()
    const { params } = initOf(l, [3])
    expect(() => l.forward(params, { shape: [1, 3], data: new Float32Array(3) }, { training: true, key: key(0) })).toThrow(
      'batch_norm: expected more than one value per channel in training, got input of shape [1, 3]',
    )
    expect(() => l.forward(params, { shape: [2, 3], data: new Float32Array(6) }, evalCtx)).toThrow(
      'batch_norm: expected running statistics {mean, var} of 3 values as state in evaluation, got none',
    )
    expect(() => l.forward(params, { shape: [2, 4], data: new Float32Array(8) }, evalCtx)).toThrow(
      'batch_norm: expected input of shape [B, ..., 3] (channels last), got [2, 4]',
    )
  })
})

describe('globalAvgPool2d', () => {
  it('averages every channel over the image and passes gradCheck', () => {
    const x = x64(1, [2, 3, 4, 5])
    const y = globalAvgPool2d().forward({}, x, evalCtx).y
    expect(y.shape).toEqual([2, 5])
    for (let b = 0; b < 2; b++)
      for (let c = 0; c < 5; c++) {
        let s = 0
        for (let i = 0; i < 12; i++) s += x.data[(b * 12 + i) * 5 + c]
        expect(y.data[b * 5 + c]).toBeCloseTo(s / 12, 14)
      }
    expect(check(globalAvgPool2d(), [3, 4, 5])).toBeLessThan(1e-8)
    expect(initOf(globalAvgPool2d(), [7, 7, 32]).outShape).toEqual([32])
  })
})

describe('residual and parallel', () => {
  it('residual: y = x + block(x), and with a projection y = proj(x) + block(x)', () => {
    const block = sequential(dense(4), relu(), dense(4))
    const r = residual(block)
    const init = initOf(r, [4])
    const p = castTree(init.params, 'float64')
    const x = x64(1, [3, 4])
    const y = r.forward(p, x, evalCtx).y
    const inner = block.forward(p.block as never, x, evalCtx).y
    for (let i = 0; i < y.data.length; i++) expect(y.data[i]).toBe(x.data[i] + inner.data[i])
    expect(check(residual(sequential(dense(4), relu(), dense(4))), [4])).toBeLessThan(1e-7)
    const proj = residual(sequential(conv2d({ kernelSize: 3, filters: 3, stride: 2, padding: 'same' }), batchNorm()), {
      projection: conv2d({ kernelSize: 1, filters: 3, stride: 2 }),
    })
    expect(initOf(proj, [5, 5, 2]).outShape).toEqual([3, 3, 3])
    // The conv bias before batch norm has a zero gradient (the mean is subtracted): the
    // floor keeps finite-difference noise (~1e-10) from counting as a relative error.
    expect(check(proj, [5, 5, 2], { floor: 1e-3 })).toBeLessThan(1e-5)
    const bad = residual(dense(3)).init(key(0), [4])
    expect(E.isLeft(bad) && bad.left.message).toBe('residual: expected branch outputs of one shape to add, got [3], [4]')
  })

  it('parallel: concatenates along the last axis or adds, and passes gradCheck', () => {
    const a = dense(2)
    const b = sequential(dense(3), relu())
    const cat = parallel(a, b)
    const init = initOf(cat, [4])
    expect(init.outShape).toEqual([5])
    expect(Object.keys(init.params)).toEqual(['branch1', 'branch2'])
    const p = castTree(init.params, 'float64')
    const x = x64(2, [3, 4])
    const y = cat.forward(p, x, evalCtx).y
    const ya = a.forward(p.branch1 as never, x, evalCtx).y
    const yb = b.forward(p.branch2 as never, x, evalCtx).y
    for (let r = 0; r < 3; r++) {
      expect(Array.from(y.data.subarray(r * 5, r * 5 + 2))).toEqual(Array.from(ya.data.subarray(r * 2, r * 2 + 2)))
      expect(Array.from(y.data.subarray(r * 5 + 2, r * 5 + 5))).toEqual(Array.from(yb.data.subarray(r * 3, r * 3 + 3)))
    }
    expect(check(parallel(dense(2), sequential(dense(3), relu())), [4])).toBeLessThan(1e-7)
    expect(check(parallel(conv2d({ kernelSize: 1, filters: 2 }), conv2d({ kernelSize: 3, filters: 3, padding: 'same' })), [4, 4, 2])).toBeLessThan(1e-6)
    expect(check(parallel(dense(3), dense(3), { merge: 'add' }), [4])).toBeLessThan(1e-7)
    const bad = parallel(dense(3), dense(2), { merge: 'add' }).init(key(0), [4])
    expect(E.isLeft(bad) && bad.left.message).toBe('parallel: expected branch outputs of one shape to add, got [3], [2]')
  })

  it('carries the state of the layers inside, by name, and draws each branch from its own key', () => {
    const net = sequential(dense(4), residual(sequential(batchNorm(), dropout(0.5))), parallel(batchNorm(), dropout(0.5)))
    const init = initOf(net, [3])
    expect(Object.keys(init.state ?? {})).toEqual(['res1', 'par1'])
    const p = init.params
    const x = { shape: [8, 3], data: uniform(key(3), 24) as Float32Array }
    const r = net.forward(p, x, { training: true, key: key(5) }, init.state)
    const s = r.state as { res1: { block: { bn1: BatchNormState } }; par1: { branch1: BatchNormState } }
    expect(s.res1.block.bn1.mean.data).not.toEqual((init.state as typeof s).res1.block.bn1.mean.data)
    expect(s.par1.branch1.var.data.length).toBe(4)
    // the same key gives the same masks: bit-identical outputs
    expect(net.forward(p, x, { training: true, key: key(5) }, init.state).y.data).toEqual(r.y.data)
  })
})
