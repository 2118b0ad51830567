// Real `gradstream` child processes for the tests that need a real process: signals, locks,
// two writers at once. The bin is started with Node, as a user's shell would.

import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { main } from '../../src/cli.ts'
import { key, normal, uniform } from '../../src/core/rng.ts'
import { blobs } from '../helpers.ts'

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

export interface Ran {
  readonly code: number | null
  readonly signal?: NodeJS.Signals | null
  readonly out: string
  readonly err: string
}

export interface Child {
  readonly process: ChildProcess
  /** Output so far. */
  out(): string
  err(): string
  /** Resolves when the process has exited. */
  readonly done: Promise<Ran>
}

export const start = (argv: readonly string[], options: { readonly stdin?: 'pipe' | 'ignore' } = {}): Child => {
  const child = spawn(process.execPath, [join(root, 'bin', 'gradstream.js'), ...argv], {
    cwd: root,
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout!.on('data', (d: Buffer) => void (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => void (err += d.toString()))
  const done = new Promise<Ran>((ok, fail) => {
    child.on('error', fail)
    child.on('close', (code, signal) => ok({ code, signal, out, err }))
  })
  return { process: child, out: () => out, err: () => err, done }
}

/** Polls `cond` every few milliseconds until it holds (or the child ends first: rejects). */
export const until = (child: Child, cond: () => boolean, what: string): Promise<void> =>
  new Promise((ok, fail) => {
    let over = false
    void child.done.then((r) => {
      over = true
      fail(new Error(`the child ended (code ${r.code}) before ${what}: ${r.err}`))
    })
    const poll = (): void => {
      if (over) return
      if (cond()) ok()
      else setTimeout(poll, 2)
    }
    poll()
  })

/** main() in this process, with its output captured. */
export const runMain = async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
  let out = ''
  let err = ''
  const stream = (add: (s: string) => void) => ({ write: (s: string) => (add(s), true), isTTY: false, columns: 100 }) as unknown as NodeJS.WriteStream
  const code = await main(argv, { stdout: stream((s) => (out += s)), stderr: stream((s) => (err += s)) })
  return { code, out, err }
}

export { lastJsonLine as lastJson } from '../cli-run.ts'

/** 600 rows of 3 separable classes in 4 columns (a, b, c, d, class): 60 batches of 8 per epoch. */
export const writeBlobsCsv = (path: string, seed = 21): void => {
  const ds = blobs(200, 3, 4, seed)
  const rows = Array.from({ length: 600 }, (_, i) => `${Array.from(ds.x.data.subarray(i * 4, i * 4 + 4), (v) => v.toFixed(5)).join(',')},c${ds.labels![i]}`)
  writeFileSync(path, `a,b,c,d,class\n${rows.join('\n')}\n`)
}

/** A one-line error on stderr, exit code 2, no stack trace. */
export const isCleanError = (r: { code: number | null; err: string }): boolean =>
  r.code === 2 && r.err.trim().split('\n').length === 1 && !/\n\s+at /.test(r.err)

/** A timed record (two features, class up/down) and a label that arrives on its own. */
export interface TimedRecord { readonly at: number; readonly id: string; readonly a: number; readonly b: number; readonly y: string }
export interface TimedLabel { readonly at: number; readonly id: string; readonly y: string; readonly i: number }

/**
 * n records, record i at T0 + 10 s * i with id "r<i>", and their labels 5 to 400 s later (so
 * labels overtake each other), except every 50th record's (i % 50 === 7), which never comes.
 */
export const recordsAndLaterLabels = (n: number, seed: number): { T0: number; recs: TimedRecord[]; labels: TimedLabel[] } => {
  const z = normal(key(seed), 2 * n, 'float64')
  const u = uniform(key(seed + 1), n, 'float64')
  const T0 = Date.UTC(2026, 0, 1)
  const recs = Array.from({ length: n }, (_, i) => ({
    at: T0 + 10_000 * i,
    id: `r${i}`,
    a: Math.round(z[2 * i] * 1000) / 1000,
    b: Math.round(z[2 * i + 1] * 1000) / 1000,
    y: z[2 * i] - z[2 * i + 1] > 0 ? 'up' : 'down',
  }))
  const labels = recs.map((r, i) => ({ at: r.at + Math.round(5_000 + u[i] * 395_000), id: r.id, y: r.y, i })).filter((l) => l.i % 50 !== 7)
  return { T0, recs, labels }
}
