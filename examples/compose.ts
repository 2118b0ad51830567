// Build a model as a pipeline of layers, inspect its shapes and parameter counts, and run
// forward and vjp by hand.
//
//   npx tsx examples/compose.ts
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { conv2d, dense, evalCtx, flatten, key, maxPool2d, named, relu, sequential, softmaxCrossEntropy, trees, zoo, registry, random } from '../src/index.ts'
import type { AnyLayer, Shape } from '../src/index.ts'

// 1. Layers compose as values. Names are given (named) or made per kind (conv1, relu1, ...).
const features = sequential(conv2d({ kernelSize: 5, filters: 8 }), relu(), maxPool2d({ pool: 2 }))
const model = sequential(named('features', features), flatten(), dense(64), relu(), named('head', dense(10)))

// 2. Shape inference, layer by layer, before anything runs.
const describe = (layer: AnyLayer, inShape: Shape, indent = ''): Shape => {
  const children = 'children' in layer ? (layer.children as readonly { name: string; layer: AnyLayer }[]) : []
  let shape = inShape
  for (const { name, layer: child } of children) {
    const out = pipe(registry.outShapeOf(child, shape), E.getOrElseW((e) => { throw e }))
    console.log(`${indent}${name.padEnd(10)} ${child.spec.type.padEnd(10)} [${shape.join(', ')}] -> [${out.join(', ')}]`)
    if ('children' in child) describe(child, shape, indent + '  ')
    shape = out
  }
  return shape
}
describe(model, [28, 28, 1])

// 3. Parameters are a tree shaped like the model; gradients have the same shape.
const init = model.init(key(0), [28, 28, 1])
if (E.isLeft(init)) throw init.left
const { params } = init.right
for (const [path, t] of trees.leaves(params)) console.log(`  ${path.padEnd(22)} [${t.shape.join(', ')}]`)
console.log('parameters:', trees.countParams(params))

// 4. forward and vjp by hand on a batch of two random images.
const [kx] = random.split(key(1), 1)
const x = { shape: [2, 28, 28, 1], data: random.uniform(kx, 2 * 784) }
const { y, saved } = model.forward(params, x, evalCtx)
const loss = softmaxCrossEntropy()
const target = { shape: [2, 10], data: Float32Array.from({ length: 20 }, (_, i) => (i === 3 || i === 17 ? 1 : 0)) }
const l = loss.forward(y, target)
const { dparams, dx } = model.vjp(params, saved, loss.vjp(l.saved))
console.log('logits', y.shape, 'loss', l.loss.toFixed(4))
console.log('gradient tensors:', trees.leaves(dparams).map(([p]) => p).join(', '), '| dx', dx.shape)

// 5. A bad model is a Left naming the layer, before any data flows.
const bad = sequential(conv2d({ kernelSize: 7, filters: 4 }), maxPool2d({ pool: 2 }), conv2d({ kernelSize: 5, filters: 4 }))
const err = bad.init(key(0), [12, 12, 1])
console.log('bad model:', E.isLeft(err) ? err.left.message : 'unexpectedly fine')

// 6. The zoo's LeNet-5 is the same kind of value.
const lenet = zoo.lenet5()
const li = lenet.init(key(0), [28, 28, 1])
if (E.isRight(li)) console.log('lenet5 stored parameters:', trees.countParams(li.right.params))
