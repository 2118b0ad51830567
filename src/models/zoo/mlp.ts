// Multilayer perceptron (deep-learning-lecture-notes sec. II-III; convnet-notes MLP):
// flatten -> [dense -> activation] per hidden size -> dense(classes). Logits out; train
// with softmaxCrossEntropy.
//
// mlp({ hidden: [256, 128] }) on 28x28x1 digits: 784-256-128-10,
//   784*256+256 + 256*128+128 + 128*10+10 = 235,146 parameters.

import '../activations.ts'
import { buildLayer, elementwiseKernels } from '../define.ts'
import { dense } from '../dense.ts'
import { flatten } from '../flatten.ts'
import type { InitName } from '../init.ts'
import type { AnyLayer } from '../layer.ts'
import type { Sequential } from '../sequential.ts'
import { sequential } from '../sequential.ts'

export type Activation = 'relu' | 'sigmoid' | 'tanh' | 'lecun_tanh' | 'leaky_relu'
/** The activations the CLI offers (each a registered element-wise type, define.ts). */
export const ACTIVATIONS: readonly Activation[] = ['relu', 'sigmoid', 'tanh', 'lecun_tanh', 'leaky_relu']

/** A registered element-wise activation by name (its spec defaults: leaky_relu's a = 5). */
export const activation = (name: Activation | (string & {})): AnyLayer => {
  elementwiseKernels(name)
  return buildLayer({ type: name })
}

export interface MlpOptions {
  readonly hidden?: readonly number[]
  readonly activation?: Activation
  readonly classes?: number
  readonly init?: InitName
}

export const mlp = (options: MlpOptions = {}): Sequential => {
  const hidden = options.hidden ?? [256, 128]
  const act = options.activation ?? 'relu'
  const init = options.init ?? (act === 'relu' || act === 'leaky_relu' ? 'he' : 'glorot')
  const layers: AnyLayer[] = [flatten()]
  for (const h of hidden) layers.push(dense(h, { init }), activation(act))
  layers.push(dense(options.classes ?? 10, { init: 'glorot' }))
  return sequential(...layers)
}
