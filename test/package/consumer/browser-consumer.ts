// A browser TypeScript consumer: typechecked with the DOM library and no Node types
// (tsconfig.browser.json) against the declarations of 'gradstream/browser', the entry a
// browser bundle gets. Nothing in them may need @types/node (install.test.ts checks).
import { arraySource, checkpoint, dense, hashParams, key, momentum, random, relu, sequential, softmaxCrossEntropy, train } from 'gradstream/browser'

const model = sequential(dense(4), relu(), dense(2))
const data = arraySource({ x: { shape: [2, 3], data: random.uniform(key(0), 6) }, labels: Int32Array.from([0, 1]), classes: 2 }, { batchSize: 1 })
train(model, softmaxCrossEntropy(), momentum(0.1), { data }).subscribe((s) => {
  document.title = hashParams(s)
})
export const stepOf = (bytes: Uint8Array): number => checkpoint.decodeCheckpoint(bytes).snapshot.step
