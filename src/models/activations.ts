// Parameter-free element-wise activations as Layers: sigmoid, tanh, LeCun tanh, ReLU,
// leaky ReLU (z/a form). Each keeps for backward exactly what its derivative reads.
// Kernels and equations: ops/activations.ts.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { LayerError } from '../core/errors.ts'
import * as K from '../ops/activations.ts'
import type { F, Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf } from '../core/tensor.ts'
import type { Layer, LayerSpec, Params } from './layer.ts'
import { checkCotangent, expectNumber, expectValidShape } from './layer.ts'
import type { ElementwiseKernels } from './define.ts'
import { defineLayer } from './define.ts'

type Empty = Params

/** What an element-wise activation saves: its input or its output. */
export interface ElementwiseSaved {
  readonly x: Tensor
  readonly y: Tensor
}

/**
 * An activation layer from a forward kernel y = f(x) and a backward kernel that reads dy and
 * either y or x (`uses`). `validate` checks hyperparameters at init.
 */
export const elementwise = (
  spec: LayerSpec,
  fwd: (y: F, x: F, n: number) => void,
  bwd: (dx: F, dy: F, saved: F, n: number) => void,
  uses: 'x' | 'y',
  validate: () => E.Either<LayerError, unknown> = () => E.right(undefined),
): Layer<Empty, ElementwiseSaved> => ({
  spec,
  init: (_key, inShape) =>
    pipe(
      validate(),
      E.chain(() => expectValidShape(spec.type, inShape)),
      E.map(() => ({ params: {}, outShape: inShape })),
    ),
  forward: (_p, x) => {
    const y = alloc(dtypeOf(x.data), x.data.length)
    fwd(y, x.data, x.data.length)
    return { y: { shape: x.shape, data: y }, saved: { x, y: { shape: x.shape, data: y } } }
  },
  vjp: (_p, saved, dy) => {
    checkCotangent(spec.type, dy, saved.x.shape)
    const dx = alloc(dtypeOf(saved.x.data), dy.data.length)
    bwd(dx, dy.data, uses === 'x' ? saved.x.data : saved.y.data, dy.data.length)
    return { dparams: {}, dx: { shape: saved.x.shape, data: dx } }
  },
})

/**
 * Declares a parameter-free element-wise activation from its two kernels: the layer,
 * its spec round-trip and its entry in the registry (with the kernels, which subsample
 * and mlp find by name). `module: import.meta.url` for a type declared outside src/.
 */
export const defineActivation = (decl: ElementwiseKernels & { readonly type: string; readonly module?: string }) =>
  defineLayer({
    type: decl.type,
    elementwise: { forward: decl.forward, backward: decl.backward, uses: decl.uses },
    module: decl.module,
    create: (): Layer<Empty, ElementwiseSaved> => elementwise({ type: decl.type }, decl.forward, decl.backward, decl.uses),
    fromSpec: () => [] as const,
  })

/** Logistic sigmoid 1/(1+e^-z) (deep-learning-lecture-notes eqs 2-3). */
export const sigmoid = defineActivation({ type: 'sigmoid', forward: K.sigmoidForward, backward: K.sigmoidBackward, uses: 'y' })

/** tanh z. */
export const tanh = defineActivation({ type: 'tanh', forward: K.tanhForward, backward: K.tanhBackward, uses: 'y' })

/** LeCun's 1.7159 tanh(0.6666 z), with the true derivative. */
export const lecunTanh = defineActivation({ type: 'lecun_tanh', forward: K.lecunTanhForward, backward: K.lecunTanhBackward, uses: 'x' })

/** max(0, z); derivative 0 at 0 (deep-learning-lecture-notes eqs 4-5). */
export const relu = defineActivation({ type: 'relu', forward: K.reluForward, backward: K.reluBackward, uses: 'y' })

/**
 * z for z >= 0, z / a for z < 0, with a > 1 (convnet-notes' form; default a = 5). Its
 * registered kernels are those of the default a (what {type: 'leaky_relu'} builds).
 */
export const leakyRelu = defineLayer({
  type: 'leaky_relu',
  elementwise: {
    forward: (y, x, n) => K.leakyReluForward(y, x, n, 5),
    backward: (dx, dy, x, n) => K.leakyReluBackward(dx, dy, x, n, 5),
    uses: 'x',
  },
  create: (a: number = 5): Layer<Empty, ElementwiseSaved> =>
    elementwise(
      { type: 'leaky_relu', a },
      (y, x, n) => K.leakyReluForward(y, x, n, a),
      (dx, dy, x, n) => K.leakyReluBackward(dx, dy, x, n, a),
      'x',
      () => expectNumber('leaky_relu', 'a', a, (v) => v > 1, 'a number > 1 (the z/a form divides)'),
    ),
  fromSpec: (s) => [s.num('a', 5)] as const,
})
