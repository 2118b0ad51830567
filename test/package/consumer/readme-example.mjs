// The README's "Use it in your project" example (test/package/install.test.ts runs it).
import { arraySource, dense, hashParams, key, momentum, relu, sequential, softmaxCrossEntropy, train, random } from 'gradstream'
import { lastValueFrom } from 'rxjs'

// 300 points in 2 classes: x ~ N(0, 1)^2, label 1 when x0 * x1 > 0 (XOR-like).
const x = random.normal(key(1), 600)
const labels = Int32Array.from({ length: 300 }, (_, i) => (x[2 * i] * x[2 * i + 1] > 0 ? 1 : 0))
const data = { x: { shape: [300, 2], data: x }, labels, classes: 2 }

const model = sequential(dense(16), relu(), dense(2))
const last = await lastValueFrom(
  train(model, softmaxCrossEntropy(), momentum(0.1), { data: arraySource(data, { batchSize: 20 }), epochs: 30, seed: 0 }),
)
console.log(`step ${last.step}, loss ${last.metrics.loss.toFixed(3)}, accuracy ${last.metrics.accuracy}, params ${hashParams(last).slice(0, 12)}`)
