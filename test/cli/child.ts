// Real `gradstream` child processes for the tests that need a real process: signals, locks,
// two writers at once. The bin is started with Node, as a user's shell would.

import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { main } from '../../src/cli.ts'
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
