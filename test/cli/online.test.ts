import { createReadStream, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { sgd } from '../../src/models/optimizers.ts'
import { zooEntry } from '../../src/models/zoo/index.ts'
import { initialSnapshot } from '../../src/streams/train.ts'
import { key } from '../../src/core/rng.ts'
import { getLeaf } from '../../src/core/tree.ts'
import { recordsFromReadable } from '../../src/streams/record-source.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { main } from '../../src/cli.ts'
import { loadCheckpoint } from '../../src/io/checkpoint-file.ts'
import { textSink as sink, lastJsonLine } from '../cli-run.ts'

const root = resolve(import.meta.dirname, '..', '..')
const fixture = (name: string) => join(root, 'test', 'fixtures', 'online', name)


const cli = async (args: string[], stdin?: Readable) => {
  const out = sink()
  const err = sink()
  const io = { stdout: out.stream, stderr: err.stream, ...(stdin ? { stdin } : {}) }
  const code = await main(['online', ...args], io)
  return { code, stdout: out.text(), stderr: err.text() }
}

describe('gradstream online', () => {
  it('learns from a dirty CSV file: progress lines, rejected lines on stderr, a JSON summary last', async () => {
    const r = await cli(['--model', 'mlp', '--hidden', '16', '--label', 'species', '--input', fixture('blobs.csv'), '--lr', '0.1', '--window', '100', '--report-every', '200', '--json'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/gradstream online: mlp \([\d,]+ parameters\) on /)
    const progress = r.stdout.split('\n').filter((l) => l.startsWith('records '))
    expect(progress.length).toBe(3) // 200, 400, 600 examples
    expect(progress[0]).toMatch(/^records 207: 200 learned, 7 rejected, [\d,]+ records\/s, window accuracy \d+\.\d\d% \(last 100\)$/)
    expect(r.stderr).toMatch(/blobs.csv line 11: rejected, non-numeric feature \(column "f2" is "abc"\)/)
    expect(r.stderr).toMatch(/line 51: rejected, non-finite feature/)
    const s = lastJsonLine(r.stdout)
    expect(s).toMatchObject({
      seen: 607,
      examples: 600,
      learned: 600,
      skipped: 0,
      rejected: 7,
      rejectedByReason: {
        'non-numeric feature': 1,
        'wrong field count': 1,
        'invalid csv': 1,
        'missing field': 1,
        'non-finite feature': 2,
        'missing label': 1,
      },
      features: ['f1', 'f2', 'f3', 'f4'],
      classes: ['c', 'b', 'a'],
      steps: 600,
      window: 100,
    })
    expect(s.accuracy as number).toBeGreaterThan(0.9)
    expect(s.windowAccuracy as number).toBeGreaterThan(0.95)
    expect(s.hash).toMatch(/^[0-9a-f]{64}$/)
    expect(r.stdout).toMatch(/online: 607 records seen, 600 learned, 0 skipped, 7 rejected \(non-numeric feature 1, /)
    // Deterministic: the same input and seed give the same parameters.
    const again = lastJsonLine((await cli(['--model', 'mlp', '--hidden', '16', '--label', 'species', '--input', fixture('blobs.csv'), '--lr', '0.1', '--json'])).stdout)
    expect(again.hash).toBe(s.hash)
  })

  it('reads NDJSON from stdin (format sniffed), with a fixed class list and momentum', async () => {
    const r = await cli(
      ['--hidden', '8', '--label', 'species', '--classes', 'a,b', '--optimizer', 'momentum', '--lr', '0.05', '--json'],
      Readable.from([readFileSync(fixture('blobs.ndjson'))]),
    )
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/on stdin: 4 features, label "species", 2 classes/)
    const s = lastJsonLine(r.stdout)
    const byReason = s.rejectedByReason as Record<string, number>
    // The 195 c rows are outside the class list, and so is the index 3 of line 75.
    expect(byReason['unknown class']).toBe(196)
    expect(byReason['invalid json']).toBe(1)
    expect(s.rejected).toBe(6 + 196)
    expect(s.learned).toBe(602 - 195)
    expect(s.classes).toEqual(['a', 'b'])
    expect(s.accuracy as number).toBeGreaterThan(0.9)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('caps the classes with --num-classes and learns with adam', async () => {
    const r = await cli(['--hidden', '8', '--label', 'species', '--input', fixture('blobs.csv'), '--num-classes', '2', '--optimizer', 'adam', '--lr', '0.01', '--json'])
    expect(r.code).toBe(0)
    const s = lastJsonLine(r.stdout)
    expect((s.rejectedByReason as Record<string, number>)['too many classes']).toBe(195 - 1) // every 'a' (the third name); line 51 fails on a feature first
  })

  it('writes checkpoints every N examples and at the end; they hold what the generic (unfused) path computes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gs-online-'))
    const r = await cli(['--hidden', '8', '--label', 'species', '--input', fixture('blobs.csv'), '--checkpoint-dir', dir, '--checkpoint-every', '250', '--json'])
    expect(r.code).toBe(0)
    const summary = lastJsonLine(r.stdout)
    expect(summary).toMatchObject({ checkpoints: 3, steps: 600, resumedFrom: 0 })
    const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort()
    expect(files).toEqual(['step-00000250.safetensors', 'step-00000500.safetensors', 'step-00000600.safetensors'])
    const c = loadCheckpoint(join(dir, files[1]))
    expect(c.snapshot.seen).toBe(500)
    expect(c.extra.online_examples).toBe('500')
    expect(hashParams(loadCheckpoint(join(dir, files[2])).snapshot)).toBe(summary.hash)
    // Independently: plain SGD written out here in float64 (forward, softmax cross-entropy,
    // backward, update, one record at a time) from the same initial parameters, on the
    // same records; float32 and float64 agree to rounding after 250 and 500 updates.
    const records = await recordsFromReadable(createReadStream(fixture('blobs.csv')), { label: 'species', numClasses: 10 })
    const { objective } = zooEntry('mlp').build({ hidden: [8], classes: 10 }, [4])
    const s0 = initialSnapshot(objective, sgd(0.01), key(0))
    if (s0._tag === 'Left') throw s0.left
    const leaf = (name: string): Float64Array => Float64Array.from(getLeaf(s0.right.params, name)!.data)
    const [W1, b1, W2, b2] = [leaf('fc1.W'), leaf('fc1.b'), leaf('fc2.W'), leaf('fc2.b')]
    const lr = 0.01
    let n = 0
    const compare = (ck: string): void => {
      const got = loadCheckpoint(join(dir, ck)).snapshot.params
      for (const [name, want] of [['fc1.W', W1], ['fc1.b', b1], ['fc2.W', W2], ['fc2.b', b2]] as const) {
        const g = getLeaf(got, name)!.data
        for (let i = 0; i < want.length; i++) expect(Math.abs(g[i] - want[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(want[i])))
      }
    }
    for await (const r of records.records) {
      if (r._tag === 'Left') continue
      const x = Array.from(r.right.features)
      const h = Array.from({ length: 8 }, (_, j) => Math.max(0, b1[j] + x.reduce((acc, v, i) => acc + v * W1[i * 8 + j], 0)))
      const z = Array.from({ length: 10 }, (_, k) => b2[k] + h.reduce((acc, v, j) => acc + v * W2[j * 10 + k], 0))
      const m = Math.max(...z)
      const e = z.map((v) => Math.exp(v - m))
      const sum = e.reduce((a, b) => a + b, 0)
      const dz = e.map((v, k) => v / sum - (k === r.right.label ? 1 : 0))
      const dh = h.map((hv, j) => (hv > 0 ? dz.reduce((acc, d, k) => acc + d * W2[j * 10 + k], 0) : 0))
      for (let j = 0; j < 8; j++) for (let k = 0; k < 10; k++) W2[j * 10 + k] -= lr * h[j] * dz[k]
      for (let k = 0; k < 10; k++) b2[k] -= lr * dz[k]
      for (let i = 0; i < 4; i++) for (let j = 0; j < 8; j++) W1[i * 8 + j] -= lr * x[i] * dh[j]
      for (let j = 0; j < 8; j++) b1[j] -= lr * dh[j]
      n++
      if (n === 250) compare(files[0])
      if (n === 500) compare(files[1])
    }
    expect(n).toBe(600)
    compare(files[2])
  })

  it('exits 2 with one line for a missing --label, a missing file, a missing label column or a bad flag', async () => {
    const noLabel = await cli(['--input', fixture('blobs.csv')])
    expect(noLabel.code).toBe(2)
    expect(noLabel.stderr).toBe('gradstream online: --label: expected the label column\n')
    const missing = await cli(['--label', 'y', '--input', fixture('nope.csv')])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/^gradstream online: --input: could not read .*nope.csv: ENOENT\n$/)
    const column = await cli(['--label', 'kind', '--input', fixture('blobs.csv')])
    expect(column.code).toBe(2)
    expect(column.stderr).toMatch(/expected a label column named "kind", got columns f1, f2, f3, f4, species\n$/)
    const window = await cli(['--label', 'species', '--input', fixture('blobs.csv'), '--window', '0'])
    expect(window.code).toBe(2)
    expect(window.stderr).toMatch(/--window: expected an integer >= 1, got "0"/)
    const image = await cli(['--label', 'species', '--input', fixture('blobs.csv'), '--model', 'cnn'])
    expect(image.code).toBe(2)
    expect(image.stderr).toMatch(/expects 28x28x1 images \(784 features\), got 4 features/)
  })
})
