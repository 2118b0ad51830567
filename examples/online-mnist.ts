// Online learning on a stream of digits, with concept drift.
//
// The 8,000 training digits arrive one at a time in a fixed order; each is predicted
// with the current parameters, scored, then learned from (prequential evaluation). Half
// way through, the meaning of the labels changes (every digit gets another digit's
// label): the windowed accuracy collapses, then recovers as the model relearns.
//
//   npx tsx examples/online-mnist.ts            (ONLINE_MNIST_SAMPLES=2000 for a short run)

import { lastValueFrom, toArray } from 'rxjs'
import type { AnyObjective, OnlineExample } from '../src/node.ts'
import { key, loadMnist, online, sgd, softmaxCrossEntropy, supervised, datasets, zoo, streaming, random } from '../src/node.ts'

const N = Number(process.env.ONLINE_MNIST_SAMPLES ?? 8000)
const WINDOW = Math.min(250, N / 8)
const train = datasets.flattenImages(loadMnist().train)
const order = random.permutation(key(0), 8000).subarray(0, N) // the fixed order of WORKLOADS.md (W4)
const labels = train.labels!
// After the drift, digit d is labelled drift[d]: a seeded permutation of 0..9.
const drift = random.permutation(key(1), 10)

const stream = (withDrift: boolean): OnlineExample[] =>
  Array.from(order, (i, t) => ({
    features: train.x.data.subarray(i * 784, (i + 1) * 784),
    label: withDrift && t >= N / 2 ? drift[labels[i]] : labels[i],
  }))

// MLP 784-64-10, ReLU, Glorot, SGD lr 0.01, batch 1: the W4 benchmark model.
const objective = supervised(zoo.mlp({ hidden: [64], init: 'glorot' }), softmaxCrossEntropy(), [784]) as AnyObjective

const run = (withDrift: boolean) =>
  lastValueFrom(online(objective, sgd(0.01), stream(withDrift), { window: WINDOW, snapshotEvery: WINDOW, seed: 0 }).pipe(streaming.onlineSnapshots(), toArray()))

const t0 = performance.now()
const plain = await run(false)
const seconds = (performance.now() - t0) / 1000
const end = plain[plain.length - 1]
console.log(
  `no drift: prequential accuracy ${end.metrics.accuracy.toFixed(4)} over ${N} digits ` +
    `(784-64-10, SGD 0.01, batch 1), ${Math.round(N / seconds).toLocaleString('en-US')} updates/s`,
)

const events = await run(true)
console.log(`drift after ${N / 2} digits: digit d is now labelled [${Array.from(drift).join(', ')}][d]`)
console.log(`  examples  window accuracy (last ${WINDOW})`)
for (const e of events.filter((e) => !e.final)) {
  const m = e.metrics
  const bar = '#'.repeat(Math.round(40 * m.windowAccuracy))
  console.log(`  ${String(m.examples).padStart(8)}  ${m.windowAccuracy.toFixed(3)} ${bar}${m.examples === N / 2 ? '   <- drift' : ''}`)
}
const at = (n: number) => events.find((e) => e.metrics.examples === n)!.metrics.windowAccuracy
const before = at(N / 2)
const after = at(N / 2 + WINDOW)
const last = events[events.length - 1].metrics.windowAccuracy
console.log(
  `window accuracy before the drift ${before.toFixed(3)}, right after it ${after.toFixed(3)}, at the end ${last.toFixed(3)}`,
)
