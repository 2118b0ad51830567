// LeNet-5 as in cnn-derivation-lenet (LeCun et al. 1998), with LeCun's scaled tanh
// 1.7159 tanh(0.6666 z) (convnet-notes) as every unit's activation:
//
//   input 28x28x1, padded by 2 on every side to 32x32
//   C1  conv 5x5, 6 maps                          -> 28x28x6      6*25 + 6      =    156
//   S2  trainable subsampling 2x2 (beta, b per map) -> 14x14x6                 2*6 =     12
//   C3  conv 5x5, 16 maps, the 60-connection table  -> 10x10x16   60*25 + 16     =  1,516
//   S4  trainable subsampling 2x2                  -> 5x5x16                  2*16 =     32
//   C5  conv 5x5, 120 maps                         -> 1x1x120   16*25*120 + 120 = 48,120
//   F6  dense 84                                                  120*84 + 84    = 10,164
//   out dense 10 (logits; softmax cross-entropy replaces the RBF output)  84*10+10 = 850
//                                                   effective parameters:         60,850
// C3's kernel is stored dense, [5, 5, 6, 16] (2,400 + 16), with the 36 absent
// connections held at exactly zero (their gradient is zero): 61,750 stored scalars.

import { lecunTanh } from '../activations.ts'
import { conv2d, LENET_C3_TABLE } from '../conv2d.ts'
import { dense } from '../dense.ts'
import { flatten } from '../flatten.ts'
import type { Sequential } from '../sequential.ts'
import { named, sequential } from '../sequential.ts'
import { subsample } from '../subsample.ts'

export const lenet5 = (options: { readonly classes?: number } = {}): Sequential =>
  sequential(
    named('C1', conv2d({ kernelSize: 5, filters: 6, padding: [2, 2, 2, 2], init: 'lecun' })),
    named('C1act', lecunTanh()),
    named('S2', subsample({ pool: 2, activation: 'lecun_tanh' })),
    named('C3', conv2d({ kernelSize: 5, filters: 16, connectionTable: LENET_C3_TABLE, init: 'lecun' })),
    named('C3act', lecunTanh()),
    named('S4', subsample({ pool: 2, activation: 'lecun_tanh' })),
    named('C5', conv2d({ kernelSize: 5, filters: 120, init: 'lecun' })),
    named('C5act', lecunTanh()),
    named('flatten', flatten()),
    named('F6', dense(84, { init: 'lecun' })),
    named('F6act', lecunTanh()),
    named('out', dense(options.classes ?? 10, { init: 'lecun' })),
  )
