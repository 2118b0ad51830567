// conv2d and conv1d layers: gradient checks over strides, paddings, odd sizes, flip and
// sparse tables; the LeNet-5 C3 table; init; specs; dtypes; and every error a user can hit.

import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { LayerError } from '../../src/core/errors.ts'
import { conv1d } from '../../src/models/conv1d.ts'
import type { Conv1dOptions } from '../../src/models/conv1d.ts'
import { conv2d, LENET_C3_TABLE } from '../../src/models/conv2d.ts'
import type { Conv2dOptions, Conv2dParams } from '../../src/models/conv2d.ts'
import { gradCheck } from '../../src/models/gradcheck.ts'
import type { AnyLayer } from '../../src/models/layer.ts'
import { evalCtx } from '../../src/models/layer.ts'
import { layerFromSpec } from '../../src/models/registry.ts'
import { key, normal } from '../../src/core/rng.ts'
import type { Shape, Tensor } from '../../src/core/tensor.ts'
import { cast, size } from '../../src/core/tensor.ts'
import { castTree, leaves } from '../../src/core/tree.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const CONFORMANCE = process.env.GRADSTREAM_CONFORMANCE ?? resolve(root, '../shared/conformance')

const randn = (seed: number, shape: Shape, dtype: 'float32' | 'float64' = 'float64'): Tensor => ({
  shape,
  data: normal(key(seed), size(shape), dtype),
})

const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]))
  return m
}

const initOk = <P>(e: E.Either<LayerError, { params: P; outShape: Shape }>): { params: P; outShape: Shape } => {
  if (E.isLeft(e)) throw e.left
  return e.right
}

/** The Left's message (fails the test on a Right). */
const leftMessage = (e: E.Either<LayerError, unknown>): string => {
  expect(E.isLeft(e)).toBe(true)
  if (E.isRight(e)) return ''
  expect(e.left).toBeInstanceOf(LayerError)
  return e.left.message
}

const expectGradCheck = (layer: AnyLayer, inShape: Shape, batch: number, seed: number, params?: Conv2dParams): void => {
  const r = gradCheck(layer, inShape, { batch, seed, params })
  if (E.isLeft(r)) throw r.left
  expect(r.right.worst, JSON.stringify(r.right.errors)).toBeLessThan(1e-6)
  expect(r.right.checked).toBeGreaterThan(0)
}

/** Naive 1D reference: y[n,j,o] = b[o] + sum_{q,c} x[n, j*S+q, c] k[q,c,o]. */
function conv1dRef(x: Tensor, k: Tensor, b: Tensor, S: number): Float64Array {
  const [B, L, C] = x.shape
  const [K, , O] = k.shape
  const Lo = (L - K) / S + 1
  const y = new Float64Array(B * Lo * O)
  for (let n = 0; n < B; n++)
    for (let j = 0; j < Lo; j++)
      for (let o = 0; o < O; o++) {
        let s = b.data[o]
        for (let q = 0; q < K; q++) for (let c = 0; c < C; c++) s += x.data[(n * L + j * S + q) * C + c] * k.data[(q * C + c) * O + o]
        y[(n * Lo + j) * O + o] = s
      }
  return y
}

// ---- conv2d --------------------------------------------------------------------------

describe('conv2d: gradient checks', () => {
  const sparse3x5 = [
    [true, false, true, true, false],
    [false, true, true, false, true],
    [true, true, false, false, true],
  ]
  const cases: ReadonlyArray<[string, Conv2dOptions, Shape, number]> = [
    ['3x2 kernel, stride [2, 1], same padding', { kernelSize: [3, 2], filters: 4, stride: [2, 1], padding: 'same' }, [7, 6, 3], 2],
    ['3x3, stride [1, 3], explicit [2, 0, 1, 1], flip', { kernelSize: 3, filters: 3, stride: [1, 3], padding: [2, 0, 1, 1], flip: true }, [6, 7, 2], 2],
    ['2x3, stride 2, valid, sparse table', { kernelSize: [2, 3], filters: 5, stride: 2, connectionTable: sparse3x5 }, [8, 9, 3], 2],
    ['5x5, stride 3, same, flip', { kernelSize: 5, filters: 4, stride: 3, padding: 'same', flip: true }, [9, 10, 2], 3],
    ['1x1, stride [3, 2], same (kernel smaller than the stride)', { kernelSize: 1, filters: 3, stride: [3, 2], padding: 'same' }, [8, 5, 2], 2],
    ['4x1, valid, odd sizes', { kernelSize: [4, 1], filters: 2 }, [5, 3, 3], 1],
    ['3x3, stride [3, 2], explicit asymmetric [0, 2, 1, 0], sparse table, flip', { kernelSize: 3, filters: 5, stride: [3, 2], padding: [0, 2, 1, 0], flip: true, connectionTable: sparse3x5 }, [7, 8, 3], 2],
    ['LeNet-5 C3 table, 5x5', { kernelSize: 5, filters: 16, connectionTable: LENET_C3_TABLE }, [7, 6, 6], 1],
  ]
  for (const [what, options, inShape, batch] of cases)
    it(`${what} on ${JSON.stringify(inShape)}`, () => expectGradCheck(conv2d(options), inShape, batch, inShape[0]))
})

describe('conv2d: connection tables', () => {
  it('LENET_C3_TABLE is LeCun et al. 1998 Table I (column j lists the S2 maps feeding C3 map j)', () => {
    // Table I: the first six C3 maps take contiguous triples of S2 maps, the next six contiguous
    // quadruples, the next three discontinuous quadruples, the last all six.
    const tableI = [
      [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [0, 4, 5], [0, 1, 5],
      [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [0, 3, 4, 5], [0, 1, 4, 5], [0, 1, 2, 5],
      [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5],
      [0, 1, 2, 3, 4, 5],
    ]
    expect(LENET_C3_TABLE.length).toBe(6)
    for (const row of LENET_C3_TABLE) expect(row.length).toBe(16)
    for (let j = 0; j < 16; j++) expect([0, 1, 2, 3, 4, 5].filter((i) => LENET_C3_TABLE[i][j])).toEqual(tableI[j])
    expect(LENET_C3_TABLE.flat().filter(Boolean).length).toBe(60)
    // and it is the table of the conformance vector
    const fixture = JSON.parse(readFileSync(resolve(CONFORMANCE, 'conv2d_lenet_c3_table.json'), 'utf8'))
    expect(LENET_C3_TABLE).toEqual(fixture.layer.connection_table)
    expect(Object.isFrozen(LENET_C3_TABLE) && Object.isFrozen(LENET_C3_TABLE[0])).toBe(true)
  })

  it('with the C3 table, init gives 60*25 nonzero kernel entries + 16 biases = 1516 effective parameters', () => {
    const layer = conv2d({ kernelSize: 5, filters: 16, connectionTable: LENET_C3_TABLE })
    const { params, outShape } = initOk(layer.init(key(3), [14, 14, 6]))
    expect(outShape).toEqual([10, 10, 16])
    expect(params.k.shape).toEqual([5, 5, 6, 16])
    let nonzero = 0
    for (let t = 0; t < 25; t++)
      for (let c = 0; c < 6; c++)
        for (let o = 0; o < 16; o++) {
          const v = params.k.data[(t * 6 + c) * 16 + o]
          if (!LENET_C3_TABLE[c][o]) expect(v).toBe(0)
          else {
            nonzero += v !== 0 ? 1 : 0
            // glorot per entry: fan-in 25 * (inputs of o), fan-out 25 * (outputs of c)
            const fin = 25 * LENET_C3_TABLE.filter((row) => row[o]).length
            const fout = 25 * LENET_C3_TABLE[c].filter(Boolean).length
            expect(Math.abs(v)).toBeLessThanOrEqual(Math.sqrt(6 / (fin + fout)))
          }
        }
    expect(nonzero + params.b.data.length).toBe(1516)
  })

  it('the gradient of k is exactly 0 at absent pairs even when the stored k there is not', () => {
    const table = [
      [true, false, true],
      [false, true, true],
    ]
    const layer = conv2d({ kernelSize: [2, 3], filters: 3, padding: 'same', stride: [2, 1], connectionTable: table })
    const k = randn(1, [2, 3, 2, 3]) // dense: absent entries nonzero
    const p = { k, b: randn(2, [3]) }
    const x = randn(3, [2, 5, 4, 2])
    const { y, saved } = layer.forward(p, x, evalCtx)
    const { dparams } = layer.vjp(p, saved, randn(4, y.shape))
    let absent = 0
    for (let t = 0; t < 6; t++)
      for (let c = 0; c < 2; c++)
        for (let o = 0; o < 3; o++)
          if (!table[c][o]) {
            expect(Object.is(dparams.k.data[(t * 2 + c) * 3 + o], 0)).toBe(true)
            absent++
          } else expect(dparams.k.data[(t * 2 + c) * 3 + o]).not.toBe(0)
    expect(absent).toBe(12)
    // ... and the finite differences agree (0 where k has no effect)
    expectGradCheck(layer, [5, 4, 2], 2, 9, p)
  })
})

describe('conv2d: values, init, spec, precision', () => {
  it('computes the cross-correlation by default and the true convolution with flip', () => {
    // one 3x3 image, one 2x2 kernel, one channel
    const x: Tensor = { shape: [1, 3, 3, 1], data: Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]) }
    const k: Tensor = { shape: [2, 2, 1, 1], data: Float64Array.from([1, 10, 100, 1000]) }
    const b: Tensor = { shape: [1], data: Float64Array.from([0.5]) }
    const corr = conv2d({ kernelSize: 2, filters: 1 }).forward({ k, b }, x, evalCtx).y
    expect(corr.shape).toEqual([1, 2, 2, 1])
    expect(Array.from(corr.data)).toEqual([5421.5, 6532.5, 8754.5, 9865.5])
    const conv = conv2d({ kernelSize: 2, filters: 1, flip: true }).forward({ k, b }, x, evalCtx).y
    expect(Array.from(conv.data)).toEqual([1245.5, 2356.5, 4578.5, 5689.5])
    // 'same' with stride 2 on 3x3: out 2x2, total padding 1, all of it after
    const same = conv2d({ kernelSize: 2, filters: 1, stride: 2, padding: 'same' }).forward({ k, b }, x, evalCtx).y
    expect(Array.from(same.data)).toEqual([5421.5, 3 + 600 + 0.5, 7 + 80 + 0.5, 9 + 0.5])
  })

  it('init: Glorot kernel from the key, zero bias, output shape per padding', () => {
    const l = conv2d({ kernelSize: [3, 5], filters: 8, stride: 2, padding: 'same' })
    const a = initOk(l.init(key(1), [9, 10, 4]))
    const b = initOk(l.init(key(1), [9, 10, 4]))
    expect(a.outShape).toEqual([5, 5, 8])
    expect(Array.from(a.params.k.data)).toEqual(Array.from(b.params.k.data))
    expect(a.params.k.data).toBeInstanceOf(Float32Array)
    const r = Math.sqrt(6 / (15 * 4 + 15 * 8))
    const mx = maxAbs(a.params.k.data)
    expect(mx).toBeLessThanOrEqual(r)
    expect(mx).toBeGreaterThan(0.9 * r)
    expect(Array.from(a.params.b.data)).toEqual(new Array(8).fill(0))
    expect(initOk(conv2d({ kernelSize: 3, filters: 2, padding: [1, 2, 0, 3] }).init(key(0), [5, 4, 1])).outShape).toEqual([6, 5, 2])
    expect(initOk(conv2d({ kernelSize: 3, filters: 2, stride: [2, 3] }).init(key(0), [9, 9, 1])).outShape).toEqual([4, 3, 2])
    // 'he' and 'lecun' use the fan-in only
    const he = initOk(conv2d({ kernelSize: 3, filters: 2, init: 'he' }).init(key(0), [5, 5, 3])).params.k.data
    expect(maxAbs(he)).toBeLessThanOrEqual(Math.sqrt(6 / 27))
  })

  it('spec is the conformance JSON form and layerFromSpec rebuilds an identical layer', () => {
    const l = conv2d({ kernelSize: [3, 2], filters: 4, stride: 2, padding: [1, 0, 2, 1], flip: true, connectionTable: [[true, false, true, true]], init: 'he' })
    expect(l.spec).toEqual({
      type: 'conv2d',
      kernel_size: [3, 2],
      filters: 4,
      stride: [2, 2],
      padding: [1, 0, 2, 1],
      flip: true,
      connection_table: [[true, false, true, true]],
      init: 'he',
    })
    const d = conv2d({ kernelSize: 5, filters: 6 })
    expect(d.spec).toEqual({ type: 'conv2d', kernel_size: [5, 5], filters: 6, stride: [1, 1], padding: 'valid', flip: false, connection_table: null, init: 'glorot' })
    for (const layer of [l, d, conv2d({ kernelSize: 3, filters: 2, padding: 'same', connectionTable: LENET_C3_TABLE.map((r) => r.slice(0, 2)) })]) {
      const back = layerFromSpec(JSON.parse(JSON.stringify(layer.spec)))
      if (E.isLeft(back)) throw back.left
      expect(back.right.spec).toEqual(layer.spec)
      const inShape = [6, 7, (layer.spec.connection_table as boolean[][] | null)?.length ?? 3]
      const a = initOk(layer.init(key(5), inShape))
      const b = initOk(back.right.init(key(5), inShape))
      expect(b.outShape).toEqual(a.outShape)
      const x = randn(6, [2, ...inShape])
      const pa = castTree(a.params, 'float64')
      expect(Array.from(back.right.forward(pa, x, evalCtx).y.data)).toEqual(Array.from(layer.forward(pa, x, evalCtx).y.data))
    }
  })

  it('runs in Float32 and Float64; outputs and gradients take the input precision', () => {
    const l = conv2d({ kernelSize: 3, filters: 5, stride: [2, 1], padding: 'same', flip: true })
    const p32 = initOk(l.init(key(2), [7, 6, 3])).params
    const p64 = castTree(p32, 'float64')
    const x64 = randn(3, [2, 7, 6, 3])
    const x32 = cast(x64, 'float32')
    const r32 = l.forward(p32, x32, evalCtx)
    const r64 = l.forward(p64, x64, evalCtx)
    expect(r32.y.data).toBeInstanceOf(Float32Array)
    expect(r64.y.data).toBeInstanceOf(Float64Array)
    const dy = randn(4, r64.y.shape)
    const g32 = l.vjp(p32, r32.saved, cast(dy, 'float32'))
    const g64 = l.vjp(p64, r64.saved, dy)
    const close = (a: Tensor, b: Tensor): void => {
      expect(a.data.constructor).toBe(Float32Array)
      const scale = Math.max(maxAbs(b.data), 1e-30)
      for (let i = 0; i < a.data.length; i++) expect(Math.abs(a.data[i] - b.data[i]) / scale).toBeLessThan(1e-5)
    }
    close(r32.y, r64.y)
    close(g32.dx, g64.dx)
    close(g32.dparams.k, g64.dparams.k)
    close(g32.dparams.b, g64.dparams.b)
  })

  it('computes the input gradient lazily (dx is a getter, evaluated once)', () => {
    const l = conv2d({ kernelSize: 3, filters: 2 })
    const p = castTree(initOk(l.init(key(0), [5, 5, 1])).params, 'float64')
    const { y, saved } = l.forward(p, randn(1, [1, 5, 5, 1]), evalCtx)
    const r = l.vjp(p, saved, randn(2, y.shape))
    expect(typeof Object.getOwnPropertyDescriptor(Object.getPrototypeOf(r), 'dx')?.get).toBe('function')
    expect(r.dx).toBe(r.dx)
    expect(r.dx.shape).toEqual([1, 5, 5, 1])
  })
})

describe('conv2d: errors name the layer, the expected and the actual', () => {
  const init = (o: Conv2dOptions, inShape: Shape) => leftMessage(conv2d(o).init(key(0), inShape))

  it('rejects bad input shapes at init', () => {
    expect(init({ kernelSize: 3, filters: 2 }, [28, 28])).toMatch(/^conv2d: expected a per-sample input of rank 3 .*got rank 2 \[28, 28\]/)
    expect(init({ kernelSize: 3, filters: 2 }, [0, 5, 1])).toMatch(/^conv2d: expected positive integer dimensions, got \[0, 5, 1\]/)
    expect(init({ kernelSize: 5, filters: 2 }, [4, 9, 1])).toMatch(/^conv2d: expected the kernel height 5 to fit in the input height, got 4/)
    expect(init({ kernelSize: [1, 5], filters: 2 }, [4, 3, 1])).toMatch(/expected the kernel width 5 to fit in the input width, got 3/)
    expect(init({ kernelSize: 5, filters: 2, padding: [1, 0, 0, 0] }, [3, 9, 1])).toMatch(
      /expected the kernel height 5 to fit in the padded input height, got 4 \(3 \+ padding 1 \+ 0\)/,
    )
  })

  it('rejects a stride that does not divide instead of dropping rows', () => {
    const m = init({ kernelSize: 3, filters: 2, stride: 2 }, [6, 7, 1])
    expect(m).toMatch(/^conv2d: expected the input height minus the kernel height to be a multiple of the stride 2, got 6 - 3 = 3 \(remainder 1\)/)
    expect(init({ kernelSize: 3, filters: 2, stride: [1, 3], padding: [0, 0, 1, 0] }, [6, 7, 1])).toMatch(
      /multiple of the stride 3, got 8 \(7 \+ padding 1 \+ 0\) - 3 = 5 \(remainder 2\).*column/,
    )
    // 'same' never divides badly
    expect(E.isRight(conv2d({ kernelSize: 3, filters: 2, stride: 2, padding: 'same' }).init(key(0), [6, 7, 1]))).toBe(true)
  })

  it('rejects malformed connection tables', () => {
    const wrongRows = init({ kernelSize: 3, filters: 4, connectionTable: [[true, true, true, true], [true, true, true, true]] }, [5, 5, 3])
    expect(wrongRows).toMatch(/^conv2d: expected connection_table of shape \[3\]\[4\] .*got \[2\]\[4\|4\]/)
    const wrongCols = init({ kernelSize: 3, filters: 2, connectionTable: [[true, true, false]] }, [5, 5, 1])
    expect(wrongCols).toMatch(/expected connection_table of shape \[1\]\[2\] .*got \[1\]\[3\]/)
    const notBool = init({ kernelSize: 3, filters: 2, connectionTable: [[true, 1 as unknown as boolean]] }, [5, 5, 1])
    expect(notBool).toMatch(/^conv2d: expected connection_table entries to be booleans, got 1 at \[0\]\[1\]/)
    const notMatrix = init({ kernelSize: 3, filters: 2, connectionTable: 'all' as unknown as boolean[][] }, [5, 5, 1])
    expect(notMatrix).toMatch(/expected connection_table to be null or a boolean \[inC\]\[filters\] matrix, got "all"/)
  })

  it('rejects NaN, negative, zero and fractional hyperparameters', () => {
    const shape = [8, 8, 1]
    expect(init({ kernelSize: NaN, filters: 2 }, shape)).toMatch(/^conv2d: expected kernel_size to be a positive integer.*got NaN/)
    expect(init({ kernelSize: [3, 0], filters: 2 }, shape)).toMatch(/expected kernel_size to be a positive integer or a pair of positive integers, got \[3, 0\]/)
    expect(init({ kernelSize: 3, filters: -2 }, shape)).toMatch(/^conv2d: expected filters to be a positive integer, got -2/)
    expect(init({ kernelSize: 3, filters: 2.5 }, shape)).toMatch(/expected filters to be a positive integer, got 2.5/)
    expect(init({ kernelSize: 3, filters: 2, stride: 0 }, shape)).toMatch(/expected stride to be a positive integer.*got 0/)
    expect(init({ kernelSize: 3, filters: 2, stride: [1, 1.5] }, shape)).toMatch(/expected stride .*got \[1, 1.5\]/)
    expect(init({ kernelSize: 3, filters: 2, padding: [-1, 0, 0, 0] }, shape)).toMatch(/expected padding top to be a non-negative integer, got -1/)
    expect(init({ kernelSize: 3, filters: 2, padding: [0, 0, NaN, 0] }, shape)).toMatch(/expected padding left to be a non-negative integer, got NaN/)
    expect(init({ kernelSize: 3, filters: 2, padding: 'full' as unknown as 'same' }, shape)).toMatch(
      /expected padding 'valid', 'same' or \[top, bottom, left, right\], got "full"/,
    )
    expect(init({ kernelSize: 3, filters: 2, init: 'xavier' as unknown as 'he' }, shape)).toMatch(/expected init to be one of glorot, he, lecun, got "xavier"/)
    expect(init({ kernelSize: 3, filters: 2, flip: 'yes' as unknown as boolean }, shape)).toMatch(/expected flip to be a boolean, got "yes"/)
  })

  it('forward and vjp throw a LayerError for a wrong input, parameters or dy', () => {
    const l = conv2d({ kernelSize: 3, filters: 4 })
    const p = castTree(initOk(l.init(key(0), [6, 6, 3])).params, 'float64')
    expect(() => l.forward(p, randn(1, [2, 6, 6, 2]), evalCtx)).toThrow(
      new LayerError('conv2d', 'expected input of shape [B, H, W, 3] (3 channels, as k), got [2, 6, 6, 2]'),
    )
    expect(() => l.forward(p, randn(1, [6, 6, 3]), evalCtx)).toThrow(/^conv2d: expected input of rank 4 \[B, H, W, C\], got \[6, 6, 3\]/)
    expect(() => l.forward(p, randn(1, [1, 2, 6, 3]), evalCtx)).toThrow(/conv2d: expected the kernel height 3 to fit in the input height, got 2/)
    expect(() => l.forward(castTree(p, 'float32'), randn(1, [1, 6, 6, 3]), evalCtx)).toThrow(
      /conv2d: expected k in the same precision as the input \(Float64Array\), got Float32Array/,
    )
    expect(() => l.forward({ k: p.k, b: randn(0, [5]) }, randn(1, [1, 6, 6, 3]), evalCtx)).toThrow(/expected b of shape \[4\], got \[5\]/)
    expect(() => l.forward({ k: randn(0, [3, 2, 3, 4]), b: p.b }, randn(1, [1, 6, 6, 3]), evalCtx)).toThrow(
      /expected k of shape \[3, 3, 3, 4\] .*got \[3, 2, 3, 4\]/,
    )
    const { saved } = l.forward(p, randn(1, [2, 6, 6, 3]), evalCtx)
    expect(() => l.vjp(p, saved, randn(2, [2, 4, 4, 3]))).toThrow(/^conv2d: expected dy of shape \[2, 4, 4, 4\] \(the output's\), got \[2, 4, 4, 3\]/)
  })
})

// ---- conv1d --------------------------------------------------------------------------

describe('conv1d', () => {
  const cases: ReadonlyArray<[Conv1dOptions, Shape, number]> = [
    [{ kernelSize: 3, filters: 4, stride: 2 }, [13, 3], 2],
    [{ kernelSize: 1, filters: 2 }, [5, 4], 3],
    [{ kernelSize: 4, filters: 3, stride: 3 }, [10, 2], 2],
    [{ kernelSize: 5, filters: 1 }, [5, 1], 1],
    [{ kernelSize: 2, filters: 6, stride: 1 }, [9, 5], 2],
  ]
  for (const [options, inShape, batch] of cases)
    it(`passes gradCheck for ${JSON.stringify(options)} on ${JSON.stringify(inShape)}`, () =>
      expectGradCheck(conv1d(options), inShape, batch, inShape[0]))

  it('matches the direct formula y[n,j,o] = b[o] + sum x[n, j*S+q, c] k[q,c,o] in Float64 and Float32', () => {
    for (const [K, S, L, C, O] of [
      [3, 1, 9, 3, 4],
      [3, 2, 13, 3, 4],
      [4, 3, 16, 2, 5],
    ]) {
      const l = conv1d({ kernelSize: K, filters: O, stride: S })
      const { params, outShape } = initOk(l.init(key(K), [L, C]))
      expect(outShape).toEqual([(L - K) / S + 1, O])
      const p = { k: cast(params.k, 'float64'), b: randn(7, [O]) }
      const x = randn(8, [2, L, C])
      const y = l.forward(p, x, evalCtx).y
      expect(y.shape).toEqual([2, (L - K) / S + 1, O])
      const want = conv1dRef(x, p.k, p.b, S)
      for (let i = 0; i < want.length; i++) expect(y.data[i]).toBeCloseTo(want[i], 12)
      const y32 = l.forward(castTree(p, 'float32'), cast(x, 'float32'), evalCtx).y
      expect(y32.data).toBeInstanceOf(Float32Array)
      for (let i = 0; i < want.length; i++) expect(Math.abs(y32.data[i] - want[i])).toBeLessThan(1e-5 * (1 + Math.abs(want[i])))
    }
  })

  it('has the conformance spec, rebuilds from it, and inits Glorot with fan-in K*C', () => {
    const l = conv1d({ kernelSize: 3, filters: 4, stride: 2, init: 'lecun' })
    expect(l.spec).toEqual({ type: 'conv1d', kernel_size: 3, filters: 4, stride: 2, padding: 'valid', init: 'lecun' })
    const back = layerFromSpec(l.spec)
    if (E.isLeft(back)) throw back.left
    expect(back.right.spec).toEqual(l.spec)
    expect(conv1d({ kernelSize: 3, filters: 4 }).spec.stride).toBe(1)
    const { params } = initOk(conv1d({ kernelSize: 5, filters: 6 }).init(key(1), [20, 4]))
    expect(params.k.shape).toEqual([5, 4, 6])
    expect(maxAbs(params.k.data)).toBeLessThanOrEqual(Math.sqrt(6 / (20 + 30)))
  })

  it('errors name the layer, the expected and the actual', () => {
    const init = (o: Conv1dOptions, s: Shape) => leftMessage(conv1d(o).init(key(0), s))
    expect(init({ kernelSize: 3, filters: 2 }, [5])).toMatch(/^conv1d: expected a per-sample input of rank 2 \[length, channels\], got rank 1 \[5\]/)
    expect(init({ kernelSize: 5, filters: 2 }, [3, 2])).toMatch(/^conv1d: expected the kernel length 5 to fit in the input length, got 3/)
    expect(init({ kernelSize: 3, filters: 2, stride: 2 }, [8, 2])).toMatch(
      /^conv1d: expected the input length minus the kernel length to be a multiple of the stride 2, got 8 - 3 = 5 \(remainder 1\)/,
    )
    expect(init({ kernelSize: NaN, filters: 2 }, [8, 2])).toMatch(/^conv1d: expected kernel_size to be a positive integer, got NaN/)
    expect(init({ kernelSize: 3, filters: 0 }, [8, 2])).toMatch(/expected filters to be a positive integer, got 0/)
    expect(init({ kernelSize: 3, filters: 2, stride: -1 }, [8, 2])).toMatch(/expected stride to be a positive integer, got -1/)
    const l = conv1d({ kernelSize: 3, filters: 2 })
    const p = castTree(initOk(l.init(key(0), [8, 2])).params, 'float64')
    expect(() => l.forward(p, randn(1, [1, 8, 3]), evalCtx)).toThrow(/^conv1d: expected input of shape \[B, L, 2\] \(2 channels, as k\), got \[1, 8, 3\]/)
    expect(() => l.forward(p, randn(1, [8, 2]), evalCtx)).toThrow(/expected input of rank 3 \[B, length, channels\], got \[8, 2\]/)
    const { saved } = l.forward(p, randn(1, [1, 8, 2]), evalCtx)
    expect(() => l.vjp(p, saved, randn(2, [1, 5, 2]))).toThrow(/^conv1d: expected dy of shape \[1, 6, 2\] \(the output's\), got \[1, 5, 2\]/)
    const r = l.vjp(p, saved, randn(2, [1, 6, 2]))
    expect(typeof Object.getOwnPropertyDescriptor(Object.getPrototypeOf(r), 'dx')?.get).toBe('function')
    expect(leaves(r.dparams).map(([n]) => n)).toEqual(['k', 'b'])
  })
})
