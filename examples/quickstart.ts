// The README's example: build a model as a pipeline, run forward and vjp, check the gradient,
// predict.
import * as E from 'fp-ts/lib/Either.js'
import { conv2d, dense, evalCtx, flatten, gradCheck, key, maxPool2d, predictor, relu, sequential, softmaxCrossEntropy, trees, random } from '../src/index.ts'

// A model is a value: a pipeline of layers, itself a Layer.
const model = sequential(conv2d({ kernelSize: 3, filters: 4 }), relu(), maxPool2d({ pool: 2 }), flatten(), dense(10))

// init infers every shape from the per-sample input shape, or returns a Left naming the layer.
const init = model.init(key(42), [8, 8, 1])
if (E.isLeft(init)) throw init.left
const { params, outShape } = init.right
console.log('output shape', outShape) // [ 10 ]: conv 6x6x4 -> pool 3x3x4 -> 36 -> 10

// forward and vjp are pure: parameters and data in; outputs, then gradients, out.
const x = { shape: [2, 8, 8, 1], data: random.uniform(key(1), 2 * 64) }
const labels = [3, 7]
const target = { shape: [2, 10], data: Float32Array.from({ length: 20 }, (_, i) => (i % 10 === labels[Math.floor(i / 10)] ? 1 : 0)) }
const { y, saved } = model.forward(params, x, { training: true, key: key(0) })
const loss = softmaxCrossEntropy()
const l = loss.forward(y, target)
const { dparams } = model.vjp(params, saved, loss.vjp(l.saved))
console.log('loss', l.loss.toFixed(4), 'grad of fc1.W', trees.getLeaf(dparams, 'fc1.W')?.shape) // ~2.3, [ 36, 10 ]

// gradCheck: central finite differences in Float64 against the vjp, per tensor.
const check = gradCheck(model, [8, 8, 1], { batch: 2 })
if (E.isLeft(check)) throw check.left
console.log('worst relative error', check.right.worst.toExponential(1)) // ~1e-9

// Inference: bind the parameters once. Each call is an evaluation forward (the bits of
// model.forward(params, x, evalCtx).y) whose working arrays are reused, not reallocated.
const predict = predictor(model, params)
const same = predict(x).data.every((v, i) => Object.is(v, model.forward(params, x, evalCtx).y.data[i]))
console.log('predictor matches forward', same) // true
