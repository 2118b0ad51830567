// Run directories under hostile use: two writers at once (real processes), stale and
// foreign locks, --out onto an existing run (refused; --force swaps atomically), and
// output paths that cannot be written (checked before any data is loaded, one line, exit
// 2, nothing left behind).

import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listCheckpoints, loadCheckpoint } from '../../src/io/checkpoint-file.ts'
import { LOCK_NAME, lockRunDir, processStartTime, readRunLock } from '../../src/io/run-lock.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import { isCleanError, lastJson, runMain, start, until, writeBlobsCsv } from './child.ts'

const tmp = mkdtempSync(join(tmpdir(), 'gs-rundir-'))
const mounted: string[] = []
afterAll(() => {
  for (const m of mounted) spawnSync('umount', [m])
  rmSync(tmp, { recursive: true, force: true })
})

/** Mounts (or remounts) a tmpfs at `dir`; false where this process may not mount. */
const mount = (dir: string, options: string): boolean => spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]).status === 0
const csv = join(tmp, 'blobs.csv')
const TRAIN = ['train', '--model', 'mlp', '--hidden', '16', '--data', csv, '--label', 'class', '--batch', '8', '--shift', '0', '--seed', '3']
const read = (p: string): string => readFileSync(p, 'utf8')
const ref = join(tmp, 'ref')

/** Every file of a directory with its bytes, for "left exactly as it was". */
const contents = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => [join(e.parentPath, e.name).slice(dir.length), readFileSync(join(e.parentPath, e.name)).toString('base64')]),
  )

/** A pid that belonged to a process that has exited. */
const deadPid = (): number => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout)

beforeAll(async () => {
  writeBlobsCsv(csv)
  const r = await runMain(...TRAIN, '--epochs', '4', '--out', ref, '--checkpoint-every', '10', '--json')
  expect(r.code, r.err).toBe(0)
})

describe('one writer per run directory', () => {
  it('two resumes started together on one run: one runs, the other exits 2 naming the holder; the files are whole', async () => {
    const dir = join(tmp, 'two')
    const r0 = await runMain(...TRAIN, '--epochs', '12', '--out', dir, '--checkpoint-every', '10')
    expect(r0.code).toBe(0)
    // Back to step 100 (as if killed there), then two processes resume it at once.
    for (const c of listCheckpoints(join(dir, 'checkpoints'))) if (c.step > 100) rmSync(c.path)
    rmSync(join(dir, 'summary.json'))
    const a = start(['resume', dir, '--json'])
    const b = start(['resume', dir, '--json'])
    const [ra, rb] = await Promise.all([a.done, b.done])
    const [ok, refused] = ra.code === 0 ? [ra, rb] : [rb, ra]
    expect(ok.code, ok.err).toBe(0)
    expect(isCleanError(refused), refused.err).toBe(true)
    expect(refused.err).toMatch(new RegExp(`gradstream resume: .*two is in use by process \\d+ on ${hostname()} \\(since .*\\); one process at a time writes a run`))
    const steps = read(join(dir, 'metrics.ndjson')).trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step)
    expect(steps).toEqual(Array.from({ length: 720 }, (_, i) => i + 1))
    const epochs = read(join(dir, 'epochs.ndjson')).trim().split('\n').map((l) => (JSON.parse(l) as { epoch: number }).epoch)
    expect(epochs).toEqual(Array.from({ length: 12 }, (_, i) => i + 1))
    expect(lastJson(ok.out)).toMatchObject({ resumedFrom: 100, stepsComputed: 620 })
    expect(existsSync(join(dir, LOCK_NAME))).toBe(false)
  })

  it('train --out --force and resume on a run being written are refused; replay reads it meanwhile; SIGKILL leaves a stale lock that resume takes over', async () => {
    const dir = join(tmp, 'busy')
    const child = start([...TRAIN, '--epochs', '40', '--out', dir, '--checkpoint-every', '20'])
    await until(child, () => listCheckpoints(join(dir, 'checkpoints')).length >= 2, 'two checkpoints')
    const forced = await runMain(...TRAIN, '--epochs', '2', '--out', dir, '--force')
    expect(isCleanError(forced), forced.err).toBe(true)
    expect(forced.err).toMatch(/is in use by process \d+/)
    const resumed = await runMain('resume', dir)
    expect(isCleanError(resumed)).toBe(true)
    // A reader needs no lock.
    const replay = await runMain('replay', dir, '--step', '20', '--json')
    expect(replay.code, replay.err).toBe(0)
    expect(readRunLock(dir)?.pid).toBe(child.process.pid)
    child.process.kill('SIGKILL')
    await child.done
    // Its holder is dead: the lock is stale, and resume takes it over.
    expect(readRunLock(dir)?.pid).toBe(child.process.pid)
    const after = await runMain('resume', dir, '--json')
    expect(after.code, after.err).toBe(0)
    expect(lastJson(after.out).steps).toBe(40 * 60)
  }, 180_000)

  it('stale locks (dead pid, pid reused by another process, torn file) are taken over; a foreign host is refused', () => {
    const dir = join(tmp, 'locks')
    mkdirSync(dir)
    const lockFile = join(dir, LOCK_NAME)
    const write = (o: unknown): void => writeFileSync(lockFile, typeof o === 'string' ? o : JSON.stringify(o))
    write({ pid: deadPid(), host: hostname(), started: 'then', boot: 1 })
    const l1 = lockRunDir(dir)
    expect(readRunLock(dir)?.pid).toBe(process.pid)
    l1.release()
    expect(existsSync(lockFile)).toBe(false)
    // pid 1 is alive, but it started at another time than the lock says: a reused pid.
    const boot1 = processStartTime(1)
    if (boot1 !== null) {
      write({ pid: 1, host: hostname(), started: 'then', boot: boot1 + 12345 })
      lockRunDir(dir).release()
      // The same pid with its real start time is a live holder.
      write({ pid: 1, host: hostname(), started: 'then', boot: boot1 })
      expect(() => lockRunDir(dir)).toThrow(/in use by process 1 on /)
    }
    write('{"pid": 12')
    lockRunDir(dir).release()
    write({ pid: 4242, host: 'elsewhere.example', started: 'then', boot: null })
    expect(() => lockRunDir(dir)).toThrow(new RegExp(`in use by process 4242 on elsewhere\\.example .*if that process is gone, delete ${lockFile.replace(/[.]/g, '\\.')}`))
    rmSync(lockFile)
    // One process, twice: the second is refused as well (two commands in one program).
    const held = lockRunDir(dir)
    expect(() => lockRunDir(dir)).toThrow(/in use by process/)
    held.release()
  })

  it('many processes race for one stale lock: exactly one wins', async () => {
    const dir = join(tmp, 'race')
    mkdirSync(dir)
    writeFileSync(join(dir, LOCK_NAME), JSON.stringify({ pid: deadPid(), host: hostname(), started: 'then', boot: 1 }))
    const script = `
      import { lockRunDir } from ${JSON.stringify(join(process.cwd(), 'src', 'io', 'run-lock.ts'))}
      try { const l = lockRunDir(${JSON.stringify(dir)}); console.log('won'); setTimeout(() => l.release(), 1500) }
      catch (e) { console.log('lost: ' + e.message) }`
    const outs = await Promise.all(
      Array.from({ length: 6 }, () =>
        new Promise<string>((ok) => {
          const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script])
          let text = ''
          c.stdout.on('data', (d: Buffer) => (text += d.toString()))
          c.stderr.on('data', (d: Buffer) => (text += d.toString()))
          c.on('close', () => ok(text))
        }),
      ),
    )
    expect(outs.filter((o) => o.startsWith('won')).length, outs.join('\n')).toBe(1)
    expect(outs.filter((o) => /^lost: .*(in use by process|taking over)/.test(o)).length, outs.join('\n')).toBe(5)
  }, 120_000)
})

describe('--out onto an existing directory', () => {
  it('a finished run is refused (exit 2, naming resume and --force) and left byte for byte as it was', async () => {
    const before = contents(ref)
    const r = await runMain(...TRAIN, '--epochs', '1', '--out', ref)
    expect(isCleanError(r), r.err).toBe(true)
    expect(r.err).toMatch(/--out: .*ref already holds a run; continue it with gradstream resume .*ref, or replace it with --force/)
    expect(contents(ref)).toEqual(before)
  })

  it('--force replaces it whole: the new run alone, resumable and replayable; a failed start leaves the old one', async () => {
    const dir = join(tmp, 'forced')
    expect((await runMain(...TRAIN, '--epochs', '3', '--out', dir, '--checkpoint-every', '7')).code).toBe(0)
    const old = contents(dir)
    // A start that fails after the directory checks (its data cannot be read): nothing changes.
    const bad = await runMain(...TRAIN.map((a) => (a === csv ? join(tmp, 'missing.csv') : a)), '--epochs', '1', '--out', dir, '--force')
    expect(isCleanError(bad), bad.err).toBe(true)
    expect(contents(dir)).toEqual(old)
    expect(readdirSync(tmp).filter((n) => n.includes('.forced.'))).toEqual([])
    const r = await runMain(...TRAIN, '--epochs', '2', '--seed', '9', '--out', dir, '--force', '--json')
    expect(r.code, r.err).toBe(0)
    expect(JSON.parse(read(join(dir, 'config.json')))).toMatchObject({ epochs: 2, seed: 9 })
    expect(listCheckpoints(join(dir, 'checkpoints')).map((c) => c.step)).toEqual([60, 120])
    expect(read(join(dir, 'metrics.ndjson')).trim().split('\n')).toHaveLength(120)
    expect(readdirSync(tmp).filter((n) => n.includes('.forced.'))).toEqual([])
    expect(hashParams(loadCheckpoint(listCheckpoints(join(dir, 'checkpoints')).pop()!.path).snapshot)).toBe(lastJson(r.out).hash)
    const resumed = await runMain('resume', dir, '--json')
    expect(lastJson(resumed.out)).toMatchObject({ resumedFrom: 120, stepsComputed: 0, hash: lastJson(r.out).hash })
    expect((await runMain('replay', dir, '--step', '90')).code).toBe(0)
  })

  it('--force does not replace a directory that is not a run; an empty directory is used as is', async () => {
    const mine = join(tmp, 'my-files')
    mkdirSync(mine)
    writeFileSync(join(mine, 'thesis.tex'), 'precious')
    const r = await runMain(...TRAIN, '--epochs', '1', '--out', mine, '--force')
    expect(isCleanError(r)).toBe(true)
    expect(r.err).toMatch(/is not empty and is not a run directory \(no config\.json\); --force replaces only a run/)
    expect(read(join(mine, 'thesis.tex'))).toBe('precious')
    const plain = await runMain(...TRAIN, '--epochs', '1', '--out', mine)
    expect(plain.err).toMatch(/--out: .*my-files is not empty; give a new or empty directory/)
    const empty = join(tmp, 'empty')
    mkdirSync(empty)
    expect((await runMain(...TRAIN, '--epochs', '1', '--out', empty)).code).toBe(0)
    expect(existsSync(join(empty, 'summary.json'))).toBe(true)
    const noOut = await runMain(...TRAIN, '--epochs', '1', '--force')
    expect(noOut.err).toMatch(/--force: .* give --out DIR too/)
  })
})

describe('output paths that cannot be written', () => {
  // A data path that does not exist: an error about --out proves the output was checked first.
  const NO_DATA = TRAIN.map((a) => (a === csv ? join(tmp, 'no-such-data.csv') : a))

  it('under a regular file, a dangling symlink, a file, a read-only file system: one line, exit 2, nothing created', async () => {
    const file = join(tmp, 'a-file')
    writeFileSync(file, 'x')
    const dangling = join(tmp, 'dangling')
    symlinkSync(join(tmp, 'nowhere', 'deeper'), dangling)
    const cases: [string, RegExp][] = [
      [join(file, 'run'), /--out: .*a-file\/run cannot be created: .*a-file is a file, not a directory/],
      [join(file, 'deeper', 'run'), /--out: .*cannot be created: .*a-file is a file, not a directory/],
      [dangling, /--out: .*dangling is a symbolic link to a path that does not exist/],
      [file, /--out: .*a-file exists and is not a directory/],
    ]
    // /sys refuses new entries even to root (EPERM or EACCES): a real unwritable place.
    let sysWritable = true
    try {
      mkdirSync('/sys/gradstream-probe')
      rmSync('/sys/gradstream-probe', { recursive: true })
    } catch {
      sysWritable = false
    }
    if (!sysWritable) cases.push(['/sys/gradstream-run', /--out: cannot create \/sys\/gradstream-run: (operation not permitted \(EPERM\)|permission denied \(EACCES\)|read-only file system \(EROFS\))/])
    for (const [out, pattern] of cases) {
      const before = readdirSync(tmp).sort()
      const r = await runMain(...NO_DATA, '--epochs', '1', '--out', out)
      expect(isCleanError(r), `${out}: ${r.err}`).toBe(true)
      expect(r.err).toMatch(pattern)
      expect(readdirSync(tmp).sort()).toEqual(before)
    }
    expect(sysWritable).toBe(false)
  })

  it('a directory it creates for a run that cannot start (bad data) is removed again', async () => {
    const out = join(tmp, 'new', 'nested', 'run')
    const r = await runMain(...NO_DATA, '--epochs', '1', '--out', out)
    expect(isCleanError(r)).toBe(true)
    expect(r.err).toMatch(/no-such-data\.csv/)
    expect(existsSync(out)).toBe(false)
  })

  it('a disk that fills up mid-run: one line naming the file and ENOSPC, exit 2; every checkpoint whole; resume finishes it', async () => {
    // A real small file system (tmpfs). Mounting needs root; without it, /dev/full stands in.
    const mnt = join(tmp, 'small-disk')
    mkdirSync(mnt)
    if (!mount(mnt, 'size=96k')) {
      const r = await runMain(...TRAIN, '--epochs', '1', '--out', '/dev/full/run')
      expect(isCleanError(r)).toBe(true)
      return
    }
    mounted.push(mnt)
    const dir = join(mnt, 'run')
    const r = await runMain(...TRAIN, '--epochs', '4', '--out', dir, '--checkpoint-every', '1')
    expect(isCleanError(r), r.err).toBe(true)
    expect(r.err).toMatch(/^gradstream train: (could not write )?\/.*small-disk\/run\/\S+: no space left on device \(ENOSPC\)\n$/)
    const cks = listCheckpoints(join(dir, 'checkpoints'))
    expect(cks.length).toBeGreaterThan(3)
    for (const c of cks) expect(loadCheckpoint(c.path).snapshot.step).toBe(c.step)
    expect(readdirSync(join(dir, 'checkpoints')).filter((n) => n.endsWith('.tmp'))).toEqual([])
    expect(existsSync(join(dir, LOCK_NAME))).toBe(false)
    // More room, and the run goes on from its newest checkpoint to the same end as the reference.
    expect(mount(mnt, 'remount,size=64m')).toBe(true)
    const resumed = await runMain('resume', dir, '--json')
    expect(resumed.code, resumed.err).toBe(0)
    expect(lastJson(resumed.out).resumedFrom).toBe(cks[cks.length - 1].step)
    expect(lastJson(resumed.out).hash).toBe(JSON.parse(read(join(ref, 'summary.json'))).hash)
  })

  it('a read-only file system: one line naming the directory, exit 2', async () => {
    const mnt = join(tmp, 'ro-disk')
    mkdirSync(mnt)
    if (!mount(mnt, 'size=1m,ro')) return
    mounted.push(mnt)
    const r = await runMain(...NO_DATA, '--epochs', '1', '--out', join(mnt, 'run'))
    expect(isCleanError(r), r.err).toBe(true)
    expect(r.err).toMatch(/--out: cannot create .*ro-disk\/run: read-only file system \(EROFS\)/)
  })
})

describe('a run directory whose config.json is wrong', () => {
  it('names the file and the field, and leaves the metrics as they were', async () => {
    const dir = join(tmp, 'bad-config')
    expect((await runMain(...TRAIN, '--epochs', '1', '--out', dir, '--checkpoint-every', '20')).code).toBe(0)
    const metrics = read(join(dir, 'metrics.ndjson'))
    const config = JSON.parse(read(join(dir, 'config.json'))) as Record<string, unknown>
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...config, hidden: '16' }, /config\.json: expected "hidden" to be a list of positive integers like \[256, 128\], got "16"/],
      [{ ...config, hidden: [16, -1] }, /config\.json: expected "hidden" to be a list of positive integers/],
      [{ ...config, epochs: 'many' }, /config\.json: expected "epochs" to be an integer >= 1/],
      [{ ...config, threads: 0 }, /config\.json: expected "threads" to be an integer >= 1/],
      [{ ...config, momentum: 'high' }, /config\.json: expected "momentum" to be a number >= 0/],
      [{ ...config, label: 7 }, /config\.json: expected "label" to be a string/],
    ]
    for (const [c, pattern] of cases) {
      writeFileSync(join(dir, 'config.json'), JSON.stringify(c))
      for (const cmd of [['resume', dir], ['replay', dir, '--step', '3']]) {
        const r = await runMain(...cmd)
        expect(isCleanError(r), r.err).toBe(true)
        expect(r.err).toMatch(pattern)
        expect(read(join(dir, 'metrics.ndjson'))).toBe(metrics)
      }
    }
  })
})
