// SIGINT / SIGTERM sent to real `gradstream train` and `gradstream online` processes: the
// first signal finishes the current step (record), saves, prints the summary and exits 0;
// a second exits at once. Nothing learned before the signal is lost.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkpointName } from '../../src/io/checkpoint.ts'
import { listCheckpoints, loadCheckpoint } from '../../src/io/checkpoint-file.ts'
import { LOCK_NAME } from '../../src/io/run-lock.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import { lastJson, root, runMain, start, until, writeBlobsCsv } from './child.ts'

const tmp = mkdtempSync(join(tmpdir(), 'gs-signals-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))
const csv = join(tmp, 'blobs.csv')
const EPOCHS = 5
const TOTAL = EPOCHS * 60
const TRAIN = ['train', '--model', 'mlp', '--hidden', '16', '--data', csv, '--label', 'class', '--batch', '8', '--shift', '0', '--seed', '7', '--epochs', String(EPOCHS)]
const ref = join(tmp, 'ref')
const read = (p: string): string => readFileSync(p, 'utf8')
const lineCount = (p: string): number => (existsSync(p) ? read(p).split('\n').filter((l) => l !== '').length : 0)
const checkpoints = (dir: string): number => listCheckpoints(join(dir, 'checkpoints')).length

beforeAll(async () => {
  writeBlobsCsv(csv)
  const r = await runMain(...TRAIN, '--out', ref, '--checkpoint-every', '50', '--json')
  expect(r.code, r.err).toBe(0)
})

describe('gradstream train and SIGINT / SIGTERM', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s: finishes the step, checkpoints it, prints the summary, exits 0; resume does only the rest', async (sig) => {
    const dir = join(tmp, `stopped-${sig}`)
    const child = start([...TRAIN, '--out', dir, '--checkpoint-every', '50', '--json'])
    // Between two periodic checkpoints: the signal's checkpoint is the only one at that step.
    await until(child, () => lineCount(join(dir, 'metrics.ndjson')) >= 60, 'a step past the first epoch')
    child.process.kill(sig)
    const r = await child.done
    expect(r.code, r.err).toBe(0)
    expect(r.err).toMatch(new RegExp(`gradstream train: ${sig}: finishing the current step, then saving and stopping`))
    const s = lastJson(r.out)
    const step = s.steps as number
    expect(s).toMatchObject({ interrupted: sig, resumedFrom: 0, stepsComputed: step })
    expect(step).toBeGreaterThanOrEqual(60)
    expect(step).toBeLessThan(TOTAL)
    expect(r.out).toMatch(new RegExp(`interrupted by ${sig} at step ${step} of ${TOTAL}: checkpoint .*${checkpointName(step)}; continue with: gradstream resume `))
    // Everything up to the stop is on disk: the checkpoint at that step and its metrics.
    const ck = loadCheckpoint(join(dir, 'checkpoints', checkpointName(step)))
    expect(hashParams(ck.snapshot)).toBe(s.hash)
    expect(lineCount(join(dir, 'metrics.ndjson'))).toBe(step)
    expect(existsSync(join(dir, 'summary.json'))).toBe(false) // not finished
    expect(existsSync(join(dir, LOCK_NAME))).toBe(false) // released
    // The same step of the uninterrupted run has the same parameters.
    const replayed = lastJson((await runMain('replay', ref, '--step', String(step), '--json')).out)
    expect(replayed.hash).toBe(s.hash)
    const resumed = await runMain('resume', dir, '--json')
    expect(resumed.code, resumed.err).toBe(0)
    expect(lastJson(resumed.out)).toMatchObject({ resumedFrom: step, stepsComputed: TOTAL - step, steps: TOTAL })
    expect(lastJson(resumed.out).hash).toBe(JSON.parse(read(join(ref, 'summary.json'))).hash)
    expect(read(join(dir, 'metrics.ndjson'))).toBe(read(join(ref, 'metrics.ndjson')))
    expect(read(join(dir, 'epochs.ndjson'))).toBe(read(join(ref, 'epochs.ndjson')))
  })

  it('a second signal exits at once (128 + signal), with the lock released and the run resumable', async () => {
    const dir = join(tmp, 'twice')
    const child = start([...TRAIN, '--out', dir, '--checkpoint-every', '5', '--json'])
    await until(child, () => checkpoints(dir) >= 3, 'three checkpoints')
    // Two different signals are never merged into one by the kernel.
    child.process.kill('SIGINT')
    child.process.kill('SIGTERM')
    const r = await child.done
    expect([130, 143]).toContain(r.code)
    expect(r.err).toMatch(/again: stopping now/)
    expect(r.out).not.toMatch(/"stepsComputed"/) // no summary: it stopped at once
    expect(existsSync(join(dir, LOCK_NAME))).toBe(false)
    const newest = listCheckpoints(join(dir, 'checkpoints')).pop()!.step
    const resumed = await runMain('resume', dir, '--json')
    expect(resumed.code, resumed.err).toBe(0)
    expect(lastJson(resumed.out)).toMatchObject({ resumedFrom: newest, stepsComputed: TOTAL - newest })
    expect(lastJson(resumed.out).hash).toBe(JSON.parse(read(join(ref, 'summary.json'))).hash)
  })

  it('without --out: stops, prints the summary, says nothing was saved', async () => {
    const child = start([...TRAIN, '--json'])
    await until(child, () => /epoch 1\/5/.test(child.out()), 'the first epoch')
    child.process.kill('SIGINT')
    const r = await child.done
    expect(r.code, r.err).toBe(0)
    expect(r.out).toMatch(/interrupted by SIGINT at step \d+ of 300 \(no --out: nothing was saved\)/)
    expect(lastJson(r.out)).toMatchObject({ interrupted: 'SIGINT' })
  })
})

describe('gradstream online and SIGINT / SIGTERM', () => {
  const records = read(join(root, 'test', 'fixtures', 'online', 'blobs.csv')).split('\n')
  const header = records[0]
  const body = records.slice(1).filter((l) => l !== '')

  it('SIGTERM while waiting on stdin: the records sent are learned and checkpointed, the summary printed, exit 0; a restart continues', async () => {
    const dir = join(tmp, 'online-ck')
    const args = ['online', '--label', 'species', '--features', 'f1,f2,f3,f4', '--classes', 'a,b,c', '--hidden', '8', '--lr', '0.1', '--report-every', '1', '--checkpoint-dir', dir, '--checkpoint-every', '1000', '--json']
    const child = start(args, { stdin: 'pipe' })
    // 300 lines, then the pipe stays open: the process waits for more, as on a socket.
    child.process.stdin!.write(`${header}\n${body.slice(0, 300).join('\n')}\n`)
    expect(body[299]).toMatch(/^[-\d.,]+,[abc]$/) // a good record: its progress line says all 300 were read
    await until(child, () => /\nrecords 300:/.test(child.out()), 'the 300th record')
    expect(existsSync(join(dir, LOCK_NAME))).toBe(true)
    child.process.kill('SIGTERM')
    const r = await child.done
    expect(r.code, r.err).toBe(0)
    const s = lastJson(r.out)
    expect(s).toMatchObject({ interrupted: 'SIGTERM', seen: 300, resumedFrom: 0, checkpoints: 1 })
    const learned = s.learned as number
    expect(s.steps).toBe(learned)
    expect(r.out).toMatch(/stopped by SIGTERM after record 300; checkpoint /)
    // The final checkpoint holds exactly the parameters of the summary.
    const ck = loadCheckpoint(join(dir, checkpointName(learned)))
    expect(hashParams(ck.snapshot)).toBe(s.hash)
    expect(readdirSync(dir).filter((n) => n.endsWith('.safetensors'))).toEqual([checkpointName(learned)])
    // Restarted on the same directory with the rest of the records: it continues from there,
    // and ends where one process reading everything ends.
    const rest = start(args, { stdin: 'pipe' })
    rest.process.stdin!.end(`${header}\n${body.slice(300).join('\n')}\n`)
    const r2 = await rest.done
    expect(r2.code, r2.err).toBe(0)
    const s2 = lastJson(r2.out)
    expect(s2.resumedFrom).toBe(learned)
    expect(r2.out).toMatch(new RegExp(`continuing from step ${learned}: `))
    const whole = start(['online', ...args.slice(1, args.indexOf('--checkpoint-dir')), '--json'], { stdin: 'pipe' })
    whole.process.stdin!.end(`${header}\n${body.join('\n')}\n`)
    const r3 = await whole.done
    expect(r3.code, r3.err).toBe(0)
    expect(s2.steps).toBe(lastJson(r3.out).steps)
    expect(s2.hash).toBe(lastJson(r3.out).hash)
  })
})
