// Layers and losses rebuilt from their JSON specs (the conformance `layer` objects, and
// what checkpoints store). `layerFromSpec(layer.spec)` gives back an equivalent layer.

import * as E from 'fp-ts/lib/Either.js'
import { GradstreamError } from '../core/errors.ts'
import { leakyRelu, lecunTanh, relu, sigmoid, tanh } from './activations.ts'
import { tiedAutoencoder } from './autoencoder.ts'
import { conv1d } from './conv1d.ts'
import { conv2d } from './conv2d.ts'
import type { Conv2dOptions, Padding } from './conv2d.ts'
import { dense } from './dense.ts'
import { flatten } from './flatten.ts'
import type { InitName } from './init.ts'
import { INIT_NAMES } from './init.ts'
import type { AnyLayer, JsonValue, LayerSpec } from './layer.ts'
import type { AnyLoss } from './loss.ts'
import { euclidean, softmaxCrossEntropy } from './loss.ts'
import { avgPool2d, maxPool2d } from './pool.ts'
import { prelu } from './prelu.ts'
import { rrelu } from './rrelu.ts'
import type { ChildInput } from './sequential.ts'
import { named, sequential } from './sequential.ts'
import { softmax } from './softmax.ts'
import { subsample } from './subsample.ts'
import type { SubsampleActivation } from './subsample.ts'

type Spec = { readonly [k: string]: JsonValue }

const bad = (type: string, what: string, got: unknown): GradstreamError =>
  new GradstreamError(`${type} spec: expected ${what}, got ${JSON.stringify(got)}`)

const num = (s: Spec, k: string, def?: number): number => {
  const v = s[k] ?? def
  if (typeof v !== 'number') throw bad(String(s.type), `"${k}" to be a number`, s[k])
  return v
}

const pair = (s: Spec, k: string, def?: readonly [number, number]): [number, number] => {
  const v = s[k] ?? def
  if (typeof v === 'number') return [v, v]
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0] as number, v[1] as number]
  throw bad(String(s.type), `"${k}" to be a number or a pair of numbers`, s[k])
}

const initOf = (s: Spec): InitName => {
  const v = s.init ?? 'glorot'
  if (typeof v !== 'string' || !INIT_NAMES.includes(v as InitName))
    throw bad(String(s.type), `"init" to be one of ${INIT_NAMES.join(', ')}`, s.init)
  return v as InitName
}

const padding = (s: Spec): Padding => {
  const v = s.padding ?? 'valid'
  if (v === 'valid' || v === 'same') return v
  if (Array.isArray(v) && v.length === 4 && v.every((x) => typeof x === 'number'))
    return [v[0], v[1], v[2], v[3]] as unknown as Padding
  throw bad(String(s.type), `"padding" to be 'valid', 'same' or [top, bottom, left, right]`, v)
}

const table = (s: Spec): boolean[][] | null => {
  const v = s.connection_table ?? null
  if (v === null) return null
  if (Array.isArray(v) && v.every((row) => Array.isArray(row) && row.every((c) => typeof c === 'boolean')))
    return v as boolean[][]
  throw bad(String(s.type), '"connection_table" to be null or a boolean [inC][outC] matrix', v)
}

const BUILDERS: { readonly [type: string]: (s: Spec) => AnyLayer } = {
  dense: (s) => dense(num(s, 'units'), { init: initOf(s) }),
  sigmoid: () => sigmoid(),
  tanh: () => tanh(),
  lecun_tanh: () => lecunTanh(),
  relu: () => relu(),
  leaky_relu: (s) => leakyRelu(num(s, 'a', 5)),
  prelu: (s) => prelu({ init: num(s, 'init', 4) }),
  rrelu: (s) => rrelu({ lower: num(s, 'lower', 3), upper: num(s, 'upper', 8) }),
  softmax: (s) => {
    if ((s.axis ?? -1) !== -1) throw bad('softmax', '"axis" -1 (the last axis)', s.axis)
    return softmax()
  },
  flatten: () => flatten(),
  tied_autoencoder: (s) => {
    if ((s.activation ?? 'sigmoid') !== 'sigmoid') throw bad('tied_autoencoder', `"activation" 'sigmoid'`, s.activation)
    return tiedAutoencoder({ hidden: num(s, 'hidden'), corruption: num(s, 'corruption', 0) })
  },
  conv1d: (s) => {
    if ((s.padding ?? 'valid') !== 'valid') throw bad('conv1d', `"padding" 'valid'`, s.padding)
    return conv1d({ kernelSize: num(s, 'kernel_size'), filters: num(s, 'filters'), stride: num(s, 'stride', 1), init: initOf(s) })
  },
  conv2d: (s) => {
    const options: Conv2dOptions = {
      kernelSize: pair(s, 'kernel_size'),
      filters: num(s, 'filters'),
      stride: pair(s, 'stride', [1, 1]),
      padding: padding(s),
      flip: s.flip === true,
      connectionTable: table(s),
      init: initOf(s),
    }
    return conv2d(options)
  },
  maxpool2d: (s) => maxPool2d({ pool: pair(s, 'pool'), stride: s.stride === undefined ? undefined : pair(s, 'stride') }),
  avgpool2d: (s) => avgPool2d({ pool: pair(s, 'pool'), stride: s.stride === undefined ? undefined : pair(s, 'stride') }),
  subsample: (s) => {
    const act = s.activation ?? 'sigmoid'
    if (typeof act !== 'string') throw bad('subsample', '"activation" to be a string', act)
    return subsample({ pool: num(s, 'pool', 2), activation: act as SubsampleActivation })
  },
  sequential: (s) => {
    const layers = s.layers
    if (!Array.isArray(layers)) throw bad('sequential', '"layers" to be an array of layer specs', layers)
    const children: ChildInput[] = layers.map((l) => {
      const child = asSpec(l)
      const built = build(child)
      return typeof child.name === 'string' ? named(child.name, built) : built
    })
    return sequential(...children)
  },
}

const asSpec = (v: unknown): LayerSpec => {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof (v as { type?: unknown }).type !== 'string')
    throw new GradstreamError(`layer spec: expected an object with a string "type", got ${JSON.stringify(v)}`)
  return v as LayerSpec
}

const build = (spec: LayerSpec): AnyLayer => {
  const make = Object.hasOwn(BUILDERS, spec.type) ? BUILDERS[spec.type] : undefined
  if (make === undefined)
    throw new GradstreamError(
      `layer spec: expected "type" to be one of ${Object.keys(BUILDERS).join(', ')}, got ${JSON.stringify(spec.type)}`,
    )
  return make(spec)
}

/** The layer a spec describes, or a Left naming what is wrong with the spec. */
export const layerFromSpec = (spec: unknown): E.Either<GradstreamError, AnyLayer> =>
  E.tryCatch(
    () => build(asSpec(spec)),
    (e) => (e instanceof GradstreamError ? e : new GradstreamError(String(e))),
  )

/** The loss a spec describes ({type: 'softmax_cross_entropy'} or {type: 'euclidean', reduction}). */
export const lossFromSpec = (spec: unknown): E.Either<GradstreamError, AnyLoss> =>
  E.tryCatch(
    () => {
      const s = asSpec(spec)
      if (s.type === 'softmax_cross_entropy') {
        if ((s.reduction ?? 'mean') !== 'mean') throw bad(s.type, `"reduction" 'mean'`, s.reduction)
        return softmaxCrossEntropy() as AnyLoss
      }
      if (s.type === 'euclidean') {
        const r = s.reduction ?? 'mean'
        if (r !== 'sum' && r !== 'mean') throw bad(s.type, `"reduction" 'sum' or 'mean'`, r)
        return euclidean(r) as AnyLoss
      }
      throw bad('loss', `"type" 'softmax_cross_entropy' or 'euclidean'`, s.type)
    },
    (e) => (e instanceof GradstreamError ? e : new GradstreamError(String(e))),
  )
