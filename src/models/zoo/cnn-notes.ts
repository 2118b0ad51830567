// The two CNN cases of convnet-notes ("A CNN Case"), with the notes' valid
// convolutions and max pooling; the output layer is dense (logits for softmax CE).
//
// cnn1: I-C1-MP1-FC1-O       28x28x1 -> conv 5x5xF1 -> act -> maxpool 2 -> flatten -> dense(classes)
//   default F1 = 16, ReLU: 5*5*16+16 = 416 + 12*12*16*10+10 = 23,050 -> 23,466 parameters
// cnn2: I-C1-MP1-C2-MP2-FC1-O 28x28x1 -> conv 5x5xF1 -> act -> maxpool 2 -> conv 5x5xF2
//       -> act -> maxpool 2 -> flatten -> dense(classes)
//   default F1 = 8, F2 = 16, ReLU: 208 + 3,216 + 4*4*16*10+10 = 2,570 -> 5,994 parameters
// The notes derive them with sigmoid units; `activation: 'sigmoid'` gives exactly that.

import { conv2d } from '../conv2d.ts'
import { dense } from '../dense.ts'
import { flatten } from '../flatten.ts'
import { maxPool2d } from '../pool.ts'
import type { Sequential } from '../sequential.ts'
import { sequential } from '../sequential.ts'
import type { Activation } from './mlp.ts'
import { activation } from './mlp.ts'

export interface NotesCnnOptions {
  readonly filters?: readonly number[]
  readonly kernel?: number
  readonly activation?: Activation
  readonly classes?: number
}

export const cnn1 = (options: NotesCnnOptions = {}): Sequential => {
  const act = options.activation ?? 'relu'
  const k = options.kernel ?? 5
  return sequential(
    conv2d({ kernelSize: k, filters: options.filters?.[0] ?? 16, init: act === 'relu' ? 'he' : 'glorot' }),
    activation(act),
    maxPool2d({ pool: 2 }),
    flatten(),
    dense(options.classes ?? 10),
  )
}

export const cnn2 = (options: NotesCnnOptions = {}): Sequential => {
  const act = options.activation ?? 'relu'
  const k = options.kernel ?? 5
  const init = act === 'relu' ? 'he' : 'glorot'
  return sequential(
    conv2d({ kernelSize: k, filters: options.filters?.[0] ?? 8, init }),
    activation(act),
    maxPool2d({ pool: 2 }),
    conv2d({ kernelSize: k, filters: options.filters?.[1] ?? 16, init }),
    activation(act),
    maxPool2d({ pool: 2 }),
    flatten(),
    dense(options.classes ?? 10),
  )
}
