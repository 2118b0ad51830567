// A TypeScript consumer, typechecked with tsc --module nodenext --strict against the
// package's shipped declarations (test/package/install.test.ts). It must compile without
// errors (bad-consumer.ts, with a type error, must not).
import * as E from 'fp-ts/lib/Either.js'
import type { Observable } from 'rxjs'
import type { CheckpointMeta, Snapshot, Tensor } from 'gradstream'
import { arraySource, dense, hashParams, key, loadCheckpoint, loadMnist, momentum, relu, sequential, softmaxCrossEntropy, train, random } from 'gradstream'
import { checkpoint } from 'gradstream/browser'

const model = sequential(dense(8), relu(), dense(2))
const init = model.init(key(1), [3])
if (E.isRight(init)) {
  const shape: readonly number[] = init.right.outShape
  console.log(shape)
}
const x: Tensor = { shape: [4, 3], data: random.uniform(key(2), 12) }
const run: Observable<Snapshot> = train(model, softmaxCrossEntropy(), momentum(0.1), {
  data: arraySource({ x, labels: Int32Array.from([0, 1, 0, 1]), classes: 2 }, { batchSize: 2 }),
  epochs: 1,
})
run.subscribe((s) => console.log(hashParams(s)))
// Checkpoints on bytes come from the browser-safe entry too.
export const roundTrip = (s: Snapshot, meta: CheckpointMeta): number => {
  const bytes: Uint8Array = checkpoint.encodeCheckpoint(s, meta)
  return checkpoint.decodeCheckpoint(bytes).snapshot.step
}
const digits: number = loadMnist().train.x.shape[0]
const step: number = loadCheckpoint('x.safetensors').snapshot.step
console.log(digits, step)
