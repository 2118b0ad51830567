// Runs the command line in this process (through main) and records what it writes.

import { join, resolve } from 'node:path'
import { main } from '../../src/cli.ts'

export const root = resolve(import.meta.dirname, '..', '..')
export const fixture = (name: string): string => join(root, 'test', 'fixtures', name)

export interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** A writable that records what is written (not a TTY unless asked: plain output). */
const sink = (tty: boolean) => {
  let text = ''
  const stream = { write: (s: string) => ((text += s), true), isTTY: tty, columns: 100 } as unknown as NodeJS.WriteStream
  return { stream, text: () => text }
}

export const cli = async (args: readonly string[], options: { tty?: boolean } = {}): Promise<Ran> => {
  const out = sink(options.tty === true)
  const err = sink(false)
  const code = await main(args, { stdout: out.stream, stderr: err.stream })
  return { code, stdout: out.text(), stderr: err.text() }
}

/** The last line of stdout as JSON. */
export const lastJson = <T = Record<string, unknown>>(r: Ran): T => JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as T
