// The worst gradCheck error per layer kind over several shapes each (issue 2's note):
//   npx tsx bench/gradcheck-report.ts
// Central differences in Float64 (eps 1e-6) against each layer's vjp, for the input and
// every parameter; the figure is max |numeric - analytic| / max(|numeric|, |analytic|).

import * as E from 'fp-ts/lib/Either.js'
import {
  avgPool2d, conv1d, conv2d, dense, flatten, gradCheck, LENET_C3_TABLE, leakyRelu, lecunTanh, maxPool2d, prelu, relu,
  rrelu, sequential, sigmoid, softmax, subsample, tanh, tiedAutoencoder,
} from '../src/node.ts'
import type { AnyLayer, Shape } from '../src/node.ts'

const cases: Array<[string, () => AnyLayer, Shape[]]> = [
  ['dense', () => dense(7), [[5], [13], [1]]],
  ['sigmoid', sigmoid, [[7], [3, 4]]],
  ['tanh', tanh, [[7], [3, 4]]],
  ['lecun_tanh', lecunTanh, [[7], [3, 4]]],
  ['relu', relu, [[7], [3, 4]]],
  ['leaky_relu', () => leakyRelu(5), [[7], [3, 4]]],
  ['prelu', () => prelu(), [[7], [3, 3, 4]]],
  ['rrelu (training)', () => rrelu(), [[7], [3, 4]]],
  ['softmax', softmax, [[5], [2, 6]]],
  ['flatten', flatten, [[3, 4, 2]]],
  ['conv1d', () => conv1d({ kernelSize: 3, filters: 4, stride: 2 }), [[9, 3], [13, 2]]],
  ['conv2d valid', () => conv2d({ kernelSize: [3, 2], filters: 4 }), [[6, 5, 3]]],
  ['conv2d same stride 2', () => conv2d({ kernelSize: 3, filters: 3, stride: 2, padding: 'same' }), [[7, 8, 2]]],
  ['conv2d explicit pad, stride 2x1', () => conv2d({ kernelSize: [3, 2], filters: 3, stride: [2, 1], padding: [2, 1, 0, 1] }), [[8, 6, 2]]],
  ['conv2d flip', () => conv2d({ kernelSize: [3, 2], filters: 3, stride: [2, 1], flip: true }), [[7, 6, 2]]],
  ['conv2d LeNet C3 table', () => conv2d({ kernelSize: 5, filters: 16, connectionTable: LENET_C3_TABLE }), [[9, 8, 6]]],
  ['maxpool 2x2', () => maxPool2d({ pool: 2 }), [[6, 4, 3]]],
  ['maxpool 3x3 stride 2 (overlapping)', () => maxPool2d({ pool: 3, stride: 2 }), [[7, 9, 2]]],
  ['avgpool 3x3 stride 2', () => avgPool2d({ pool: 3, stride: 2 }), [[7, 5, 2]]],
  ['subsample (LeNet, sigmoid)', () => subsample({ pool: 2 }), [[8, 6, 3]]],
  ['subsample (LeNet, lecun_tanh)', () => subsample({ pool: 2, activation: 'lecun_tanh' }), [[8, 6, 3]]],
  ['tied autoencoder (denoising)', () => tiedAutoencoder({ hidden: 5, corruption: 0.3 }), [[8]]],
  [
    'sequential conv-relu-pool-flatten-dense',
    () => sequential(conv2d({ kernelSize: 3, filters: 4 }), relu(), maxPool2d({ pool: 2 }), flatten(), dense(5)),
    [[8, 8, 1]],
  ],
]

for (const [name, make, shapes] of cases) {
  let worst = 0
  let checked = 0
  for (const [i, shape] of shapes.entries()) {
    const r = gradCheck(make(), shape, { batch: 3, seed: i + 1 })
    if (E.isLeft(r)) throw r.left
    worst = Math.max(worst, r.right.worst)
    checked += r.right.checked
  }
  console.log(`${name.padEnd(42)} worst ${worst.toExponential(1)}  (${checked} derivatives, ${shapes.length} shape${shapes.length > 1 ? 's' : ''})`)
}
