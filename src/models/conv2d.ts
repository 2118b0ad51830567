// 2D convolution layer, NHWC: stride, padding ('valid', 'same' or explicit), optional kernel
// flip (true convolution) and optional sparse connection table (LeNet-5's S2 -> C3).
//   y[n,i,j,o] = b[o] + sum_{p,q,c} x[n, i*sh+p-top, j*sw+q-left, c] k'[p,q,c,o]
// with k' = k (cross-correlation, the default) or k rotated 180 degrees (flip), times the
// table. cnn-layers-softmax eqs 1-3; deep-learning-lecture-notes eqs 28-34, 45-54;
// cnn-derivation-lenet eqs 1, 9-17. Kernels: ops/conv2d.ts.
//
// Shapes: x [B, H, W, inC], k [kh, kw, inC, filters], b [filters], y [B, Ho, Wo, filters],
// Ho = (H + top + bottom - kh)/sh + 1 (likewise Wo). With 'valid' or explicit padding the
// division must be exact: init returns a Left rather than dropping rows. 'same' follows
// TensorFlow (Ho = ceil(H/sh), the odd padding row/column at the bottom/right).
//
// Initialisation: b = 0; k ~ U(-r, r) with the named rule. Without a table r is the usual
// one (fan-in kh*kw*inC, fan-out kh*kw*filters). With a table the fans count connections
// only, per entry (c, o): fan-in = kh*kw*(inputs feeding o), fan-out = kh*kw*(outputs fed by
// c); entries of absent pairs are 0.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { LayerError } from '../core/errors.ts'
import type { Conv2dGeometry } from '../ops/conv2d.ts'
import { conv2dBackwardInput, conv2dBackwardParams, conv2dForward, samePadding } from '../ops/conv2d.ts'
import type { Key } from '../core/rng.ts'
import { split, uniform } from '../core/rng.ts'
import type { Shape, Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, showShape, shapeEquals } from '../core/tensor.ts'
import type { InitName } from './init.ts'
import { INIT_NAMES, initRange, initWeights, zeroBias } from './init.ts'
import type { JsonValue, Layer } from './layer.ts'
import { checkCotangent, checkRank, checkSameDtype, expectNumber, expectRank, expectValidShape, unwrap } from './layer.ts'
import { withLazyDx } from './lazy.ts'
import type { SpecReader } from './define.ts'
import { defineLayer } from './define.ts'

/** 'valid' (none), 'same' (TensorFlow's rule) or explicit [top, bottom, left, right]. */
export type Padding = 'valid' | 'same' | readonly [number, number, number, number]

export interface Conv2dOptions {
  /** [kh, kw], or one number for a square kernel. */
  readonly kernelSize: number | readonly [number, number]
  /** Output channels. */
  readonly filters: number
  /** [sh, sw], or one number (default 1). */
  readonly stride?: number | readonly [number, number]
  /** Default 'valid'. */
  readonly padding?: Padding
  /** true: rotate the kernel 180 degrees (true convolution, cnn-layers-softmax eq 1). Default false. */
  readonly flip?: boolean
  /** [inC][filters]: table[i][j] is true when input map i feeds output map j. null (default): all. */
  readonly connectionTable?: readonly (readonly boolean[])[] | null
  /** Weight initialiser (default 'glorot'). */
  readonly init?: InitName
}

export type Conv2dParams = { readonly k: Tensor; readonly b: Tensor }

/** Saved for backward: the input. */
export interface Conv2dSaved {
  readonly x: Tensor
}

/**
 * The LeNet-5 S2 -> C3 connection table (LeCun et al. 1998, Table I; cnn-derivation-lenet
 * Table 1): table[i][j] is true when S2 map i feeds C3 map j. 60 connections, so a 5x5
 * conv2d with it has 60*25 + 16 = 1516 effective parameters.
 */
export const LENET_C3_TABLE: boolean[][] = Object.freeze(
  [
    // C3 map: 0123456789012345   (# = connected, as the X of LeCun's Table I)
    '#...###..####.##', // S2 map 0
    '##...###..####.#', // S2 map 1
    '###...###..#.###', // S2 map 2
    '.###..####..#.##', // S2 map 3
    '..###..####.##.#', // S2 map 4
    '...###..####.###', // S2 map 5
  ].map((row) => Object.freeze([...row].map((ch) => ch === '#'))),
) as unknown as boolean[][]

// ---- hyperparameter checks shared with conv1d and the pooling layers -------------------

const isPositiveInt = (v: number): boolean => Number.isInteger(v) && v > 0

/** A positive integer, or a pair of them, as [rows, columns]; Left names the layer and the value. */
export const expectPositivePair = (
  layer: string,
  name: string,
  v: unknown,
): E.Either<LayerError, readonly [number, number]> => {
  if (typeof v === 'number')
    return pipe(
      expectNumber(layer, name, v, isPositiveInt, 'a positive integer or a pair of positive integers'),
      E.map((n) => [n, n] as const),
    )
  if (Array.isArray(v) && v.length === 2 && v.every((d) => typeof d === 'number' && isPositiveInt(d)))
    return E.right([v[0], v[1]] as const)
  return E.left(
    new LayerError(layer, `expected ${name} to be a positive integer or a pair of positive integers, got ${showValue(v)}`),
  )
}

/** JSON-ish rendering of a hyperparameter for messages (NaN and undefined kept readable). */
export const showValue = (v: unknown): string =>
  typeof v === 'number' || v === undefined ? String(v) : Array.isArray(v) ? `[${v.map(showValue).join(', ')}]` : JSON.stringify(v) ?? String(v)

export const expectInitName = (layer: string, v: unknown): E.Either<LayerError, InitName> =>
  typeof v === 'string' && INIT_NAMES.includes(v as InitName)
    ? E.right(v as InitName)
    : E.left(new LayerError(layer, `expected init to be one of ${INIT_NAMES.join(', ')}, got ${showValue(v)}`))

/** U(-r, r) bound of each rule of init.ts for the given fans. */

// ---- hyperparameters -----------------------------------------------------------------

interface Hyper {
  readonly kh: number
  readonly kw: number
  readonly filters: number
  readonly sh: number
  readonly sw: number
  readonly padding: Padding
  readonly flip: boolean
  /** The table as [inC][filters] booleans, or null. */
  readonly table: readonly (readonly boolean[])[] | null
  readonly init: InitName
}

const name = 'conv2d'

const checkPadding = (v: unknown): E.Either<LayerError, Padding> => {
  if (v === 'valid' || v === 'same') return E.right(v)
  if (Array.isArray(v) && v.length === 4) {
    const sides = ['top', 'bottom', 'left', 'right']
    for (let i = 0; i < 4; i++)
      if (!(typeof v[i] === 'number' && Number.isInteger(v[i]) && v[i] >= 0))
        return E.left(new LayerError(name, `expected padding ${sides[i]} to be a non-negative integer, got ${showValue(v[i])}`))
    return E.right([v[0], v[1], v[2], v[3]] as const)
  }
  return E.left(new LayerError(name, `expected padding 'valid', 'same' or [top, bottom, left, right], got ${showValue(v)}`))
}

/** Checks the table's own form (a rectangular boolean matrix); its size is checked at init. */
const checkTableForm = (
  t: unknown,
): E.Either<LayerError, readonly (readonly boolean[])[] | null> => {
  if (t === null || t === undefined) return E.right(null)
  if (!Array.isArray(t) || t.length === 0 || !t.every((row) => Array.isArray(row)))
    return E.left(new LayerError(name, `expected connection_table to be null or a boolean [inC][filters] matrix, got ${showValue(t)}`))
  for (let i = 0; i < t.length; i++)
    for (let j = 0; j < t[i].length; j++)
      if (typeof t[i][j] !== 'boolean')
        return E.left(
          new LayerError(name, `expected connection_table entries to be booleans, got ${showValue(t[i][j])} at [${i}][${j}]`),
        )
  return E.right(t as readonly (readonly boolean[])[])
}

const checkHyper = (o: Conv2dOptions): E.Either<LayerError, Hyper> =>
  pipe(
    E.Do,
    E.apS('kernel', expectPositivePair(name, 'kernel_size', o.kernelSize)),
    E.apS('filters', expectNumber(name, 'filters', o.filters, isPositiveInt, 'a positive integer')),
    E.apS('stride', expectPositivePair(name, 'stride', o.stride ?? 1)),
    E.apS('padding', checkPadding(o.padding ?? 'valid')),
    E.apS('flip', typeof (o.flip ?? false) === 'boolean' ? E.right(o.flip ?? false) : E.left(new LayerError(name, `expected flip to be a boolean, got ${showValue(o.flip)}`))),
    E.apS('table', checkTableForm(o.connectionTable)),
    E.apS('init', expectInitName(name, o.init ?? 'glorot')),
    E.map((h) => ({
      kh: h.kernel[0],
      kw: h.kernel[1],
      filters: h.filters,
      sh: h.stride[0],
      sw: h.stride[1],
      padding: h.padding,
      flip: h.flip,
      table: h.table,
      init: h.init,
    })),
  )

/** The table as a flat [inC * filters] mask (1 = connected) after checking its size against inC. */
const tableMask = (h: Hyper, C: number): E.Either<LayerError, Uint8Array | null> => {
  const t = h.table
  if (t === null) return E.right(null)
  const bad = t.length !== C || t.some((row) => row.length !== h.filters)
  if (bad)
    return E.left(
      new LayerError(
        name,
        `expected connection_table of shape [${C}][${h.filters}] ([input channels][filters]), got [${t.length}][${t.map((r) => r.length).join('|')}]`,
      ),
    )
  const mask = new Uint8Array(C * h.filters)
  for (let c = 0; c < C; c++) for (let o = 0; o < h.filters; o++) mask[c * h.filters + o] = t[c][o] ? 1 : 0
  return E.right(mask)
}

/** [top, bottom, left, right] for an H x W input. */
const resolvePadding = (h: Hyper, H: number, W: number): readonly [number, number, number, number] => {
  if (h.padding === 'valid') return [0, 0, 0, 0]
  if (h.padding === 'same') {
    const [top, bottom] = samePadding(H, h.kh, h.sh)
    const [left, right] = samePadding(W, h.kw, h.sw)
    return [top, bottom, left, right]
  }
  return h.padding
}

/**
 * Output size along one axis: (n + before + after - k)/s + 1, which must be exact (never a
 * silent floor). `axis` names the axis in messages ('height', 'width', 'length') and
 * `window` what slides along it ('kernel', 'pool').
 */
export const outSize = (
  layer: string,
  axis: string,
  n: number,
  before: number,
  after: number,
  k: number,
  s: number,
  window = 'kernel',
): E.Either<LayerError, number> => {
  const padded = n + before + after
  const input = before + after > 0 ? `padded input ${axis}` : `input ${axis}`
  const detail = before + after > 0 ? `${padded} (${n} + padding ${before} + ${after})` : `${padded}`
  if (padded < k)
    return E.left(
      new LayerError(layer, `expected the ${window} ${axis} ${k} to fit in the ${input}, got ${detail}: the ${window} is larger than the input`),
    )
  const rest = (padded - k) % s
  if (rest !== 0) {
    const unit = axis === 'height' ? 'row(s)' : axis === 'width' ? 'column(s)' : 'position(s)'
    return E.left(
      new LayerError(
        layer,
        `expected the ${input} minus the ${window} ${axis} to be a multiple of the stride ${s}, got ${detail} - ${k} = ${padded - k} (remainder ${rest}): the last ${rest} ${unit} would be dropped`,
      ),
    )
  }
  return E.right((padded - k) / s + 1)
}

/** The geometry of a [B, H, W, C] input, or a Left naming what does not fit. */
const geometry = (h: Hyper, B: number, H: number, W: number, C: number): E.Either<LayerError, Conv2dGeometry> => {
  const [top, bottom, left, right] = resolvePadding(h, H, W)
  // 'same' always fits: out = ceil(n/s) (when k < s the last rows are simply never reached).
  const same = h.padding === 'same'
  return pipe(
    E.Do,
    E.apS('Ho', same ? E.right(Math.ceil(H / h.sh)) : outSize(name, 'height', H, top, bottom, h.kh, h.sh)),
    E.apS('Wo', same ? E.right(Math.ceil(W / h.sw)) : outSize(name, 'width', W, left, right, h.kw, h.sw)),
    E.map(({ Ho, Wo }) => ({ B, H, W, C, O: h.filters, kh: h.kh, kw: h.kw, sh: h.sh, sw: h.sw, top, left, Ho, Wo })),
  )
}

/** k [kh, kw, C, O] from the key: the named rule, with per-entry fans when there is a table. */
const initKernel = (h: Hyper, key: Key, C: number, mask: Uint8Array | null): Tensor => {
  const { kh, kw, filters: O } = h
  const shape = [kh, kw, C, O]
  if (mask === null) return initWeights(h.init, key, shape, kh * kw * C, kh * kw * O)
  const inputsOf = new Array<number>(O).fill(0)
  const outputsOf = new Array<number>(C).fill(0)
  for (let c = 0; c < C; c++)
    for (let o = 0; o < O; o++)
      if (mask[c * O + o] === 1) {
        inputsOf[o]++
        outputsOf[c]++
      }
  const u = uniform(key, kh * kw * C * O, 'float64')
  const k = new Float32Array(u.length)
  for (let t = 0; t < kh * kw; t++)
    for (let c = 0; c < C; c++)
      for (let o = 0; o < O; o++) {
        const e = (t * C + c) * O + o
        if (mask[c * O + o] === 0) continue
        const r = initRange(h.init, kh * kw * inputsOf[o], kh * kw * outputsOf[c])
        k[e] = -r + 2 * r * u[e]
      }
  return { shape: Object.freeze(shape), data: k }
}

const tableSpec = (t: unknown): JsonValue =>
  t === null || t === undefined ? null : Array.isArray(t) ? t.map((row) => (Array.isArray(row) ? [...row] : row) as JsonValue) : (t as JsonValue)

const pairSpec = (v: unknown): JsonValue =>
  typeof v === 'number' ? [v, v] : Array.isArray(v) ? (v as JsonValue[]) : (v as JsonValue)

const create = (options: Conv2dOptions): Layer<Conv2dParams, Conv2dSaved> => {
  const hyper = checkHyper(options)

  let last: { g: Conv2dGeometry; h: Hyper; mask: Uint8Array | null } | null = null
  /** Everything forward and vjp need, checked against x and the parameters (throws LayerError). */
  const setup = (p: Conv2dParams, x: Tensor): { g: Conv2dGeometry; h: Hyper; mask: Uint8Array | null } => {
    const h = unwrap(hyper)
    checkRank(name, x, 4, '[B, H, W, C]')
    const [B, H, W, C] = x.shape
    if (p.k.shape.length === 4 && p.k.shape[2] !== C)
      throw new LayerError(
        name,
        `expected input of shape [B, H, W, ${p.k.shape[2]}] (${p.k.shape[2]} channels, as k), got ${showShape(x.shape)}`,
      )
    const want = [h.kh, h.kw, C, h.filters]
    if (!shapeEquals(p.k.shape, want))
      throw new LayerError(
        name,
        `expected k of shape ${showShape(want)} ([kh, kw, input channels, filters]) for an input of shape ${showShape(x.shape)}, got ${showShape(p.k.shape)}`,
      )
    if (!shapeEquals(p.b.shape, [h.filters]))
      throw new LayerError(name, `expected b of shape [${h.filters}], got ${showShape(p.b.shape)}`)
    checkSameDtype(name, x, p.k, 'k')
    checkSameDtype(name, x, p.b, 'b')
    // The geometry and mask are functions of the input's shape: the last ones are kept, so a
    // stream of same-shaped inputs (every forward at inference) skips the Either-built checks.
    if (last === null || last.g.B !== B || last.g.H !== H || last.g.W !== W || last.g.C !== C)
      last = { g: unwrap(geometry(h, B, H, W, C)), h, mask: unwrap(tableMask(h, C)) }
    return last
  }

  return {
    spec: {
      type: 'conv2d',
      kernel_size: pairSpec(options.kernelSize),
      filters: options.filters,
      stride: pairSpec(options.stride ?? 1),
      padding: typeof options.padding === 'string' || options.padding === undefined ? (options.padding ?? 'valid') : [...options.padding],
      flip: options.flip ?? false,
      connection_table: tableSpec(options.connectionTable),
      init: options.init ?? 'glorot',
    },
    init: (key, inShape: Shape) =>
      pipe(
        hyper,
        E.chain((h) =>
          pipe(
            expectRank(name, inShape, 3, '[height, width, channels]'),
            E.chain((s) => expectValidShape(name, s)),
            E.chain(([H, W, C]) =>
              pipe(
                E.Do,
                E.apS('g', geometry(h, 1, H, W, C)),
                E.apS('mask', tableMask(h, C)),
              ),
            ),
            E.map(({ g, mask }) => {
              const [kK] = split(key, 1)
              return {
                params: { k: initKernel(h, kK, g.C, mask), b: zeroBias(h.filters) },
                outShape: [g.Ho, g.Wo, h.filters],
              }
            }),
          ),
        ),
      ),
    forward: (p, x) => {
      const { g, h, mask } = setup(p, x)
      const y = alloc(dtypeOf(x.data), g.B * g.Ho * g.Wo * g.O)
      conv2dForward(y, x.data, p.k.data, p.b.data, g, h.flip, mask)
      return { y: { shape: [g.B, g.Ho, g.Wo, g.O], data: y }, saved: { x } }
    },
    vjp: (p, saved, dy) => {
      const { x } = saved
      const { g, h, mask } = setup(p, x)
      checkCotangent(name, dy, [g.B, g.Ho, g.Wo, g.O])
      const dt = dtypeOf(x.data)
      const dk = alloc(dt, p.k.data.length)
      const db = alloc(dt, g.O)
      conv2dBackwardParams(dk, db, dy.data, x.data, g, h.flip, mask)
      return withLazyDx({ k: { shape: p.k.shape, data: dk }, b: { shape: p.b.shape, data: db } }, () => {
        const dx = alloc(dt, x.data.length)
        conv2dBackwardInput(dx, dy.data, p.k.data, g, h.flip, mask)
        return { shape: x.shape, data: dx }
      })
    },
  }
}

const paddingOf = (s: SpecReader): Padding => {
  const v = s.spec.padding ?? 'valid'
  if (v === 'valid' || v === 'same') return v
  if (Array.isArray(v) && v.length === 4 && v.every((x) => typeof x === 'number'))
    return [v[0], v[1], v[2], v[3]] as unknown as Padding
  return s.fail('padding', `'valid', 'same' or [top, bottom, left, right]`)
}

const tableOf = (s: SpecReader): boolean[][] | null => {
  const v = s.spec.connection_table ?? null
  if (v === null) return null
  if (Array.isArray(v) && v.every((row) => Array.isArray(row) && row.every((c) => typeof c === 'boolean')))
    return v as boolean[][]
  return s.fail('connection_table', 'null or a boolean [inC][outC] matrix')
}

/** 2D convolution (cross-correlation unless flip); unnamed in a sequential: conv1, conv2, ... */
export const conv2d = defineLayer({
  type: 'conv2d',
  prefix: 'conv',
  create,
  fromSpec: (s) =>
    [
      {
        kernelSize: s.pair('kernel_size'),
        filters: s.num('filters'),
        stride: s.pair('stride', [1, 1]),
        padding: paddingOf(s),
        flip: s.bool('flip'),
        connectionTable: tableOf(s),
        init: s.oneOf('init', INIT_NAMES, 'glorot'),
      },
    ] as const,
})
