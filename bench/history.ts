// Time-travel and checkpoint figures (issue 4's note), reproducible:
//   npx tsx --expose-gc bench/history.ts [--steps 2000]
// - at(step) on a LeNet-5 run (batch 32, momentum 0.9, shifts) for K = 10, 100, 1000: the
//   cheapest case (1 step replayed), half-way (K/2) and the worst case (K - 1);
// - history memory for 10,000 steps (computed from one snapshot's bytes: the history keeps
//   steps / K + 1 of them);
// - checkpoint save (with fsync) and load (with every check) time and file size for
//   LeNet-5 and the MLP 784-256-128-10.

import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { arraySource, hashParams, loadCheckpoint, loadMnist, momentum, saveCheckpoint, softmaxCrossEntropy, supervised, trainWithHistory, zoo, training } from '../src/node.ts'
import type { AnyObjective, RunDefinition, Snapshot } from '../src/node.ts'
import { snapshotBytes } from '../src/streams/history.ts'

const { values } = parseArgs({ options: { steps: { type: 'string' } } })
const steps = Number(values.steps ?? 2000)
const { train } = loadMnist()
const source = arraySource(train, { batchSize: 32 })

const runOf = (objective: AnyObjective, epochs: number): RunDefinition => ({
  objective,
  optimizer: momentum(0.02, { momentum: 0.9 }),
  config: { data: source, epochs, seed: 1, augment: [(k) => training.randomShift(2, k)] },
})

const ms = (f: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now()
  return f().then(() => performance.now() - t0)
}

const lenet = supervised(zoo.lenet5(), softmaxCrossEntropy(), [28, 28, 1]) as AnyObjective
const epochs = Math.ceil(steps / source.batchesPerEpoch!)
console.log(`LeNet-5 run: ${steps} steps wanted (${epochs} epochs of ${source.batchesPerEpoch} batches)`)

let reference: Map<number, string> | undefined
for (const K of [10, 100, 1000]) {
  const t0 = performance.now()
  const h = await trainWithHistory(runOf(lenet, epochs), { every: K })
  const trainSec = (performance.now() - t0) / 1000
  const perStep = (trainSec * 1000) / h.lastStep
  const probe = [K + 1, K + Math.floor(K / 2), 2 * K - 1].filter((s) => s <= h.lastStep)
  const times: string[] = []
  const hashes = new Map<number, string>()
  for (const s of probe) {
    let snap: Snapshot | undefined
    const t = await ms(async () => {
      snap = await h.at(s)
    })
    hashes.set(s, hashParams(snap!))
    times.push(`step ${s} (${s - h.nearest(s).step} replayed) ${t.toFixed(0)} ms`)
  }
  // Every K checks its answers against the K = 10 history (bit-identical replays).
  if (reference === undefined) reference = new Map()
  for (const [s, hash] of hashes) {
    const want = reference.get(s)
    if (want === undefined) reference.set(s, hash)
    else if (want !== hash) throw new Error(`at(${s}) differs between histories`)
  }
  const one = snapshotBytes(h.latest)
  console.log(
    `K=${K}: trained ${h.lastStep} steps in ${trainSec.toFixed(1)} s (${perStep.toFixed(1)} ms/step); at(): ${times.join('; ')}; ` +
      `kept ${h.checkpoints.length} snapshots, ${(h.bytes / 1e6).toFixed(1)} MB; for 10,000 steps: ${Math.floor(10000 / K) + 1} x ${(one / 1e3).toFixed(0)} kB = ${(((Math.floor(10000 / K) + 1) * one) / 1e6).toFixed(1)} MB`,
  )
}

const dir = mkdtempSync(join(tmpdir(), 'gs-ckpt-'))
for (const [name, objective] of [
  ['LeNet-5', lenet],
  ['MLP 784-256-128-10', supervised(zoo.mlp({ hidden: [256, 128] }), softmaxCrossEntropy(), [28, 28, 1]) as AnyObjective],
] as const) {
  const h = await trainWithHistory(runOf(objective, 1), { every: 10 })
  const s = h.latest
  const file = join(dir, `${name.replace(/\W+/g, '-')}.safetensors`)
  const meta = { model: objective.spec, optimizer: runOf(objective, 1).optimizer.spec }
  const saves: number[] = []
  const loads: number[] = []
  for (let r = 0; r < 7; r++) {
    saves.push(await ms(async () => saveCheckpoint(file, s, meta)))
    loads.push(await ms(async () => loadCheckpoint(file)))
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[3].toFixed(1)
  const back = loadCheckpoint(file)
  if (hashParams(back.snapshot) !== hashParams(s)) throw new Error('checkpoint round trip changed the parameters')
  console.log(`${name}: checkpoint ${statSync(file).size.toLocaleString('en-US')} bytes; save ${med(saves)} ms (fsync included), load ${med(loads)} ms (median of 7); round trip bit-identical`)
}
rmSync(dir, { recursive: true, force: true })
console.log(`load average at the end: ${loadavg().map((v) => v.toFixed(2)).join(' / ')}`)
