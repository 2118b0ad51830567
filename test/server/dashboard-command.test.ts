// `gradstream dashboard` as a user runs it: flag errors (one line, exit code 2), the one
// line it prints, and a clean stop on SIGTERM that lets a running fork reach its next
// checkpoint and then stops it.

import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listCheckpoints } from '../../src/io/checkpoint-file.ts'
import { runCli } from '../cli-run.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const tmp = mkdtempSync(join(tmpdir(), 'gs-dashboard-cli-'))
const run = join(tmp, 'digits')

const cli = (...argv: string[]) => runCli(argv)

/** Processes whose command line mentions `text` (Linux /proc). */
const processesWith = (text: string): number[] =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text)
      } catch {
        return false
      }
    })
    .map(Number)

beforeAll(async () => {
  const r = await cli('train', '--model', 'mlp', '--hidden', '16', '--epochs', '1', '--batch', '64', '--checkpoint-every', '50', '--out', run)
  expect(r.code, r.err).toBe(0)
}, 120_000)

afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe('gradstream dashboard', () => {
  it('rejects bad input with one line on stderr and exit code 2', async () => {
    for (const [args, pattern] of [
      [[], /expected at least one run directory/],
      [[join(tmp, 'nope')], /nope: expected a run directory .* does not exist/],
      [[join(run, 'config.json')], /expected a run directory, got a file/],
      [[join(run, 'checkpoints')], /expected a run directory or a directory of runs/],
      [[run, '--port', 'abc'], /--port: expected an integer >= 0, got "abc"/],
      [[run, '--port', '70000'], /--port: expected an integer from 0 to 65535/],
      [[run, '--cache-mb', '0'], /--cache-mb: expected an integer >= 1/],
      [[run, '--data-dir', join(tmp, 'nope')], /--data-dir: expected a folder holding the input files of online runs, got ".*nope"/],
      [[run, '--bogus'], /bogus/],
    ] as const) {
      const r = await cli('dashboard', ...args)
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(2)
      expect(r.err).toMatch(pattern)
      expect(r.err.trim().split('\n')).toHaveLength(1)
    }
  })

  it('prints its URL, serves, and on SIGTERM stops its fork after the fork’s next checkpoint, then exits 0', async () => {
    const child = spawn(process.execPath, [join(root, 'bin', 'gradstream.js'), 'dashboard', tmp, '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stderr.on('data', (b: Buffer) => void (err += b.toString()))
    const exited = new Promise<number | null>((r) => child.on('close', r))
    const line = await new Promise<string>((resolveLine, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString()
        if (out.includes('\n')) resolveLine(out.split('\n')[0])
      })
      child.on('close', () => reject(new Error(`dashboard exited: ${err}`)))
    })
    const m = /^gradstream dashboard: http:\/\/127\.0\.0\.1:(\d+)\/\?token=([A-Za-z0-9_-]{32})$/.exec(line)
    expect(m, line).not.toBeNull()
    const base = `http://127.0.0.1:${m![1]}`
    const auth = { authorization: `Bearer ${m![2]}` }
    expect((await fetch(`${base}/api/runs`)).status).toBe(403)
    const runs = (await (await fetch(`${base}/api/runs`, { headers: auth })).json()) as { id: string; name: string }[]
    expect(runs.map((r) => r.name)).toEqual(['digits'])
    const f = await fetch(`${base}/api/runs/${runs[0].id}/fork`, { method: 'POST', headers: auth, body: JSON.stringify({ step: 50, epochs: 20 }) })
    expect(f.status).toBe(201)
    const forkDir = join(tmp, 'digits-fork-50')
    // Wait until the fork trains past its first checkpoint (the branch step), then interrupt the dashboard.
    for (let t = 0; ; t++) {
      const rows = (await (await fetch(`${base}/api/runs`, { headers: auth })).json()) as { name: string; lastStep: number }[]
      if ((rows.find((r) => r.name === 'digits-fork-50')?.lastStep ?? 0) > 50 || listCheckpoints(join(forkDir, 'checkpoints')).length > 0) break
      if (t > 3000) throw new Error('the fork did not start')
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(processesWith(forkDir).length).toBeGreaterThan(0)
    child.kill('SIGTERM')
    expect(await exited, err).toBe(0)
    // The fork stopped (no process left, no summary) after writing a checkpoint past the branch step.
    expect(processesWith(forkDir)).toEqual([])
    expect(existsSync(join(forkDir, 'summary.json'))).toBe(false)
    expect(listCheckpoints(join(forkDir, 'checkpoints')).some((c) => c.step > 50)).toBe(true)
    await expect(fetch(`${base}/api/runs`, { headers: auth })).rejects.toThrow()
  }, 400_000)
})
