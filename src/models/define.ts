// The open layer registry: every layer type declares itself once, in its own file, with
// `defineLayer`, and everything that needs to know about a type reads that declaration:
//
//   sequential      the name prefix of unnamed children ("fc" for dense: fc1, fc2, ...)
//   layerFromSpec   rebuilding a layer from its JSON spec (checkpoints, workers)
//   online          whether a model draws from the key in training (then prediction runs
//                   a separate evaluation-mode forward)
//   workers         which module to import so a user's layer type exists in a worker
//   mlp, subsample  the element-wise activations by name, with their kernels
//
// A type declared in a user's own code (outside src/) is as complete as a built-in one.
// Validation of specs lives here too (`SpecReader`), with one error type: LayerError.
// The constructor `defineLayer` returns also checks, once per call and for every layer,
// that a tensor's data holds as many values as its shape says (issue 12), so no kernel
// reads past the end of an array or leaves a tail unread.

import { LayerError } from '../core/errors.ts'
import type { F, Tensor } from '../core/tensor.ts'
import { showShape } from '../core/tensor.ts'
import type { AnyLayer, JsonValue, LayerSpec } from './layer.ts'

type Spec = { readonly [k: string]: JsonValue }

/** Typed access to a spec's fields: each accessor throws a LayerError naming the field. */
export interface SpecReader {
  readonly spec: LayerSpec
  /** A number (or `def` when the field is absent). */
  num(field: string, def?: number): number
  /** A number or a pair of numbers, as a pair. */
  pair(field: string, def?: readonly [number, number]): [number, number]
  /** A string from a list of choices. */
  oneOf<T extends string>(field: string, choices: readonly T[], def?: T): T
  /** A boolean (absent: `def`, else false). */
  bool(field: string, def?: boolean): boolean
  /** A nested layer spec, rebuilt. */
  layer(field: string): AnyLayer
  /** A nested layer spec that may be null or absent. */
  optionalLayer(field: string): AnyLayer | null
  /** An array of nested layer specs, rebuilt. */
  layers(field: string): AnyLayer[]
  /** Throws a LayerError: "<type> spec: expected <what>, got <value>". */
  fail(field: string, what: string): never
}

/** Kernels of an element-wise activation (what subsample and fused paths reuse). */
export interface ElementwiseKernels {
  readonly forward: (y: F, x: F, n: number) => void
  /** dx from dy and the saved input or output (`uses`). */
  readonly backward: (dx: F, dy: F, saved: F, n: number) => void
  readonly uses: 'x' | 'y'
}

/** What a layer type declares. */
export interface LayerDeclaration<A extends readonly unknown[], L extends AnyLayer> {
  /** The spec's `type` (unique). */
  readonly type: string
  /** Prefix of unnamed children in sequential (default: the type). */
  readonly prefix?: string
  /**
   * Whether the layer draws from the forward key in training (dropout masks, RReLU
   * slopes, denoising noise); a function of the spec when it depends on a hyperparameter.
   */
  readonly stochastic?: boolean | ((spec: LayerSpec) => boolean)
  /** Whether the layer carries state beside its parameters (batch norm's statistics). */
  readonly stateful?: boolean
  /** The element-wise kernels, for a parameter-free activation. */
  readonly elementwise?: ElementwiseKernels
  /**
   * The module that declares the type (`import.meta.url`): worker threads import it
   * before rebuilding a model that uses the type. Built-in types need none.
   */
  readonly module?: string
  /** Makes the layer (the exported constructor is this, with the data checks added). */
  readonly create: (...args: A) => L
  /** The constructor's arguments from a spec (the inverse of the layer's `spec`). */
  readonly fromSpec: (s: SpecReader) => Readonly<A>
}

/** A registered type, with its constructor's types forgotten. */
export interface LayerType {
  readonly type: string
  readonly prefix: string
  readonly stochastic: (spec: LayerSpec) => boolean
  readonly stateful: boolean
  readonly elementwise?: ElementwiseKernels
  readonly module?: string
  readonly build: (s: SpecReader) => AnyLayer
}

const TYPES = new Map<string, LayerType>()

const isFloat = (d: unknown): boolean => d instanceof Float32Array || d instanceof Float64Array

/** Throws unless t's data is a float array of exactly as many values as its shape. */
export const checkData = (layer: string, t: Tensor, what: string): void => {
  if (typeof t !== 'object' || t === null || !Array.isArray(t.shape) || !isFloat(t.data))
    throw new LayerError(layer, `expected ${what} to be a tensor {shape, data: Float32Array | Float64Array}, got ${String(t)}`)
  let n = 1
  for (const d of t.shape) n *= d
  if (t.data.length !== n)
    throw new LayerError(layer, `expected ${what} data of ${n} values (shape ${showShape(t.shape)}), got ${t.data.length}`)
}

/** The layer with its input and cotangent checked once per call (the shared place). */
const guarded = <L extends AnyLayer>(layer: L): L => {
  const type = layer.spec.type
  return {
    ...layer,
    forward: (p, x, ctx, state) => {
      checkData(type, x, 'input')
      return layer.forward(p, x, ctx, state)
    },
    vjp: (p, saved, dy) => {
      checkData(type, dy, 'dy')
      return layer.vjp(p, saved, dy)
    },
  }
}

/**
 * Declares a layer type and returns its constructor. Call it once per type, at the top
 * level of the layer's own module; a second declaration of a type is an error.
 */
export const defineLayer = <A extends readonly unknown[], L extends AnyLayer>(
  decl: LayerDeclaration<A, L>,
): ((...args: A) => L) => {
  if (typeof decl.type !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(decl.type))
    throw new LayerError('defineLayer', `expected "type" to be a name of letters, digits and _, got ${JSON.stringify(decl.type)}`)
  const existing = TYPES.get(decl.type)
  // The same module evaluated again (a second URL for one file) may re-declare its own types.
  if (existing !== undefined && (decl.module === undefined || existing.module !== decl.module))
    throw new LayerError('defineLayer', `expected a new layer type, got ${JSON.stringify(decl.type)} twice`)
  const make = (...args: A): L => guarded(decl.create(...args))
  const s = decl.stochastic
  TYPES.set(decl.type, {
    type: decl.type,
    prefix: decl.prefix ?? decl.type,
    stochastic: typeof s === 'function' ? s : () => s === true,
    stateful: decl.stateful === true,
    elementwise: decl.elementwise,
    module: decl.module,
    build: (r) => make(...(decl.fromSpec(r) as A)),
  })
  return make
}

/** The declaration of a type, if registered. */
export const layerType = (type: string): LayerType | undefined => TYPES.get(type)

/** Every registered type name, in registration order. */
export const layerTypes = (): string[] => [...TYPES.keys()]

/** The registered element-wise activations by name. */
export const elementwiseTypes = (): string[] => [...TYPES.values()].filter((t) => t.elementwise).map((t) => t.type)

/** Kernels of a registered element-wise activation, or a LayerError naming the choices. */
export const elementwiseKernels = (type: string, who = 'activation'): ElementwiseKernels => {
  const t = TYPES.get(type)
  if (t?.elementwise === undefined)
    throw new LayerError(who, `expected an activation, one of ${elementwiseTypes().join(', ')}, got ${JSON.stringify(type)}`)
  return t.elementwise
}

/** Calls f on every nested layer spec (objects with a registered string `type`). */
const walkSpecs = (v: unknown, f: (spec: LayerSpec, t: LayerType) => void): void => {
  if (Array.isArray(v)) {
    for (const c of v) walkSpecs(c, f)
    return
  }
  if (typeof v !== 'object' || v === null) return
  const o = v as { readonly [k: string]: unknown }
  const t = typeof o.type === 'string' ? TYPES.get(o.type) : undefined
  if (t !== undefined) f(o as LayerSpec, t)
  for (const k of Object.keys(o)) walkSpecs(o[k], f)
}

/** Whether any layer in a (model or layer) spec draws from the key in training. */
export const drawsFromKey = (spec: unknown): boolean => {
  let yes = false
  walkSpecs(spec, (s, t) => {
    if (t.stochastic(s)) yes = true
  })
  return yes
}

/**
 * Whether a model's training forward differs from its evaluation forward: a layer draws
 * from the key, or carries state (batch norm normalises with batch statistics in
 * training). Online learning then predicts with a separate evaluation forward.
 */
export const trainsDifferently = (spec: unknown): boolean => {
  let yes = false
  walkSpecs(spec, (s, t) => {
    if (t.stochastic(s) || t.stateful) yes = true
  })
  return yes
}

/** The modules declaring the non-built-in layer types a spec uses (for worker threads). */
export const modulesOf = (spec: unknown): string[] => {
  const out = new Set<string>()
  walkSpecs(spec, (_s, t) => {
    if (t.module !== undefined) out.add(t.module)
  })
  return [...out]
}

const asSpec = (v: unknown): LayerSpec => {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof (v as { type?: unknown }).type !== 'string')
    throw new LayerError('layer spec', `expected an object with a string "type", got ${JSON.stringify(v)}`)
  return v as LayerSpec
}

const reader = (spec: LayerSpec): SpecReader => {
  const s: Spec = spec
  const fail = (field: string, what: string): never => {
    throw new LayerError(`${spec.type} spec`, `expected "${field}" to be ${what}, got ${JSON.stringify(s[field]) ?? 'nothing'}`)
  }
  const r: SpecReader = {
    spec,
    fail,
    num: (field, def) => {
      const v = s[field] ?? def
      return typeof v === 'number' ? v : fail(field, 'a number')
    },
    pair: (field, def) => {
      const v = s[field] ?? def
      if (typeof v === 'number') return [v, v]
      if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0] as number, v[1] as number]
      return fail(field, 'a number or a pair of numbers')
    },
    oneOf: <T extends string>(field: string, choices: readonly T[], def?: T): T => {
      const v = s[field] ?? def
      return typeof v === 'string' && (choices as readonly string[]).includes(v) ? (v as T) : fail(field, `one of ${choices.join(', ')}`)
    },
    bool: (field, def = false) => {
      const v = s[field] ?? def
      return typeof v === 'boolean' ? v : fail(field, 'true or false')
    },
    layer: (field) => buildLayer(s[field]),
    optionalLayer: (field) => (s[field] === undefined || s[field] === null ? null : buildLayer(s[field])),
    layers: (field) => {
      const v = s[field]
      return Array.isArray(v) ? v.map(buildLayer) : fail(field, 'an array of layer specs')
    },
  }
  return r
}

/** The layer a spec describes; throws a LayerError naming what is wrong. */
export const buildLayer = (v: unknown): AnyLayer => {
  const spec = asSpec(v)
  const t = TYPES.get(spec.type)
  if (t === undefined)
    throw new LayerError(
      'layer spec',
      `expected "type" to be a registered layer type (${layerTypes().join(', ')}), got ${JSON.stringify(spec.type)}` +
        ' (a type declared outside gradstream is registered when its module is imported; give defineLayer `module: import.meta.url` for worker threads)',
    )
  return t.build(reader(spec))
}
