// The package as a user gets it: npm pack, install the tarball into a fresh project, and
// there (1) a plain .mjs file imports it and trains (on worker threads from the compiled
// code, without tsx), to the same bits as the sources; (2) tsc --module nodenext --strict
// typechecks a .ts consumer against the shipped declarations (and a browser consumer with
// no Node types); (3) the installed `gradstream --help` runs.

import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as gs from '../../src/node.ts'
import { trainSmall } from './consumer/train-small.mjs'
import type { Installed } from './pack.ts'
import { packAndInstall, repoRoot } from './pack.ts'

let installed: Installed

beforeAll(() => {
  installed = packAndInstall(['@types/node@20'])
}, 600_000)
afterAll(() => rmSync(dirname(installed.dir), { recursive: true, force: true }))

const runNode = (file: string, ...args: string[]): string =>
  execFileSync(process.execPath, [file, ...args], { cwd: installed.dir, encoding: 'utf8', timeout: 120_000 })

describe('the installed package', () => {
  it('ships compiled code, declarations and source maps, not the sources or tests; tsx is not installed', () => {
    expect(installed.files).toContain('dist/index.js')
    expect(installed.files).toContain('dist/node.d.ts')
    expect(installed.files).toContain('dist/parallel/worker.js')
    expect(installed.files).toContain('dist/streams/train.js.map')
    expect(installed.files).toContain('bin/gradstream.js')
    expect(installed.files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([])
    expect(existsSync(join(installed.dir, 'node_modules', 'gradstream', 'dist', 'cli.js'))).toBe(true)
    expect(existsSync(join(installed.dir, 'node_modules', 'tsx'))).toBe(false)
    console.log(`package: ${installed.size} bytes packed, ${installed.unpackedSize} unpacked, ${installed.files.length} files`)
  })

  it('trains from a plain .mjs file, on 1 and 2 threads, to the same bits as the sources', async () => {
    const want = await trainSmall(gs, { threads: 1 })
    const one = JSON.parse(runNode('node-consumer.mjs', '1')) as typeof want & { hasLoadMnist: boolean }
    const two = JSON.parse(runNode('node-consumer.mjs', '2')) as typeof want & { hasLoadMnist: boolean }
    expect(one.steps).toBe(36)
    expect(one.lastLoss).toBeLessThan(one.firstLoss)
    expect(one.hash).toMatch(/^[0-9a-f]{64}$/)
    expect(one.hash).toBe(want.hash)
    expect(two.hash).toBe(want.hash)
    expect(one.hasLoadMnist).toBe(true) // in Node, 'gradstream' is the Node entry
  }, 300_000)

  it("runs the README's plain-JavaScript example", () => {
    const out = runNode('readme-example.mjs')
    const m = /^step 450, loss (\d\.\d{3}), accuracy [\d.]+, params [0-9a-f]{12}$/m.exec(out)
    expect(m, out).not.toBeNull()
    expect(Number(m?.[1])).toBeLessThan(0.4) // from ln 2 = 0.693 at the start
  })

  it('typechecks a .ts consumer with tsc --module nodenext --strict against the shipped .d.ts', () => {
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')
    const args = ['--module', 'nodenext', '--strict', '--noEmit', '--target', 'es2022', '--skipLibCheck', 'false', 'consumer.ts']
    const r = spawnSync(process.execPath, [tsc, ...args], { cwd: installed.dir, encoding: 'utf8' })
    expect(r.stdout + r.stderr).toBe('')
    expect(r.status).toBe(0)
    // The same consumer with a type error is refused: the declarations are real.
    const bad = spawnSync(process.execPath, [tsc, ...args.slice(0, -1), 'bad-consumer.ts'], { cwd: installed.dir, encoding: 'utf8' })
    expect(bad.stdout).toMatch(/bad-consumer\.ts\(\d+,\d+\): error TS2345/)
  }, 300_000)

  it("typechecks a browser consumer of 'gradstream/browser' with the DOM library and no Node types", () => {
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')
    const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.browser.json', '--listFiles'], { cwd: installed.dir, encoding: 'utf8' })
    const files = r.stdout.split('\n').filter((l) => l.endsWith('.ts'))
    expect(r.stdout.split('\n').filter((l) => l.includes('error TS'))).toEqual([])
    expect(r.status, r.stdout).toBe(0)
    expect(files.some((f) => f.endsWith('gradstream/dist/index.d.ts'))).toBe(true)
    expect(files.filter((f) => f.includes('@types/node'))).toEqual([])
  }, 300_000)

  it('runs the installed `gradstream --help`', () => {
    const r = spawnSync(join(installed.dir, 'node_modules', '.bin', 'gradstream'), ['--help'], { cwd: installed.dir, encoding: 'utf8' })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^usage: gradstream <command>/m)
    expect(r.stdout).toMatch(/\btrain\b/)
  })
})
