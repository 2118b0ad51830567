// The convolutional models on a CSV of 784 pixel columns (MNIST as a table, intensities
// 0..255): read as 28x28x1 images scaled into [0, 1] with one range for all pixels; trained
// with only --model, --data and --label; evaluated, predicted and exported through the
// stored schema.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listCheckpoints, loadCheckpoint } from '../../src/io/checkpoint-file.ts'
import { loadMnist } from '../../src/io/mnist.ts'
import { loadSafetensorsWithData } from '../../src/io/safetensors-file.ts'
import { objectiveFromSpec } from '../../src/models/objective-spec.ts'
import { cli, lastJson } from './run-cli.ts'
import type { NamedTensor } from './torch-reference.ts'
import { torchReference } from './torch-reference.ts'

const tmp = mkdtempSync(join(tmpdir(), 'gs-image-csv-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))
const csv = join(tmp, 'digits.csv')
const run = join(tmp, 'run')
const N = 400
let rows: number[][]
let labels: number[]
let summary: { testAccuracy: number; testLoss: number }

beforeAll(async () => {
  const { train } = loadMnist()
  // The package's digits are in class order: every 20th of the 8,000 covers all ten.
  const pick = Array.from({ length: N }, (_, i) => i * 20)
  rows = pick.map((j) => Array.from(train.x.data.subarray(j * 784, (j + 1) * 784), (v) => Math.round(v * 255)))
  labels = pick.map((j) => train.labels![j])
  const header = ['digit', ...Array.from({ length: 784 }, (_, i) => `px${i}`)].join(',')
  writeFileSync(csv, `${[header, ...rows.map((r, i) => [labels[i], ...r].join(','))].join('\n')}\n`)
  const r = await cli(['train', '--model', 'cnn', '--data', csv, '--label', 'digit', '--out', run, '--json'])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  summary = lastJson(r)
}, 300_000)

describe('image models on a CSV of pixel columns', () => {
  it('train as 28x28x1 images with one [0, 1] range for every pixel', () => {
    expect(summary.testAccuracy).toBeGreaterThan(0.7)
    const c = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { shift: number; input: { features: string[]; scaling: { kind: string; offset: number[]; scale: number[] } } }
    expect(c.input.features.length).toBe(784)
    expect(c.input.scaling.kind).toBe('range')
    // One offset (the smallest training pixel) and one scale (the range) for all pixels.
    expect(new Set(c.input.scaling.offset)).toEqual(new Set([0]))
    expect(new Set(c.input.scaling.scale)).toEqual(new Set([255]))
    expect(c.shift).toBe(0)
  })

  it('evaluate reproduces the run; predict reads the pixel columns by name', async () => {
    const e = lastJson<{ accuracy: number; loss: number; samples: number }>(await cli(['evaluate', run, '--json']))
    expect(e.samples).toBe(80)
    expect(e.accuracy).toBe(summary.testAccuracy)
    expect(e.loss).toBeCloseTo(summary.testLoss, 12)
    const p = await cli(['predict', run, '--input', csv])
    expect(p.code).toBe(0)
    const out = p.stdout.trim().split('\n').map((l) => JSON.parse(l) as { class: string })
    expect(out.length).toBe(N)
    expect(out.filter((o, i) => o.class === String(labels[i])).length / N).toBeGreaterThan(0.7)
  })

  it('export applies the pixel scaling in forward on NCHW input: the same logits from raw pixels', async () => {
    const out = join(tmp, 'pt')
    expect((await cli(['export', run, '--to', out])).code).toBe(0)
    const python = readFileSync(join(out, 'model.py'), 'utf8')
    const { file } = loadSafetensorsWithData(join(out, 'model.safetensors'))
    const tensors = new Map<string, NamedTensor>(file.tensors.map((t) => [t.name, { shape: t.shape, data: t.data as Float32Array }]))
    const n = 5
    const raw = Float32Array.from(rows.slice(0, n).flat())
    const theirs = torchReference(python, tensors, { shape: [n, 1, 28, 28], data: raw })
    const ck = loadCheckpoint(listCheckpoints(join(run, 'checkpoints')).pop()!.path)
    const o = objectiveFromSpec(ck.model)
    if (E.isLeft(o)) throw o.left
    const ours = o.right.predict(ck.snapshot.params, { shape: [n, 28, 28, 1], data: raw.map((v) => v / 255) })
    let d = 0
    for (let i = 0; i < ours.data.length; i++) d = Math.max(d, Math.abs(ours.data[i] - theirs.data[i]))
    expect(d).toBeLessThan(1e-4)
  })

  it('other tabular data is refused for image models in one line', async () => {
    const r = await cli(['train', '--model', 'lenet5', '--data', join(import.meta.dirname, '..', 'fixtures', 'flowers.csv'), '--label', 'species'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^gradstream train: --model lenet5: expects 28x28x1 images \(--data mnist, or a file of 784 pixel columns; .*flowers.csv has 3 feature columns\); for it use --model mlp, rbm, autoencoder\n$/)
  })
})
