// A small residual network for 28x28x1 digits (He et al. 2016's blocks, with batch norm
// and dropout), made only of registered layers:
//
//   stem     conv 3x3 same, w1 -> batch norm -> ReLU -> maxpool 2x2      28x28 -> 14x14
//   block 1  residual(conv 3x3 w1 -> BN -> ReLU -> conv 3x3 w1 -> BN) -> ReLU   14x14
//   block 2  residual(conv 3x3 /2 w2 -> BN -> ReLU -> conv 3x3 w2 -> BN,
//                     projection: conv 1x1 /2 w2) -> ReLU                     14x14 -> 7x7
//   head     global average pool -> dropout -> dense(classes)  (logits)
//
// Default widths [16, 32]: 160 + 2x2,320 + 4,640 + 9,248 + 544 + 4x(2w) BN + 330 parameters.

import { relu } from '../activations.ts'
import { batchNorm } from '../batch-norm.ts'
import { conv2d } from '../conv2d.ts'
import { dense } from '../dense.ts'
import { dropout } from '../dropout.ts'
import { globalAvgPool2d } from '../global-pool.ts'
import { maxPool2d } from '../pool.ts'
import { residual } from '../residual.ts'
import type { Sequential } from '../sequential.ts'
import { sequential } from '../sequential.ts'

export interface ResnetOptions {
  /** Channels of the stem and first block, and of the second block (default [16, 32]). */
  readonly widths?: readonly [number, number]
  /** Dropout rate before the classifier (default 0.2). */
  readonly dropout?: number
  readonly classes?: number
}

const conv = (filters: number, kernelSize: number, stride = 1) =>
  conv2d({ kernelSize, filters, stride, padding: 'same', init: 'he' })

const block = (filters: number, stride: number): Sequential =>
  sequential(conv(filters, 3, stride), batchNorm(), relu(), conv(filters, 3), batchNorm())

export const resnet = (options: ResnetOptions = {}): Sequential => {
  const [w1, w2] = options.widths ?? [16, 32]
  return sequential(
    conv(w1, 3),
    batchNorm(),
    relu(),
    maxPool2d({ pool: 2 }),
    residual(block(w1, 1)),
    relu(),
    residual(block(w2, 2), { projection: conv(w2, 1, 2) }),
    relu(),
    globalAvgPool2d(),
    dropout(options.dropout ?? 0.2),
    dense(options.classes ?? 10),
  )
}
