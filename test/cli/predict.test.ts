// gradstream predict: one JSON line per record with the class and probabilities the
// checkpoint gives (checked here against the model's own logits and a softmax in
// doubles), bad records on stderr with their line numbers, stdin through a real process.

import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listCheckpoints, loadCheckpoint } from '../../src/io/checkpoint-file.ts'
import { loadMnist } from '../../src/io/mnist.ts'
import { objectiveFromSpec } from '../../src/models/objective-spec.ts'
import type { ModelSnapshot } from '../../src/cli/predict-record.ts'
import { predictRecord } from '../../src/cli/predict-record.ts'
import { predictLines } from '../../src/cli/predict-command.ts'
import type { Io } from '../../src/cli/train-command.ts'
import { loadTrainedModel } from '../../src/cli/trained-model.ts'
import { cli, fixture, lastJson, root } from './run-cli.ts'

const tmp = mkdtempSync(join(tmpdir(), 'gs-predict-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))
const run = join(tmp, 'run')

interface Line {
  line: number
  class: string
  probabilities: Record<string, number>
}
const parseLines = (out: string): Line[] => out.trim().split('\n').map((l) => JSON.parse(l) as Line)

/** The logits of raw feature rows through the run's checkpoint and stored scaling, computed here. */
const logitsOf = (dir: string, rows: number[][]) => {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { input: { classes: string[]; scaling?: { offset: number[]; scale: number[] } } }
  const ckpts = listCheckpoints(join(dir, 'checkpoints'))
  const ck = loadCheckpoint(ckpts[ckpts.length - 1].path)
  const obj = objectiveFromSpec(ck.model)
  if (E.isLeft(obj)) throw obj.left
  const s = config.input.scaling
  const F = rows[0].length
  const x = Float32Array.from(rows.flatMap((r) => r.map((v, f) => (s ? (Math.fround(v) - s.offset[f]) / s.scale[f] : v))))
  const y = obj.right.predict(ck.snapshot.params, { shape: [rows.length, ...obj.right.inShape], data: x })
  const C = y.shape[1]
  return { classes: config.input.classes, rows: rows.map((_, i) => Array.from(y.data.subarray(i * C, (i + 1) * C))), F }
}

const softmax = (z: number[]): number[] => {
  const m = Math.max(...z)
  const e = z.map((v) => Math.exp(v - m))
  const s = e.reduce((a, b) => a + b, 0)
  return e.map((v) => v / s)
}

beforeAll(async () => {
  const r = await cli(['train', '--model', 'mlp', '--hidden', '8', '--data', fixture('flowers.csv'), '--label', 'species', '--epochs', '3', '--threads', '1', '--out', run])
  expect(r.code).toBe(0)
})

describe('gradstream predict', () => {
  it('predicts every good record of a CSV: class = argmax, probabilities = softmax of the logits', async () => {
    const r = await cli(['predict', run, '--input', fixture('flowers.csv')])
    expect(r.code).toBe(0)
    const out = parseLines(r.stdout)
    // Bad feature rows are skipped and reported; a row without a label is still predicted.
    expect(r.stderr.trim().split('\n').map((l) => /line (\d+): ([a-z -]+) \(/.exec(l)?.slice(1, 3))).toEqual([
      ['10', 'non-numeric feature'],
      ['20', 'wrong field count'],
      ['30', 'invalid csv'],
      ['40', 'non-numeric feature'],
    ])
    const lines = readFileSync(fixture('flowers.csv'), 'utf8').split('\n')
    const good = lines.map((l, i) => ({ l, n: i + 1 })).filter(({ l, n }) => n > 1 && l.trim() !== '' && ![10, 20, 30, 40].includes(n))
    expect(out.map((o) => o.line)).toEqual(good.map((g) => g.n))
    const ref = logitsOf(run, good.map((g) => g.l.split(',').slice(0, 3).map(Number)))
    out.forEach((o, i) => {
      const p = softmax(ref.rows[i])
      expect(Object.keys(o.probabilities)).toEqual(ref.classes)
      ref.classes.forEach((c, k) => expect(Math.abs(o.probabilities[c] - p[k])).toBeLessThanOrEqual(5e-6 * p[k] + 1e-15)) // six significant digits)
      expect(o.class).toBe(ref.classes[p.indexOf(Math.max(...p))])
    })
    // The same predictions evaluate counts in its confusion matrix (rows with a label).
    const ck = listCheckpoints(join(run, 'checkpoints')).pop()!.path
    const e = lastJson<{ classes: { name: string; predicted: number }[] }>(await cli(['evaluate', ck, '--data', fixture('flowers.csv'), '--json']))
    const labelled = out.filter((o) => o.line !== 50)
    for (const c of e.classes) expect(labelled.filter((o) => o.class === c.name).length).toBe(c.predicted)
  })

  it('reads NDJSON from stdin in a real process, ignores other fields, reports bad lines and exits 0', () => {
    const input = [
      '{"a": 1.057, "b": 4.75, "c": -0.059, "species": "setosa"}',
      '{"b": 1, "c": 2}',
      '',
      '{"c": 5.474, "a": 7.14, "b": "3.095", "note": "x"}',
      'oops',
      '[1, 2, 3]',
    ].join('\n')
    const r = spawnSync(join(root, 'bin', 'gradstream.js'), ['predict', run, '--input', '-'], { input, encoding: 'utf8' })
    expect(r.status).toBe(0)
    const out = parseLines(r.stdout)
    expect(out.map((o) => o.line)).toEqual([1, 4])
    expect(r.stderr.split('\n').filter((l) => l !== '')).toEqual([
      'gradstream predict: line 2: missing field (no field "a")',
      expect.stringMatching(/^gradstream predict: line 5: invalid json \(/),
      'gradstream predict: line 6: not an object (expected a JSON object)',
    ])
    const ref = logitsOf(run, [[1.057, 4.75, -0.059], [7.14, 3.095, 5.474]])
    out.forEach((o, i) => expect(o.probabilities[ref.classes[0]]).toBeCloseTo(softmax(ref.rows[i])[0], 6))
  })

  it('exits 2 with one line when nothing can be predicted or the input does not fit', async () => {
    const bad = join(tmp, 'bad.ndjson')
    writeFileSync(bad, 'not json\n{"a": "x", "b": 1, "c": 2}\n')
    const none = await cli(['predict', run, '--input', bad])
    expect(none.code).toBe(2)
    expect(none.stderr.trim().split('\n').pop()).toBe(`gradstream predict: --input: no record of ${bad} could be predicted (2 bad)`)
    const cols = join(tmp, 'cols.csv')
    writeFileSync(cols, 'a,b,d\n1,2,3\n')
    const cases: Array<[string[], RegExp]> = [
      [['predict', run], /--input: expected a CSV\/NDJSON file of records, or - for stdin/],
      [['predict', run, '--input', cols], /--input: expected the feature columns a, b, c, missing c \(header: a, b, d\)/],
      [['predict', run, '--input', join(tmp, 'missing.csv')], /--input: could not read .*missing.csv: ENOENT/],
      [['predict', run, '--input', tmp], /--input: could not read .*: EISDIR/],
      [['predict', run, '--input', cols, '--fromat', 'csv'], /unknown flag --fromat; did you mean --format\?/],
    ]
    for (const [args, message] of cases) {
      const r = await cli(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr.trim().split('\n').length).toBe(1)
    }
    const rbm = join(tmp, 'rbm')
    expect((await cli(['train', '--model', 'rbm', '--data', fixture('flowers.csv'), '--label', 'species', '--epochs', '1', '--out', rbm])).code).toBe(0)
    const r = await cli(['predict', rbm, '--input', fixture('flowers.csv')])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/rbm, step \d+ is not a classifier/)
  })

  it('predicts digits given as pixel arrays for a model trained on MNIST', async () => {
    const dir = join(tmp, 'digits')
    expect((await cli(['train', '--model', 'mlp', '--hidden', '16', '--epochs', '1', '--threads', '1', '--shift', '0', '--out', dir])).code).toBe(0)
    const { test } = loadMnist()
    const n = 20
    const rows = Array.from({ length: n }, (_, i) => Array.from(test.x.data.subarray(i * 784, (i + 1) * 784)))
    const file = join(tmp, 'digits.ndjson')
    writeFileSync(file, rows.map((r, i) => JSON.stringify(i % 2 === 0 ? r : { pixels: r })).join('\n'))
    const r = await cli(['predict', dir, '--input', file])
    expect(r.code).toBe(0)
    const out = parseLines(r.stdout)
    const ref = logitsOf(dir, rows)
    expect(out.map((o) => o.class)).toEqual(ref.rows.map((z) => String(z.indexOf(Math.max(...z)))))
    // Most of them right after one epoch.
    expect(out.filter((o, i) => o.class === String(test.labels![i])).length).toBeGreaterThanOrEqual(16)
    // The same digits as CSV rows under a header with a label column (left out).
    const csv = join(tmp, 'digits.csv')
    const header = ['label', ...Array.from({ length: 784 }, (_, i) => `p${i}`)].join(',')
    writeFileSync(csv, [header, ...rows.map((r, i) => [test.labels![i], ...r].join(','))].join('\n'))
    const c = await cli(['predict', dir, '--input', csv])
    expect(c.code).toBe(0)
    expect(parseLines(c.stdout).map((o) => o.class)).toEqual(out.map((o) => o.class))
  })

  it('predicts each record with the snapshot current at that record (a model can be swapped between records)', async () => {
    const dir = join(tmp, 'other')
    expect((await cli(['train', '--model', 'mlp', '--hidden', '8', '--data', fixture('flowers.csv'), '--label', 'species', '--epochs', '1', '--seed', '9', '--threads', '1', '--out', dir])).code).toBe(0)
    const snap = (d: string): ModelSnapshot => {
      const m = loadTrainedModel(d)
      return { objective: m.objective, params: m.params, input: m.input! }
    }
    const a = snap(run)
    const b = snap(dir)
    const record = '{"a": 4.595, "b": 0.845, "c": 2.843}'
    async function* lines() {
      yield record
      yield record
      yield record
    }
    let calls = 0
    const out: string[] = []
    const io = { stdout: { write: (s: string) => (out.push(s), true) }, stderr: { write: () => true } } as unknown as Io
    const counts = await predictLines(lines(), () => (calls++ === 1 ? b : a), 'ndjson', io)
    expect(counts).toEqual({ predicted: 3, rejected: 0 })
    const got = out.map((l) => JSON.parse(l) as Line)
    const features = Float32Array.from([4.595, 0.845, 2.843])
    expect(got.map((g) => g.probabilities)).toEqual([predictRecord(a, features), predictRecord(b, features), predictRecord(a, features)].map((p) => p.probabilities))
    expect(got[0].probabilities).not.toEqual(got[1].probabilities)
  })
})
