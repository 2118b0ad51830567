// Runs the command line in this process (through main) and records what it writes.

import { join, resolve } from 'node:path'
import { main } from '../../src/cli.ts'
import { lastJsonLine, textSink } from '../cli-run.ts'

export const root = resolve(import.meta.dirname, '..', '..')
export const fixture = (name: string): string => join(root, 'test', 'fixtures', name)

export interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}


export const cli = async (args: readonly string[], options: { tty?: boolean } = {}): Promise<Ran> => {
  const out = textSink(options.tty === true)
  const err = textSink()
  const code = await main(args, { stdout: out.stream, stderr: err.stream })
  return { code, stdout: out.text(), stderr: err.text() }
}

/** The last line of stdout as JSON. */
export const lastJson = <T = Record<string, unknown>>(r: Ran): T => lastJsonLine<T>(r.stdout)
