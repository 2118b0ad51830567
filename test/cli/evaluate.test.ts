// gradstream evaluate: on the run's held-out data it reproduces the numbers training
// reported; on another file it reads records through the training schema (stored scaling,
// never refitted), and its confusion matrix, precision and recall match predictions
// computed here from the checkpoint and the raw file.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { argmaxRows } from '../../src/core/tensor.ts'
import { listCheckpoints, loadCheckpoint } from '../../src/io/checkpoint-file.ts'
import { loadMnist } from '../../src/io/mnist.ts'
import { objectiveFromSpec } from '../../src/models/objective-spec.ts'
import { cli, fixture, lastJson } from './run-cli.ts'

const tmp = mkdtempSync(join(tmpdir(), 'gs-evaluate-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))
const run = join(tmp, 'run')
let summary: { testLoss: number; testAccuracy: number }

interface Report {
  samples: number
  rejected: number
  loss: number
  accuracy: number
  classes: { name: string; precision: number | null; recall: number | null; support: number }[]
  confusion: number[][]
}

beforeAll(async () => {
  const r = await cli(['train', '--model', 'mlp', '--hidden', '8', '--data', fixture('flowers.csv'), '--label', 'species', '--epochs', '3', '--threads', '1', '--out', run, '--json'])
  expect(r.code).toBe(0)
  summary = lastJson(r)
})

/** The rows of a simple numeric CSV (no quotes), the bad ones left out the way the loader does. */
const rawRows = (text: string, F: number): { x: number[]; label: string }[] =>
  text
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','))
    .filter((f) => f.length === F + 1 && f.slice(0, F).every((v) => v.trim() !== '' && Number.isFinite(Number(v))) && f[F] !== '')
    .map((f) => ({ x: f.slice(0, F).map(Number), label: f[F] }))

describe('gradstream evaluate', () => {
  it('on the run directory alone: the held-out split, with the loss and accuracy training reported', async () => {
    const r = await cli(['evaluate', run, '--json'])
    expect(r.code).toBe(0)
    const e = lastJson<Report>(r)
    expect(e.samples).toBe(30)
    expect(e.accuracy).toBe(summary.testAccuracy)
    expect(e.loss).toBeCloseTo(summary.testLoss, 12)
    expect(e.confusion.flat().reduce((a, b) => a + b, 0)).toBe(30)
  })

  it('on another file: stored scaling and classes, confusion / precision / recall as computed here', async () => {
    // Only the setosa and virginica rows, with one unknown class: a refit on this file
    // would change every scaled value; the stored scaling must be used.
    const text = readFileSync(fixture('flowers.csv'), 'utf8')
    const lines = text.trim().split('\n')
    const kept = [lines[0], ...lines.slice(1).filter((l) => /,(setosa|virginica)$/.test(l)), '1,2,3,tulip']
    const file = join(tmp, 'some.csv')
    writeFileSync(file, `${kept.join('\n')}\n`)
    const r = await cli(['evaluate', run, '--data', file, '--json'])
    expect(r.code).toBe(0)
    const e = lastJson<Report>(r)

    const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { input: { classes: string[]; scaling: { offset: number[]; scale: number[] } } }
    const { offset, scale } = config.input.scaling
    const rows = rawRows(kept.slice(0, -1).join('\n'), 3)
    expect(e.samples).toBe(rows.length)
    // The file's bad rows, and tulip: not a training class.
    expect(e.rejected).toBe(kept.length - 1 - rows.length)
    expect(rawRows(kept.join('\n'), 3).length).toBe(rows.length + 1)
    const ckpts = listCheckpoints(join(run, 'checkpoints'))
    const ck = loadCheckpoint(ckpts[ckpts.length - 1].path)
    const obj = objectiveFromSpec(ck.model)
    if (E.isLeft(obj)) throw obj.left
    const x = Float32Array.from(rows.flatMap((r) => r.x.map((v, f) => (Math.fround(v) - offset[f]) / scale[f])))
    const logits = obj.right.predict(ck.snapshot.params, { shape: [rows.length, 3], data: x })
    const predicted = argmaxRows(logits)
    const truth = rows.map((r) => config.input.classes.indexOf(r.label))
    const M = [0, 1, 2].map((t) => [0, 1, 2].map((p) => truth.filter((v, i) => v === t && predicted[i] === p).length))
    expect(e.confusion).toEqual(M)
    expect(e.accuracy).toBe((M[0][0] + M[1][1] + M[2][2]) / rows.length)
    // Cross-entropy of the softmax, in doubles.
    let loss = 0
    truth.forEach((t, i) => {
      const z = Array.from(logits.data.subarray(i * 3, i * 3 + 3))
      const mx = Math.max(...z)
      loss += Math.log(z.reduce((a, v) => a + Math.exp(v - mx), 0)) + mx - z[t]
    })
    expect(e.loss).toBeCloseTo(loss / rows.length, 5)
    e.classes.forEach((c, k) => {
      const col = M.reduce((a, row) => a + row[k], 0)
      const row = M[k].reduce((a, b) => a + b, 0)
      expect(c.name).toBe(config.input.classes[k])
      expect(c.support).toBe(row)
      expect(c.precision).toBe(col === 0 ? null : M[k][k] / col)
      expect(c.recall).toBe(row === 0 ? null : M[k][k] / row)
    })
    expect(e.classes[1].support).toBe(0) // no versicolor in this file: recall undefined
    expect(e.classes[1].recall).toBeNull()
  })

  it('prints a table and an ASCII confusion matrix, and works from the checkpoint file alone', async () => {
    const ckpts = listCheckpoints(join(run, 'checkpoints'))
    const r = await cli(['evaluate', ckpts[ckpts.length - 1].path, '--data', fixture('flowers.csv')])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/skipped 5 bad records:\n {2}line 10: non-numeric feature/)
    expect(r.stdout).toMatch(/loss \d\.\d{4}, accuracy \d+\.\d\d% \(\d+\/150\)/)
    expect(r.stdout).toMatch(/class {7}precision {3}recall {2}support\nsetosa /)
    expect(r.stdout).toMatch(/\| true \\ predicted \| setosa \| versicolor \| virginica \|/)
    const json = lastJson<Report>(await cli(['evaluate', ckpts[ckpts.length - 1].path, '--data', fixture('flowers.csv'), '--json']))
    for (const [t, name] of ['setosa', 'versicolor', 'virginica'].entries())
      expect(r.stdout).toMatch(new RegExp(`\\| ${name.padEnd(16)} \\|${json.confusion[t].map((v, p) => ` +${v} `).join('\\|')}\\|`))
  })

  it('rejects what it cannot evaluate with one line and exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['evaluate'], /expected one run directory or .safetensors file, got none/],
      [['evaluate', join(tmp, 'nope')], /nope: no such run directory or .safetensors file/],
      [['evaluate', run, '--data', fixture('flowers.csv'), '--label', 'kind'], /expected a label column named "kind"/],
      [['evaluate', run, '--data', 'mnist'], /expected records of 3 features for mlp, step \d+, got 784/],
      [['evaluate', run, '--dat', 'x'], /unknown flag --dat; did you mean --data\?/],
    ]
    for (const [args, message] of cases) {
      const r = await cli(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr.trim().split('\n').length).toBe(1)
    }
  })
})

describe('gradstream evaluate on MNIST', () => {
  it('reproduces the final test accuracy and loss of a digits run, also from a CSV of 784 pixel columns', async () => {
    const dir = join(tmp, 'digits')
    const t = await cli(['train', '--model', 'mlp', '--hidden', '16', '--epochs', '1', '--threads', '1', '--shift', '0', '--out', dir, '--json'])
    expect(t.code).toBe(0)
    const s = lastJson<{ testLoss: number; testAccuracy: number }>(t)
    const e = lastJson<Report>(await cli(['evaluate', dir, '--json']))
    expect(e.samples).toBe(2000)
    expect(e.accuracy).toBe(s.testAccuracy)
    expect(e.loss).toBeCloseTo(s.testLoss, 12)
    expect(e.classes.map((c) => c.name)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
    expect(e.classes.reduce((a, c) => a + c.support, 0)).toBe(2000)

    // The same test digits as a CSV of 784 pixel columns (label first, as MNIST CSVs are):
    // intensities in [0, 1] give the numbers of --data mnist; in [0, 255] (rounded to
    // integers) they are divided by 255, and the confusion matches predictions made here.
    const { test } = loadMnist()
    const N = test.x.shape[0]
    const header = ['label', ...Array.from({ length: 784 }, (_, k) => `pixel${k}`)].join(',')
    const csv = (scale: (v: number) => number): string =>
      [header, ...Array.from({ length: N }, (_, i) => [test.labels![i], ...Array.from(test.x.data.subarray(i * 784, (i + 1) * 784), scale)].join(','))].join('\n')
    writeFileSync(join(tmp, 'digits01.csv'), csv((v) => v))
    writeFileSync(join(tmp, 'digits255.csv'), csv((v) => Math.round(v * 255)))
    const mnist = lastJson<Report>(await cli(['evaluate', dir, '--data', 'mnist', '--json']))
    const unit = lastJson<Report>(await cli(['evaluate', dir, '--data', join(tmp, 'digits01.csv'), '--label', 'label', '--json']))
    expect(unit.samples).toBe(2000)
    expect(unit.loss).toBeCloseTo(mnist.loss, 12) // the same terms, summed in the file's split order
    expect(unit.accuracy).toBe(mnist.accuracy)
    expect(unit.confusion).toEqual(mnist.confusion)
    const bytes = lastJson<Report & { data: string }>(await cli(['evaluate', dir, '--data', join(tmp, 'digits255.csv'), '--label', 'label', '--json']))
    expect(bytes.data).toMatch(/digits255\.csv \(pixels \/ 255\)$/)
    const ckpt = loadCheckpoint(listCheckpoints(join(dir, 'checkpoints')).pop()!.path)
    const obj = objectiveFromSpec(ckpt.model)
    if (E.isLeft(obj)) throw obj.left
    const x = Float32Array.from(test.x.data, (v) => Math.round(v * 255) / 255)
    const predicted = argmaxRows(obj.right.predict(ckpt.snapshot.params, { shape: [N, ...obj.right.inShape], data: x }, null))
    const confusion = Array.from({ length: 10 }, () => new Array<number>(10).fill(0))
    for (let i = 0; i < N; i++) confusion[test.labels![i]][predicted[i]]++
    expect(bytes.confusion).toEqual(confusion)
    expect(Math.abs(bytes.accuracy - mnist.accuracy)).toBeLessThan(0.01)

    // The wrong number of pixel columns, or intensities beyond 255: one line, exit code 2.
    writeFileSync(join(tmp, 'short.csv'), 'label,a,b\n3,0.5,0.25\n7,0.125,1\n')
    writeFileSync(join(tmp, 'hot.csv'), csv((v) => v * 1000))
    for (const [file, message] of [
      ['short.csv', /short\.csv: expected 784 pixel columns for mlp, step \d+ \(trained on 28x28x1 images\), got 2 feature columns/],
      ['hot.csv', /hot\.csv: expected pixel intensities in \[0, 1\] or \[0, 255\], got values from 0 to 1000/],
    ] as const) {
      const r = await cli(['evaluate', dir, '--data', join(tmp, file), '--label', 'label'])
      expect(r.code, file).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr.trim().split('\n').length).toBe(1)
    }
  })
})
