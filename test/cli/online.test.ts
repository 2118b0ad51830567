import { createReadStream, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { lastValueFrom, toArray } from 'rxjs'
import { sgd } from '../../src/models/optimizers.ts'
import { zooEntry } from '../../src/models/zoo/index.ts'
import { online, onlineSnapshots } from '../../src/streams/online.ts'
import { recordsFromReadable } from '../../src/streams/record-source.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { main } from '../../src/cli.ts'
import { loadCheckpoint } from '../../src/io/checkpoint-file.ts'

const root = resolve(import.meta.dirname, '..', '..')
const fixture = (name: string) => join(root, 'test', 'fixtures', 'online', name)

const sink = () => {
  let text = ''
  const stream = { write: (s: string) => ((text += s), true), isTTY: false } as unknown as NodeJS.WriteStream
  return { stream, text: () => text }
}

const cli = async (args: string[], stdin?: Readable) => {
  const out = sink()
  const err = sink()
  const io = { stdout: out.stream, stderr: err.stream, ...(stdin ? { stdin } : {}) }
  const code = await main(['online', ...args], io)
  return { code, stdout: out.text(), stderr: err.text() }
}

const lastJson = (stdout: string): Record<string, unknown> => {
  const lines = stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>
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
    const s = lastJson(r.stdout)
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
    const again = lastJson((await cli(['--model', 'mlp', '--hidden', '16', '--label', 'species', '--input', fixture('blobs.csv'), '--lr', '0.1', '--json'])).stdout)
    expect(again.hash).toBe(s.hash)
  })

  it('reads NDJSON from stdin (format sniffed), with a fixed class list and momentum', async () => {
    const r = await cli(
      ['--hidden', '8', '--label', 'species', '--classes', 'a,b', '--optimizer', 'momentum', '--lr', '0.05', '--json'],
      Readable.from([readFileSync(fixture('blobs.ndjson'))]),
    )
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/on stdin: 4 features, label "species", 2 classes/)
    const s = lastJson(r.stdout)
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
    const s = lastJson(r.stdout)
    expect((s.rejectedByReason as Record<string, number>)['too many classes']).toBe(195 - 1) // every 'a' (the third name); line 51 fails on a feature first
  })

  it('writes checkpoints every N examples and at the end; they hold what the generic (unfused) path computes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gs-online-'))
    const r = await cli(['--hidden', '8', '--label', 'species', '--input', fixture('blobs.csv'), '--checkpoint-dir', dir, '--checkpoint-every', '250', '--json'])
    expect(r.code).toBe(0)
    const summary = lastJson(r.stdout)
    expect(summary).toMatchObject({ checkpoints: 3, steps: 600, resumedFrom: 0 })
    const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort()
    expect(files).toEqual(['step-00000250.safetensors', 'step-00000500.safetensors', 'step-00000600.safetensors'])
    const c = loadCheckpoint(join(dir, files[1]))
    expect(c.snapshot.seen).toBe(500)
    expect(c.extra.online_examples).toBe('500')
    expect(hashParams(loadCheckpoint(join(dir, files[2])).snapshot)).toBe(summary.hash)
    // Independently: the same records through the generic step (objective forward/backward,
    // then optimizer.update), in this process, snapshotted at 250 and 500 examples.
    const records = await recordsFromReadable(createReadStream(fixture('blobs.csv')), { label: 'species', numClasses: 10 })
    const { objective } = zooEntry('mlp').build({ hidden: [8], classes: 10 }, [4])
    const events = await lastValueFrom(
      online(objective, sgd(0.01), records.records, { snapshotEvery: 250, seed: 0 }).pipe(onlineSnapshots(), toArray()),
    )
    const at = (n: number) => events.find((e) => e.metrics.examples === n)!.snapshot
    expect(Buffer.from(loadCheckpoint(join(dir, files[0])).snapshot.flat.buffer).equals(Buffer.from(at(250).flat.slice().buffer))).toBe(true)
    expect(hashParams(c.snapshot)).toBe(hashParams(at(500)))
    expect(hashParams(events[events.length - 1].snapshot)).toBe(summary.hash)
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
