import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { lastValueFrom, map, toArray } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dense } from '../../src/models/dense.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import { adam, momentum, sgd } from '../../src/models/optimizers.ts'
import { rrelu } from '../../src/models/rrelu.ts'
import { sequential } from '../../src/models/sequential.ts'
import type { History, RunDefinition } from '../../src/streams/history.ts'
import { diffSnapshots, recordHistory, snapshotBytes, trainRun, trainWithHistory } from '../../src/streams/history.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import type { BatchSource } from '../../src/streams/source.ts'
import { arraySource } from '../../src/streams/source.ts'
import { blobs } from '../helpers.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const tmp = mkdtempSync(join(tmpdir(), 'gs-history-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

// The determinism run, as a module both this process and a child process import: a
// small CNN with RReLU noise, shuffled every epoch, randomly shifted (augmentation).
const RUN_MODULE = `
import { arraySource, conv2d, dense, flatten, hashParams, key, momentum, random, rrelu, sequential,
  softmaxCrossEntropy, supervised, trainObjective, training } from ${JSON.stringify(pathToFileURL(join(root, 'src', 'index.ts')).href)}
export const STEPS = [1, 2, 7, 20, 33, 45]
export const hashesAt = async () => {
  const N = 60
  const x = random.uniform(key(5), N * 8 * 8 * 1)
  const labels = Int32Array.from({ length: N }, (_, i) => (i * 7) % 3)
  const net = sequential(conv2d({ kernelSize: 3, filters: 4 }), rrelu(), flatten(), dense(3))
  const objective = supervised(net, softmaxCrossEntropy(), [8, 8, 1])
  const hashes = {}
  await new Promise((done, fail) => trainObjective(objective, momentum(0.05), {
    data: arraySource({ x: { shape: [N, 8, 8, 1], data: x }, labels, classes: 3 }, { batchSize: 8 }),
    epochs: 6, seed: 123, augment: [(k) => training.randomShift(2, k)],
  }).subscribe({ next: (s) => { if (STEPS.includes(s.step)) hashes[s.step] = hashParams(s) }, error: fail, complete: done }))
  return hashes
}
`

describe('determinism', () => {
  beforeAll(() => {
    writeFileSync(join(tmp, 'run.mts'), RUN_MODULE)
    writeFileSync(join(tmp, 'child.mts'), `import { hashesAt } from './run.mts'\nconsole.log(JSON.stringify(await hashesAt()))\n`)
  })

  it('bit-identical parameters at every sampled step: twice in this process and once in another (RReLU, shuffling, shifts)', async () => {
    const mod = (await import(pathToFileURL(join(tmp, 'run.mts')).href)) as { STEPS: number[]; hashesAt: () => Promise<Record<string, string>> }
    const a = await mod.hashesAt()
    const b = await mod.hashesAt()
    const other = JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', join(tmp, 'child.mts')], { cwd: root, encoding: 'utf8' }),
    ) as Record<string, string>
    expect(Object.keys(a).map(Number)).toEqual(mod.STEPS)
    expect(new Set(Object.values(a)).size).toBe(mod.STEPS.length)
    expect(b).toEqual(a)
    expect(other).toEqual(a)
  })
})

// ---------------------------------------------------------------------------------------

const data = blobs(50, 3, 4, 9) // 150 samples
const objective = (): AnyObjective => supervised(sequential(dense(12), rrelu(), dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective

/** A source that counts the batches pulled from it. */
const counting = (batchSize: number): { source: BatchSource; pulled: () => number } => {
  const src = arraySource(data, { batchSize })
  let n = 0
  return {
    pulled: () => n,
    source: {
      ...src,
      *epoch(e, k, from) {
        for (const b of src.epoch(e, k, from) as Iterable<never>) {
          n++
          yield b
        }
      },
    },
  }
}

const makeRun = (source: BatchSource, epochs = 4): RunDefinition => ({
  objective: objective(),
  optimizer: momentum({ type: 'cosine', lr: 0.1, steps: 60 }),
  config: { data: source, epochs, seed: 3 },
  batching: { batchSize: 10, source: (b) => arraySource(data, { batchSize: b }) },
})

describe('history: at(step)', () => {
  let all: History
  let every7: History
  let pulls: () => number
  beforeAll(async () => {
    all = await trainWithHistory(makeRun(arraySource(data, { batchSize: 10 })), { every: 'all' })
    const c = counting(10)
    pulls = c.pulled
    every7 = await trainWithHistory(makeRun(c.source), { every: 7 })
  })

  it('keeps (steps / K + 1) snapshots: memory bounded by the checkpoint count', () => {
    expect(all.lastStep).toBe(60) // 15 batches x 4 epochs
    expect(all.checkpoints.length).toBe(61)
    expect(every7.checkpoints.map((s) => s.step)).toEqual([0, 7, 14, 21, 28, 35, 42, 49, 56])
    const per = snapshotBytes(every7.latest)
    expect(per).toBe(2 * 4 * (4 * 12 + 12 + 12 * 3 + 3)) // parameters + momentum velocity, float32
    expect(every7.bytes).toBe(9 * per)
    expect(all.bytes).toBe(61 * per)
  })

  it('gives the exact snapshot of the live run at every step, bit for bit, replaying at most K - 1 steps', async () => {
    for (let step = 0; step <= 60; step++) {
      const before = pulls()
      const s = await every7.at(step)
      expect(pulls() - before, `step ${step}`).toBeLessThanOrEqual(6)
      const live = all.checkpoints[step]
      expect(s.step).toBe(step)
      expect(hashParams(s), `step ${step}`).toBe(hashParams(live))
      expect(s.metrics.loss).toBe(live.metrics.loss)
      expect([s.epoch, s.position, s.seen, s.opt.step]).toEqual([live.epoch, live.position, live.seen, live.opt.step])
    }
    expect(every7.loss(13)).toBe(all.checkpoints[13].metrics.loss)
    expect(every7.lr(13)).toBe(all.checkpoints[13].lr)
    expect(every7.nearest(13).step).toBe(7)
  })

  it('refuses steps outside the history', async () => {
    await expect(every7.at(61)).rejects.toThrow(/history.at: step 61 is outside the history \(steps 0 to 60\)/)
    await expect(every7.at(-1)).rejects.toThrow(/expected a step \(an integer >= 0\), got -1/)
    await expect(every7.at(2.5)).rejects.toThrow(/got 2.5/)
  })

  it('emits an immutable History per step; one taken mid-run stays as it was', async () => {
    const run = makeRun(arraySource(data, { batchSize: 10 }), 2)
    const hs = await lastValueFrom(trainRun(run).pipe(recordHistory(run, { every: 5 }), toArray()))
    expect(hs.map((h) => h.lastStep)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    const mid = hs[11]
    expect(Object.isFrozen(mid)).toBe(true)
    expect(mid.checkpoints.map((s) => s.step)).toEqual([0, 5, 10])
    expect(hs[29].checkpoints.map((s) => s.step)).toEqual([0, 5, 10, 15, 20, 25, 30])
    await expect(mid.at(13)).rejects.toThrow(/outside the history \(steps 0 to 12\)/)
    expect(hashParams(await mid.at(12))).toBe(hashParams(await hs[29].at(12)))
  })

  it('diff: per-tensor L2 norms of the change and of the parameters', async () => {
    const d = await every7.diff(10, 20)
    const [a, b] = [all.checkpoints[10], all.checkpoints[20]]
    expect(d.map((t) => t.name)).toEqual(['fc1.W', 'fc1.b', 'fc2.W', 'fc2.b'])
    const off = a.layout.offsets[2]
    let dd = 0
    let bb = 0
    for (let j = off; j < off + 36; j++) {
      dd += (b.flat[j] - a.flat[j]) ** 2
      bb += b.flat[j] ** 2
    }
    expect(d[2].change).toBeCloseTo(Math.sqrt(dd), 12)
    expect(d[2].normB).toBeCloseTo(Math.sqrt(bb), 12)
    expect(d.every((t) => t.change > 0)).toBe(true)
    expect((await every7.diff(13, 13)).every((t) => t.change === 0 && t.normA === t.normB)).toBe(true)
    expect(diffSnapshots(a, b)).toEqual(d)
  })
})

describe('history: fork(step, changes)', () => {
  const finalHash = async (run: RunDefinition): Promise<{ hashes: string[]; losses: number[] }> => {
    const snaps = await lastValueFrom(trainRun(run).pipe(toArray()))
    return { hashes: snaps.map(hashParams), losses: snaps.map((s) => s.metrics.loss) }
  }
  let h: History
  beforeAll(async () => {
    h = await trainWithHistory(makeRun(arraySource(data, { batchSize: 10 })), { every: 10 })
  })

  it('a fork without changes continues exactly as the original did', async () => {
    const fork = await h.fork(23)
    const cont = await finalHash(fork)
    const originals = await Promise.all(Array.from({ length: 37 }, (_, i) => h.at(24 + i)))
    expect(cont.hashes).toEqual(originals.map(hashParams))
  })

  it('two forks with the same changes are bit-identical; the original history is untouched', async () => {
    const before = { last: h.lastStep, kept: h.checkpoints.map(hashParams), at30: hashParams(await h.at(30)) }
    const [f1, f2] = await Promise.all([h.fork(23, { lr: 0.01 }), h.fork(23, { lr: 0.01 })])
    expect(f1.optimizer.spec.lr).toEqual({ type: 'cosine', lr: 0.01, steps: 60 }) // the schedule keeps its shape
    const [r1, r2] = await Promise.all([finalHash(f1), finalHash(f2)])
    expect(r1.hashes.length).toBe(37)
    expect(r2.hashes).toEqual(r1.hashes)
    expect(r2.losses).toEqual(r1.losses)
    expect(r1.hashes[36]).not.toBe(hashParams(h.latest))
    expect({ last: h.lastStep, kept: h.checkpoints.map(hashParams), at30: hashParams(await h.at(30)) }).toEqual(before)
  })

  it('the smaller learning rate moves the parameters less', async () => {
    const slow = await trainWithHistory(await h.fork(20, { lr: 0.001 }), { every: 'all' })
    const fast = await trainWithHistory(await h.fork(20, { lr: 0.5 }), { every: 'all' })
    const moved = async (x: History) => (await x.diff(20, 60)).reduce((a, t) => a + t.change, 0)
    expect(await moved(slow)).toBeLessThan((await moved(fast)) / 5)
  })

  it('a new optimizer type starts from fresh state; more epochs run longer', async () => {
    const f = await h.fork(23, { optimizer: adam(0.01), epochs: 6 })
    const s0 = f.config.initial!
    expect(s0.opt.step).toBe(0)
    expect(Object.keys(s0.opt.slots)).toEqual(['m', 'v'])
    expect(hashParams(s0)).toBe(hashParams(await h.at(23)))
    const r = await finalHash(f)
    expect(r.hashes.length).toBe(90 - 23)
    const same = await h.fork(23, { optimizer: sgd(0.2) })
    expect(same.config.initial!.opt).toEqual({ step: 0, slots: {} })
  })

  it('a new batch size keeps the epoch order and continues at the first batch not yet covered', async () => {
    // Step 23 = epoch 1, batch 8 of 15: 80 of 150 samples used. With batches of 20 the
    // epoch continues at batch ceil(80 / 20) = 4 (samples 80..99), 8 batches per epoch.
    const f = await h.fork(23, { batchSize: 20 })
    expect(f.config.initial).toMatchObject({ step: 23, epoch: 1, position: 4, endOfEpoch: false })
    const snaps = await lastValueFrom(trainRun(f).pipe(map((s) => [s.epoch, s.position, s.metrics.samples]), toArray()))
    expect(snaps[0]).toEqual([1, 5, 20])
    expect(snaps.length).toBe(4 + 2 * 8) // the rest of epoch 1, then epochs 2 and 3
    expect(snaps[3]).toEqual([1, 8, 10]) // the last batch of the epoch holds the remaining 10
    // 70 of 150 used, batches of 20: 70 / 20 -> batch 4 (samples 80..), skipping 10.
    const g = await h.fork(22, { batchSize: 20 })
    expect(g.config.initial!.position).toBe(4)
    // At an epoch's end the fork starts the next epoch.
    const e = await h.fork(30, { batchSize: 20 })
    expect(e.config.initial).toMatchObject({ position: 8, endOfEpoch: true })
    const first = await lastValueFrom(trainRun(e).pipe(toArray()))
    expect(first[0]).toMatchObject({ epoch: 2, position: 1 })
  })

  it('a fork is a run like any other: its own history replays exactly', async () => {
    const fh = await trainWithHistory(await h.fork(23, { lr: 0.02 }), { every: 5 })
    expect(fh.firstStep).toBe(23)
    expect(fh.checkpoints.map((s) => s.step)).toEqual([23, 25, 30, 35, 40, 45, 50, 55, 60])
    const keepAll = await trainWithHistory(await h.fork(23, { lr: 0.02 }), { every: 'all' })
    for (const step of [23, 24, 29, 33, 59, 60]) expect(hashParams(await fh.at(step))).toBe(hashParams(keepAll.checkpoints[step - 23]))
    await expect(fh.at(22)).rejects.toThrow(/outside the history \(steps 23 to 60\)/)
  })
})
