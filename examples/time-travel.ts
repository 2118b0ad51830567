// Time travel: train while recording a history (one snapshot every K steps), jump back to
// a past step (replayed bit for bit from the nearest kept snapshot), fork the run there
// with a lower learning rate, and compare the two branches side by side.
//
//   npx tsx examples/time-travel.ts                                (an MLP on 8,000 digits, 3 epochs)
//   EPOCHS=2 TRAIN_SAMPLES=640 EVERY=5 npx tsx examples/time-travel.ts   (a quick look)
import { arraySource, hashParams, loadMnist, momentum, softmaxCrossEntropy, supervised, trainWithHistory, timeTravel, datasets, training, zoo } from '../src/node.ts'
import type { AnyObjective, RunDefinition } from '../src/node.ts'

const epochs = Number(process.env.EPOCHS ?? 3)
const limit = Number(process.env.TRAIN_SAMPLES ?? 8000)
const every = Number(process.env.EVERY ?? 50)

// Data: an evenly spread subset of the train split (sorted by digit), as 784-vectors.
const digits = datasets.flattenImages(loadMnist().train)
const stride = Math.floor(8000 / limit)
const { x, labels } = training.gather(digits, Int32Array.from({ length: limit }, (_, i) => i * stride), 0, 0)
const data = { x, labels, classes: 10 }

// A run is a value: objective, optimizer and training config (the seed fixes every draw).
const batchSize = 64
const source = arraySource(data, { batchSize })
const steps = epochs * source.batchesPerEpoch!
const run: RunDefinition = {
  objective: supervised(zoo.mlp({ hidden: [64] }), softmaxCrossEntropy(), [784]) as AnyObjective,
  optimizer: momentum({ type: 'cosine', lr: 0.1, steps }),
  config: { data: source, epochs, seed: 7 },
}

// 1. Train, keeping one snapshot every `every` steps (and the per-step losses).
const history = await trainWithHistory(run, { every })
console.log(
  `trained ${history.lastStep} steps; kept ${history.checkpoints.length} snapshots ` +
    `(${(history.bytes / 1024).toFixed(0)} KiB) instead of ${history.lastStep + 1}`,
)

// 2. Jump back: the snapshot at a step between two kept ones, replayed from the nearest.
const back = Math.floor((history.lastStep * 0.4) / every) * every + Math.max(1, Math.floor(every / 2))
const past = await history.at(back)
console.log(
  `loss at step ${back}: ${past.metrics.loss.toFixed(4)} (replayed from step ${history.nearest(back).step}; ` +
    `the live run logged ${history.loss(back).toFixed(4)}: ${past.metrics.loss === history.loss(back) ? 'identical' : 'DIFFERENT'})`,
)
console.log(`parameter hash at step ${back}: ${hashParams(past).slice(0, 16)}...`)

// 3. Fork there with a ten times lower learning rate; the original history is untouched.
const forked = await trainWithHistory(await history.fork(back, { lr: 0.01 }), { every })

// 4. The two branches side by side (mean loss over windows of the same steps).
const window = Math.max(1, Math.floor((history.lastStep - back) / 8))
const mean = (loss: (s: number) => number, from: number, to: number): number => {
  let sum = 0
  for (let s = from; s <= to; s++) sum += loss(s)
  return sum / (to - from + 1)
}
console.log('')
console.log(`steps          original (lr 0.1)   fork (lr 0.01)`)
for (let from = back + 1; from <= history.lastStep; from += window) {
  const to = Math.min(history.lastStep, from + window - 1)
  const a = mean(history.loss, from, to)
  const b = mean(forked.loss, from, to)
  console.log(`${`${from}-${to}`.padEnd(14)} ${a.toFixed(4).padStart(17)}   ${b.toFixed(4).padStart(14)}`)
}
const tail = history.lastStep - Math.max(1, Math.floor((history.lastStep - back) / 4)) + 1
console.log('')
console.log(
  `final ${history.lastStep - tail + 1} steps: original ${mean(history.loss, tail, history.lastStep).toFixed(4)}, ` +
    `fork ${mean(forked.loss, tail, forked.lastStep).toFixed(4)}`,
)
const apart = timeTravel.diffSnapshots(history.latest, forked.latest).reduce((a, t) => a + t.change * t.change, 0)
console.log(`the branches end ${Math.sqrt(apart).toFixed(4)} apart (L2 over all parameters)`)
