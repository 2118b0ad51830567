// gradstream train --out/--checkpoint-every, resume, replay, fork and inspect, through
// the command line: in this process through main(), and as real child processes where a
// real SIGKILL is the point.

import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli.ts'
import { checkpointName } from '../../src/io/checkpoint.ts'
import { listCheckpoints, loadCheckpoint } from '../../src/io/checkpoint-file.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import { blobs, slotsHash } from '../helpers.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const tmp = mkdtempSync(join(tmpdir(), 'gs-cli-ckpt-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const csv = join(tmp, 'blobs.csv')
// 600 rows: 480 train -> 60 batches of 8 per epoch.
const TRAIN = ['--model', 'mlp', '--hidden', '16', '--data', csv, '--label', 'class', '--batch', '8', '--shift', '0', '--seed', '4']
const EPOCHS = 3

interface Ran {
  readonly code: number
  readonly out: string
  readonly err: string
}

const run = async (...argv: string[]): Promise<Ran> => {
  let out = ''
  let err = ''
  const stream = (add: (s: string) => void) => ({ write: (s: string) => (add(s), true), isTTY: false, columns: 100 }) as unknown as NodeJS.WriteStream
  const code = await main(argv, { stdout: stream((s) => (out += s)), stderr: stream((s) => (err += s)) })
  return { code, out, err }
}

const lastJson = (r: Ran): Record<string, unknown> => JSON.parse(r.out.trim().split('\n').pop()!) as Record<string, unknown>
const read = (path: string): string => readFileSync(path, 'utf8')
const lines = (path: string): Record<string, unknown>[] => read(path).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)

/** Everything in a run directory but the timing-dependent summary fields. */
const outcome = (dir: string) => {
  const { seconds: _s, samplesPerSecond: _r, ...summary } = JSON.parse(read(join(dir, 'summary.json'))) as Record<string, unknown>
  const final = listCheckpoints(join(dir, 'checkpoints')).pop()!
  const ck = loadCheckpoint(final.path)
  return {
    summary,
    metrics: read(join(dir, 'metrics.ndjson')),
    epochs: read(join(dir, 'epochs.ndjson')),
    final: { step: final.step, hash: hashParams(ck.snapshot), velocity: slotsHash(ck.snapshot) },
  }
}

/** A one-line error on stderr, exit code 2, no stack trace. */
const expectCleanError = (r: Ran, pattern: RegExp): void => {
  expect(r.code, r.err).toBe(2)
  expect(r.err).toMatch(pattern)
  expect(r.err.trim().split('\n')).toHaveLength(1)
  expect(r.err).not.toMatch(/\n\s+at /)
}

const ref = join(tmp, 'ref')

beforeAll(async () => {
  const ds = blobs(200, 3, 4, 21)
  const rows = Array.from({ length: 600 }, (_, i) => `${Array.from(ds.x.data.subarray(i * 4, i * 4 + 4), (v) => v.toFixed(5)).join(',')},c${ds.labels![i]}`)
  writeFileSync(csv, `a,b,c,d,class\n${rows.join('\n')}\n`)
  const r = await run('train', ...TRAIN, '--epochs', String(EPOCHS), '--out', ref, '--checkpoint-every', '7', '--json')
  expect(r.code, r.err).toBe(0)
})

describe('gradstream train --out DIR --checkpoint-every N', () => {
  it('writes config, one metrics line per step (step, epoch, loss, lr), epoch rows, and checkpoints every N steps and at the end', () => {
    const m = lines(join(ref, 'metrics.ndjson'))
    expect(m.length).toBe(180)
    expect(m.map((l) => l.step)).toEqual(Array.from({ length: 180 }, (_, i) => i + 1))
    expect(m[61]).toMatchObject({ step: 62, epoch: 1 })
    for (const l of m) {
      expect(typeof l.loss).toBe('number')
      expect(typeof l.lr).toBe('number')
    }
    expect(lines(join(ref, 'epochs.ndjson')).map((r) => r.epoch)).toEqual([1, 2, 3])
    const steps = listCheckpoints(join(ref, 'checkpoints')).map((c) => c.step)
    expect(steps).toEqual([...Array.from({ length: 25 }, (_, i) => 7 * (i + 1)), 180])
    const summary = JSON.parse(read(join(ref, 'summary.json'))) as { hash: string; steps: number }
    expect(summary.steps).toBe(180)
    expect(hashParams(loadCheckpoint(join(ref, 'checkpoints', checkpointName(180))).snapshot)).toBe(summary.hash)
    const ck = loadCheckpoint(join(ref, 'checkpoints', checkpointName(70)))
    expect(ck.extra).toMatchObject({ metrics_lines: '70', epoch_rows: '1' })
    expect(JSON.parse(ck.extra.run_config)).toMatchObject({ model: 'mlp', hidden: [16], checkpointEvery: 7 })
    expect(ck.snapshot.metrics.loss).toBe(m[69].loss)
  })

  it('refuses --checkpoint-every without --out', async () => {
    expectCleanError(await run('train', ...TRAIN, '--checkpoint-every', '5'), /--checkpoint-every: checkpoints go to a run directory; give --out DIR too/)
  })
})

describe('gradstream replay DIR --step N', () => {
  it('recomputes any step exactly: loss as logged, parameters as a keep-every-step run has them', async () => {
    const all = join(tmp, 'every-step')
    expect((await run('train', ...TRAIN, '--epochs', String(EPOCHS), '--out', all, '--checkpoint-every', '1')).code).toBe(0)
    const m = lines(join(ref, 'metrics.ndjson'))
    for (const step of [1, 6, 8, 40, 60, 61, 139, 180]) {
      const r = await run('replay', ref, '--step', String(step), '--json')
      expect(r.code, r.err).toBe(0)
      const rep = lastJson(r)
      expect(rep.step).toBe(step)
      expect(rep.loss).toBe(m[step - 1].loss)
      expect(rep.lr).toBe(m[step - 1].lr)
      expect(rep.replayed as number).toBeLessThan(7)
      expect(rep.hash).toBe(hashParams(loadCheckpoint(join(all, 'checkpoints', checkpointName(step))).snapshot))
    }
  })

  it('prints a readable report, and step 0 from the run config', async () => {
    const r = await run('replay', ref, '--step', '10')
    expect(r.out).toMatch(/^step 10 \(epoch 1, batch 10\), replayed 3 steps from step 7\nloss \d\.\d{6}, lr 0\.0\d+\nhash [0-9a-f]{64}\ntensor\s+shape\s+L2 norm\nfc1\.W\s+\[4, 16\]\s+\d/)
    const zero = lastJson(await run('replay', ref, '--step', '0', '--json'))
    expect(zero).toMatchObject({ step: 0, loss: null, from: 0, replayed: 0 })
  })

  it('refuses steps past the end, bad flags and folders that are not runs, on one line', async () => {
    expectCleanError(await run('replay', ref, '--step', '181'), /replay: the run ends before step 181/)
    expectCleanError(await run('replay', ref), /--step: expected the step to go to/)
    expectCleanError(await run('replay', ref, '--step', '-3'), /--step/)
    expectCleanError(await run('replay', tmp, '--step', '3'), /not a run directory \(no config\.json/)
  })
})

describe('gradstream inspect FILE', () => {
  it('lists tensors, shapes and metadata', async () => {
    const file = join(ref, 'checkpoints', checkpointName(14))
    const r = await run('inspect', file)
    expect(r.code, r.err).toBe(0)
    expect(r.out).toMatch(/8 tensors, 262 values, [\d,]+ bytes/)
    expect(r.out).toMatch(/gradstream checkpoint \(version 0\.1\.0\): step 14, epoch 1, checksum ok/)
    expect(r.out).toMatch(/fc1\.W\s+F32\s+\[4, 16\]\s+256/)
    expect(r.out).toMatch(/opt\.velocity\.fc2\.b\s+F32\s+\[3\]\s+12/)
    expect(r.out).toMatch(/\n {2}optimizer\s+momentum\n/)
    const j = lastJson(await run('inspect', file, '--json'))
    expect((j.metadata as Record<string, string>).step).toBe('14')
    expect((j.tensors as unknown[]).length).toBe(8)
  })

  it('a file the loader rejects is one line on stderr and exit code 2', async () => {
    const good = readFileSync(join(ref, 'checkpoints', checkpointName(14)))
    const bad = (name: string, bytes: Uint8Array): string => {
      const p = join(tmp, name)
      writeFileSync(p, bytes)
      return p
    }
    const flipped = Uint8Array.from(good)
    flipped[flipped.length - 1] ^= 1
    const bomb = new Uint8Array(16)
    new DataView(bomb.buffer).setBigUint64(0, 2n ** 63n, true)
    mkdirSync(join(tmp, 'dir.safetensors'), { recursive: true })
    const cases: [string, RegExp][] = [
      [bad('cut.safetensors', good.subarray(0, good.length - 5)), /cut\.safetensors: tensor "opt\.velocity\.fc2\.b": data_offsets \[1036, 1048\] run past the 1043-byte data buffer/],
      [bad('flipped.safetensors', flipped), /flipped\.safetensors: tensor data does not match its data_sha256 checksum/],
      [bad('bomb.safetensors', bomb), /bomb\.safetensors: header length 9223372036854775808 exceeds the 100000000-byte limit/],
      [bad('text.safetensors', new TextEncoder().encode('hello, this is not a checkpoint')), /header length \d+ exceeds/],
      [join(tmp, 'dir.safetensors'), /dir\.safetensors: (not a regular file|cannot read)/],
      [join(tmp, 'missing.safetensors'), /missing\.safetensors: cannot open: ENOENT/],
    ]
    for (const [file, pattern] of cases) expectCleanError(await run('inspect', file), pattern)
    expectCleanError(await run('inspect'), /expected one \.safetensors file, got none/)
  })
})

describe('gradstream fork DIR --step N --lr X --out DIR2', () => {
  it('branches: two identical forks are bit-identical, differ from the original, and leave it untouched', async () => {
    const snapshotOf = (dir: string) => readdirSync(dir, { recursive: true }).map(String).sort().map((f) => [f, existsSync(join(dir, f)) && !f.endsWith('checkpoints') ? readFileSync(join(dir, f)).length : 0])
    const before = JSON.stringify(snapshotOf(ref)) + read(join(ref, 'metrics.ndjson'))
    const f1 = await run('fork', ref, '--step', '53', '--lr', '0.01', '--out', join(tmp, 'fork1'), '--json')
    const f2 = await run('fork', ref, '--step', '53', '--lr', '0.01', '--out', join(tmp, 'fork2'), '--json')
    expect(f1.code, f1.err).toBe(0)
    expect(f1.out).toMatch(/fork: .* at step 53 -> .*fork1 with lr 0\.05 -> 0\.01/)
    expect(lastJson(f2).hash).toBe(lastJson(f1).hash)
    expect(lastJson(f1).hash).not.toBe(JSON.parse(read(join(ref, 'summary.json'))).hash)
    expect(read(join(tmp, 'fork2', 'metrics.ndjson'))).toBe(read(join(tmp, 'fork1', 'metrics.ndjson')))
    expect(JSON.stringify(snapshotOf(ref)) + read(join(ref, 'metrics.ndjson'))).toBe(before)
    // The fork's own run directory: config with its parent, metrics from step 54, a checkpoint at 53.
    const config = JSON.parse(read(join(tmp, 'fork1', 'config.json'))) as Record<string, unknown>
    expect(config).toMatchObject({ lr: 0.01, parent: { dir: ref, step: 53 } })
    const m = lines(join(tmp, 'fork1', 'metrics.ndjson'))
    expect(m[0]).toMatchObject({ step: 54 })
    expect(m.length).toBe(127)
    expect(m[0].lr).toBeLessThan(0.01)
    expect(listCheckpoints(join(tmp, 'fork1', 'checkpoints'))[0].step).toBe(53)
    // Its step 53 is the original's, and it replays from there.
    const at60 = lastJson(await run('replay', join(tmp, 'fork1'), '--step', '60', '--json'))
    expect(at60.loss).toBe(m[6].loss)
    expectCleanError(await run('replay', join(tmp, 'fork1', ''), '--step', '20'), /forked from .* at step 53 .* replay step 20 in/)
    expectCleanError(await run('fork', ref, '--step', '53', '--out', join(tmp, 'fork1')), /--out: .*fork1 already holds a run; continue it with gradstream resume .*, or replace it with --force/)
  })

  it('a fork with a new batch size and optimizer runs to the end', async () => {
    const r = await run('fork', ref, '--step', '53', '--batch', '16', '--optimizer', 'adam', '--lr', '0.01', '--out', join(tmp, 'fork3'), '--json')
    expect(r.code, r.err).toBe(0)
    // Step 53: 424 of 480 samples used; batches of 16 continue at batch 27 of 30, then 2 epochs of 30.
    expect(lastJson(r).steps).toBe(53 + 3 + 60)
  })
})

// ---------------------------------------------------------------------------------------
// Resume after a real SIGKILL

const RESUMABLE_EPOCHS = 6 // 360 steps: long enough to kill at several moments
const killRef = join(tmp, 'kill-ref')

/** Starts `gradstream train` (or resume) as a child; SIGKILLs it once `when(dir)` holds. */
const killChild = (argv: string[], dir: string, when: (dir: string) => boolean, extraMs: number): Promise<void> =>
  new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'gradstream.js'), ...argv], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d: Buffer) => void (err += d.toString()))
    const poll = setInterval(() => {
      if (when(dir)) {
        clearInterval(poll)
        setTimeout(() => child.kill('SIGKILL'), extraMs)
      }
    }, 1)
    child.on('error', fail)
    child.on('close', (code, signal) => {
      clearInterval(poll)
      if (signal === 'SIGKILL') done()
      else fail(new Error(`expected the run to be killed, but it exited with ${code}: ${err}`))
    })
  })

const checkpoints = (dir: string): number => listCheckpoints(join(dir, 'checkpoints')).length

/** The step of the newest checkpoint that loads (0 when none does), found by loading them here. */
const newestLoadable = (dir: string): number => {
  for (const c of listCheckpoints(join(dir, 'checkpoints')).reverse())
    try {
      return loadCheckpoint(c.path).snapshot.step
    } catch {
      // try the one before
    }
  return 0
}

/** The resumed process continued from the newest usable checkpoint and computed only the rest. */
const expectContinued = (r: Ran, from: number, total: number): void => {
  const s = lastJson(r)
  expect(s.resumedFrom).toBe(from)
  expect(s.stepsComputed).toBe(total - from)
  expect(s.steps).toBe(total)
  expect(r.out).toMatch(from === 0 ? /^gradstream resume: no usable checkpoint in / : new RegExp(`^gradstream resume: .* from step ${from} `))
}

describe('gradstream resume DIR after SIGKILL', () => {
  beforeAll(async () => {
    const r = await run('train', ...TRAIN, '--epochs', String(RESUMABLE_EPOCHS), '--out', killRef, '--checkpoint-every', '5', '--json')
    expect(r.code, r.err).toBe(0)
  })

  it.each([
    ['before the first checkpoint', (d: string) => existsSync(join(d, 'config.json')), 0],
    ['right after a checkpoint', (d: string) => checkpoints(d) >= 4, 0],
    ['between checkpoints', (d: string) => checkpoints(d) >= 20, 2],
    ['late in the run', (d: string) => checkpoints(d) >= 45, 1],
  ] as const)('killed %s: resumed, it ends bit-identical to the uninterrupted run', async (_when, when, extraMs) => {
    const dir = join(tmp, `kill-${_when.replace(/\W+/g, '-')}`)
    await killChild(['train', ...TRAIN, '--epochs', String(RESUMABLE_EPOCHS), '--out', dir, '--checkpoint-every', '5'], dir, when, extraMs)
    expect(existsSync(join(dir, 'summary.json'))).toBe(false) // it really was interrupted
    const from = newestLoadable(dir)
    const r = await run('resume', dir, '--json')
    expect(r.code, r.err).toBe(0)
    expectContinued(r, from, 6 * 60)
    expect(outcome(dir)).toEqual(outcome(killRef))
  })

  it('killed twice (once while resuming), resumed twice: still bit-identical', async () => {
    const dir = join(tmp, 'kill-twice')
    const argv = ['train', ...TRAIN, '--epochs', String(RESUMABLE_EPOCHS), '--out', dir, '--checkpoint-every', '5']
    await killChild(argv, dir, (d) => checkpoints(d) >= 10, 3)
    const at = checkpoints(dir)
    await killChild(['resume', dir], dir, (d) => checkpoints(d) >= at + 15, 1)
    expect(existsSync(join(dir, 'summary.json'))).toBe(false)
    const from = newestLoadable(dir)
    expect(from).toBeGreaterThanOrEqual(5 * (at + 15))
    const r = await run('resume', dir, '--json')
    expect(r.code, r.err).toBe(0)
    expectContinued(r, from, 6 * 60)
    expect(outcome(dir)).toEqual(outcome(killRef))
  })

  it('a finished run resumes to the same result; corrupt newest checkpoints are skipped, named, and recomputed', async () => {
    const dir = join(tmp, 'finished')
    cpSync(killRef, dir, { recursive: true })
    const r = await run('resume', dir, '--json')
    expect(r.code, r.err).toBe(0)
    expectContinued(r, 360, 360)
    expect(outcome(dir)).toEqual(outcome(killRef))
    // The newest cut short, the one before it with a flipped byte: resume goes back to 350.
    const cks = listCheckpoints(join(dir, 'checkpoints'))
    const [c350, c355, c360] = cks.slice(-3)
    expect([c350.step, c355.step, c360.step]).toEqual([350, 355, 360])
    writeFileSync(c360.path, readFileSync(c360.path).subarray(0, 100))
    const flipped = readFileSync(c355.path)
    flipped[flipped.length - 3] ^= 0x40
    writeFileSync(c355.path, flipped)
    const again = await run('resume', dir, '--json')
    expect(again.code, again.err).toBe(0)
    expect(again.err).toMatch(/skipped .*step-00000360\.safetensors: truncated/)
    expect(again.err).toMatch(/skipped .*step-00000355\.safetensors: tensor data does not match its data_sha256 checksum/)
    expectContinued(again, 350, 360)
    // Both bad files were rewritten by the recomputed steps: the run is whole again.
    expect(outcome(dir)).toEqual(outcome(killRef))
    expect(newestLoadable(dir)).toBe(360)
    // Every checkpoint unusable: the run starts over (and still ends at the same bits).
    for (const c of listCheckpoints(join(dir, 'checkpoints'))) writeFileSync(c.path, 'not a checkpoint')
    const over = await run('resume', dir, '--json')
    expect(over.code, over.err).toBe(0)
    expectContinued(over, 0, 360)
    expect(outcome(dir)).toEqual(outcome(killRef))
  })
})

describe('the kernel backend of a run', () => {
  it('is recorded in config.json and every checkpoint; replay and resume use the recorded one', async () => {
    const dirs = { ts: join(tmp, 'backend-ts'), simd: join(tmp, 'backend-simd') }
    for (const b of ['ts', 'simd'] as const) {
      const r = await run('train', ...TRAIN, '--epochs', '1', '--out', dirs[b], '--backend', b)
      expect(r.code, r.err).toBe(0)
      expect(r.out).toContain(`${b} kernels`)
      expect((JSON.parse(read(join(dirs[b], 'config.json'))) as { backend: string }).backend).toBe(b)
      for (const c of listCheckpoints(join(dirs[b], 'checkpoints'))) expect(loadCheckpoint(c.path).backend).toBe(b)
    }
    const last = (b: 'ts' | 'simd') => listCheckpoints(join(dirs[b], 'checkpoints')).pop()!
    const hash = (b: 'ts' | 'simd') => hashParams(loadCheckpoint(last(b).path).snapshot)
    // the backends round differently, so the runs end apart ...
    expect(hash('ts')).not.toBe(hash('simd'))
    // ... and each replays exactly, whichever backend the process ran last
    for (const b of ['ts', 'simd', 'ts'] as const) {
      const r = await run('replay', dirs[b], '--step', String(last(b).step), '--json')
      expect(r.code, r.err).toBe(0)
      expect(lastJson(r).hash).toBe(hash(b))
    }
  })

  it('refuses an unknown backend in one line', async () => {
    expectCleanError(await run('train', ...TRAIN, '--backend', 'gpu'), /--backend: expected one of simd, ts, got "gpu"/)
  })
})
