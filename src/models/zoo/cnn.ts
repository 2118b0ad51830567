// The 4-layer network of cnn-layers-softmax (sec. 4.2; WORKLOADS.md W3):
// 28x28x1 -> conv 5x5x8 valid -> ReLU -> maxpool 2x2/2 -> conv 5x5x16 valid -> ReLU
// -> maxpool 2x2/2 -> flatten (4*4*16 = 256) -> dense 120 -> ReLU -> dense 10 (logits).
//
// Parameters: 5*5*1*8+8 = 208, 5*5*8*16+16 = 3,216, 256*120+120 = 30,840,
// 120*10+10 = 1,210: 35,474 in all.

import { relu } from '../activations.ts'
import { conv2d } from '../conv2d.ts'
import { dense } from '../dense.ts'
import { flatten } from '../flatten.ts'
import { maxPool2d } from '../pool.ts'
import type { Sequential } from '../sequential.ts'
import { sequential } from '../sequential.ts'

export interface CnnOptions {
  readonly filters?: readonly [number, number]
  readonly hidden?: number
  readonly classes?: number
}

export const cnn = (options: CnnOptions = {}): Sequential => {
  const [f1, f2] = options.filters ?? [8, 16]
  return sequential(
    conv2d({ kernelSize: 5, filters: f1 }),
    relu(),
    maxPool2d({ pool: 2 }),
    conv2d({ kernelSize: 5, filters: f2 }),
    relu(),
    maxPool2d({ pool: 2 }),
    flatten(),
    dense(options.hidden ?? 120),
    relu(),
    dense(options.classes ?? 10),
  )
}
