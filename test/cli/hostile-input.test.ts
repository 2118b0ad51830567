// The command line given hostile flags and data: every mistake is one line on stderr that
// says what was expected and what was given, exit code 2; bad records are reported and
// skipped; limits (threads, shards, classes) are enforced with a message.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WorkerPool } from '../../src/parallel/pool.ts'
import { isCleanError, lastJson, runMain, writeBlobsCsv } from './child.ts'

const tmp = mkdtempSync(join(tmpdir(), 'gs-hostile-cli-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))
const csv = join(tmp, 'blobs.csv')
const BASE = ['train', '--model', 'mlp', '--hidden', '8', '--data', csv, '--label', 'class', '--shift', '0', '--epochs', '1']
beforeAll(() => writeBlobsCsv(csv))

const expectError = async (argv: string[], pattern: RegExp): Promise<void> => {
  const r = await runMain(...argv)
  expect(isCleanError(r), `${argv.join(' ')}: ${r.err}`).toBe(true)
  expect(r.err).toMatch(pattern)
}

describe('flag values', () => {
  it('negative numbers get the flag\'s own message, not "argument is ambiguous"', async () => {
    await expectError([...BASE, '--lr', '-1'], /--lr: expected a positive number, got "-1"/)
    await expectError([...BASE, '--epochs', '-1'], /--epochs: expected an integer >= 1, got "-1"/)
    await expectError([...BASE, '--seed', '-3'], /--seed: expected an integer >= 0, got "-3"/)
    await expectError([...BASE, '--momentum', '-0.5'], /--momentum: expected a number in \[0, 1\), got "-0\.5"/)
    await expectError([...BASE, '--batch', '-.5'], /--batch: expected an integer >= 1, got "-\.5"/)
    await expectError([...BASE, '--weight-decay', '-inf'], /--weight-decay: expected a number >= 0, got "-inf"/)
    await expectError(['online', '--label', 'y', '--lr', '-0.1'], /--lr: expected a positive number, got "-0\.1"/)
    await expectError(['replay', tmp, '--step', '-3'], /--step: expected an integer >= 0, got "-3"/)
    // A value that is a flag is still a missing value.
    await expectError([...BASE, '--lr', '--json'], /--lr/)
  })

  it('threads are capped, shards cannot outnumber the batch; the recipe default adapts to a small batch', async () => {
    await expectError([...BASE, '--threads', '1000'], /--threads: expected an integer from 1 to 64 \(this machine has \d+ cores\), got 1000/)
    await expectError([...BASE, '--batch', '32', '--microbatches', '1000'], /--microbatches: expected at most the batch size \(32\): each shard needs a sample, got 1000/)
    const r = await runMain(...BASE, '--batch', '1', '--threads', '2', '--json')
    expect(r.code, r.err).toBe(0)
    expect(lastJson(r.out).steps).toBe(480)
  })

  it('a worker that cannot start in time is a clear error, not a hang', async () => {
    await expect(WorkerPool.create({ threads: 3, objective: null, layout: null, startTimeoutMs: 1 })).rejects.toThrow(
      /worker pool: 2 of 2 worker threads did not start within 0\.001 s \(out of memory or threads\? try fewer --threads\)/,
    )
  })
})

describe('data the model cannot learn from', () => {
  it('one class in the label column, a header without rows, every row bad: said in those words', async () => {
    const one = join(tmp, 'one-class.csv')
    writeFileSync(one, `a,b,y\n${Array.from({ length: 40 }, (_, i) => `${i},${i * 2},only`).join('\n')}\n`)
    await expectError([...BASE.map((a) => (a === csv ? one : a === 'class' ? 'y' : a))], /--label: the label column "y" of .*one-class\.csv has a single class \("only"\) in its 40 usable rows; a classifier needs at least 2/)
    const empty = join(tmp, 'header-only.csv')
    writeFileSync(empty, 'a,b,y\n')
    await expectError([...BASE.map((a) => (a === csv ? empty : a === 'class' ? 'y' : a))], /header-only\.csv: the file has no data rows/)
    const nan = join(tmp, 'all-nan.csv')
    writeFileSync(nan, 'a,b,y\nNaN,1,p\nnan,2,q\n')
    await expectError([...BASE.map((a) => (a === csv ? nan : a === 'class' ? 'y' : a))], /got 0 of 2 \(2 rejected; the first, line 2: non-finite feature/)
  })

  it('deeply nested and non-UTF-8 records in a training file are reported and skipped; the run trains', async () => {
    const nd = join(tmp, 'nested.ndjson')
    const rows = Array.from({ length: 60 }, (_, i) => JSON.stringify({ a: i % 7, b: (i * 3) % 5, y: i % 2 ? 'p' : 'q' }))
    rows.splice(10, 0, `{"a": 1, "b": 2, "y": "p", "x": ${'['.repeat(5000)}${']'.repeat(5000)}}`)
    writeFileSync(nd, Buffer.concat([Buffer.from(`${rows.join('\n')}\n`), Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x31, 0x2c, 0x22, 0x62, 0x22, 0x3a, 0x32, 0x2c, 0x22, 0x79, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d, 0x0a])]))
    const r = await runMain('train', '--model', 'mlp', '--hidden', '4', '--data', nd, '--label', 'y', '--shift', '0', '--epochs', '1', '--batch', '8', '--json')
    expect(r.code, r.err).toBe(0)
    expect(r.out).toMatch(/skipped 2 bad rows of .*nested\.ndjson:\n {2}line 11: too deeply nested \(a value is nested more than 64 levels deep\)\n {2}line 62: invalid utf-8/)
  })

  it('1,500 classes train with a note instead of a confusion matrix', async () => {
    const many = join(tmp, 'many.csv')
    writeFileSync(many, `a,b,y\n${Array.from({ length: 3000 }, (_, i) => `${i % 13},${i % 17},k${i % 1500}`).join('\n')}\n`)
    const r = await runMain('train', '--model', 'mlp', '--hidden', '4', '--data', many, '--label', 'y', '--shift', '0', '--epochs', '1', '--batch', '64', '--json')
    expect(r.code, r.err).toBe(0)
    expect(r.out).toMatch(/note: 1,500 classes: no confusion matrix is kept above 1000 \(accuracy is counted exactly\)/)
    expect(typeof lastJson(r.out).testAccuracy).toBe('number')
  })

  it('an unknown --label on a file with 200,000 columns: one short line', async () => {
    const wide = join(tmp, 'wide.csv')
    const cols = Array.from({ length: 200_000 }, (_, i) => `c${i}`)
    writeFileSync(wide, `${cols.join(',')}\n${cols.map(() => '1').join(',')}\n`)
    const r = await runMain('train', '--model', 'mlp', '--data', wide, '--label', 'nope', '--shift', '0')
    expect(isCleanError(r)).toBe(true)
    expect(r.err).toMatch(/expected a label column named "nope", got columns c0, c1, c2, c3, c4, c5, c6, c7, \.\.\. \(200,000 in all\)\n$/)
    expect(r.err.length).toBeLessThan(400)
    const o = await runMain('online', '--data-not-a-flag')
    expect(isCleanError(o)).toBe(true)
  })
})

describe('fork with nothing left to train', () => {
  it('says so instead of reporting a NaN accuracy, and leaves no directory behind', async () => {
    const dir = join(tmp, 'short')
    expect((await runMain(...BASE, '--batch', '8', '--out', dir)).code).toBe(0)
    const out = join(tmp, 'fork-at-end')
    await expectError(['fork', dir, '--step', '60', '--out', out], /--step: the fork at step 60 has nothing left to train \(its run ends at step 60\); give more --epochs or an earlier --step/)
    await expectError(['fork', dir, '--step', '61', '--out', out], /the run ends before step 61/)
    const { existsSync } = await import('node:fs')
    expect(existsSync(out)).toBe(false)
    const r = await runMain('fork', dir, '--step', '60', '--epochs', '2', '--out', out, '--json')
    expect(r.code, r.err).toBe(0)
    expect(lastJson(r.out)).toMatchObject({ steps: 120, resumedFrom: 60, stepsComputed: 60 })
  })
})
