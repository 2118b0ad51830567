import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { isTempFile, removeStaleTempFiles, writeFileAtomic } from '../../src/io/atomic-write.ts'
import { loadSafetensors } from '../../src/io/safetensors-file.ts'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..', '..')
const dir = mkdtempSync(join(tmpdir(), 'gs-atomic-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('writeFileAtomic', () => {
  it('replaces a file and leaves no temp file behind', () => {
    const path = join(dir, 'a.txt')
    writeFileAtomic(path, 'one')
    writeFileAtomic(path, new TextEncoder().encode('two'))
    expect(readFileSync(path, 'utf8')).toBe('two')
    expect(readdirSync(dir).filter((n) => n.startsWith('.a.txt'))).toEqual([])
  })

  it('fails with an error naming the file, and cleans up', () => {
    expect(() => writeFileAtomic(join(dir, 'no', 'such', 'dir.txt'), 'x')).toThrow(/could not write .*dir\.txt: no such file or directory \(ENOENT\)/)
  })

  it('removes stale temp files and nothing else', () => {
    const sub = mkdtempSync(join(dir, 'stale-'))
    writeFileSync(join(sub, '.ckpt.safetensors.4242.a.tmp'), 'torn')
    writeFileSync(join(sub, 'ckpt.safetensors'), 'whole')
    expect(removeStaleTempFiles(sub)).toBe(1)
    expect(readdirSync(sub)).toEqual(['ckpt.safetensors'])
  })
})

/** Runs the writer child until `killAfter` says so, SIGKILLs it; resolves to the values it acknowledged. */
const killWriter = (path: string, values: number, killAfter: { acks: number; ms: number }): Promise<number[]> =>
  new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'checkpoint-writer.child.ts'), path, String(values)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    let armed = false
    const arm = (): void => {
      if (armed) return
      armed = true
      setTimeout(() => child.kill('SIGKILL'), killAfter.ms)
    }
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.split('\n').length - 1 >= killAfter.acks) arm()
    })
    child.stderr.on('data', (d: Buffer) => void (err += d.toString()))
    if (killAfter.acks === 0) arm()
    child.on('error', fail)
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') fail(new Error(`writer exited with ${code ?? signal}: ${err}`))
      else done(out.split('\n').filter((l) => l !== '').map(Number))
    })
  })

describe('a writer killed at any moment leaves the old checkpoint or the new one', () => {
  it('16 SIGKILLs at scheduled moments: the file always loads and equals the last or the next write', async () => {
    const path = join(dir, 'ckpt.safetensors')
    const values = 600_000 // 2.4 MB + 1.2 MB per write: the kills land mid-write often
    // (acks to wait for, then ms): during start-up, between writes, and mid-write.
    const schedule = [
      { acks: 1, ms: 0 }, { acks: 0, ms: 150 }, { acks: 1, ms: 3 }, { acks: 2, ms: 7 },
      { acks: 1, ms: 11 }, { acks: 3, ms: 1 }, { acks: 0, ms: 400 }, { acks: 2, ms: 17 },
      { acks: 1, ms: 23 }, { acks: 4, ms: 5 }, { acks: 1, ms: 31 }, { acks: 2, ms: 2 },
      { acks: 1, ms: 41 }, { acks: 3, ms: 13 }, { acks: 1, ms: 53 }, { acks: 2, ms: 29 },
    ]
    let previous = 0 // the value in the file before this child (0: no file yet)
    let tempsSeen = 0
    for (const [k, when] of schedule.entries()) {
      const acks = await killWriter(path, values, when)
      const last = acks.length > 0 ? acks[acks.length - 1] : undefined
      if (!existsSync(path)) {
        expect(previous, `kill ${k}`).toBe(0)
        expect(last, `kill ${k}`).toBeUndefined()
        continue
      }
      const f = loadSafetensors(path)
      const v = Number(f.metadata.i)
      // Old or new: the last acknowledged write, or the one after it (renamed, not yet
      // acknowledged); before any acknowledgement, the previous child's file or write 1.
      const allowed = last === undefined ? [previous, 1] : [last, last + 1]
      expect(allowed, `kill ${k}: file holds write ${v}, acknowledged ${String(last)}`).toContain(v)
      expect(f.tensors.map((t) => t.name)).toEqual(['a', 'b'])
      expect((f.tensors[0].data as Float32Array).every((x) => x === v)).toBe(true)
      expect((f.tensors[1].data as Float32Array).every((x) => x === -v)).toBe(true)
      // Whatever else is in the folder is a temp file, which no loader picks up.
      const others = readdirSync(dir).filter((n) => n !== 'ckpt.safetensors' && n.startsWith('.ckpt'))
      expect(others.every(isTempFile)).toBe(true)
      tempsSeen += removeStaleTempFiles(dir)
      previous = v
    }
    expect(previous).toBeGreaterThan(0)
    expect(tempsSeen).toBeGreaterThan(0) // some kills did land mid-write
    console.log(`16 kills: ${tempsSeen} left a torn temp file (killed mid-write), every checkpoint loaded whole`)
  })
})
