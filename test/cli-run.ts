// Running the CLI in this process, as tests do: `main` with writables that record what is
// written (not a TTY, so progress comes as plain lines).

import { main } from '../src/cli.ts'

/** A writable that records what is written (not a TTY unless asked: plain output). */
export const textSink = (tty = false): { stream: NodeJS.WriteStream; text: () => string } => {
  let text = ''
  const stream = { write: (s: string) => ((text += s), true), isTTY: tty, columns: 100 } as unknown as NodeJS.WriteStream
  return { stream, text: () => text }
}

/** `gradstream ...argv` in this process: its exit code, stdout and stderr. */
export const runCli = async (argv: readonly string[]): Promise<{ code: number; out: string; err: string }> => {
  const out = textSink()
  const err = textSink()
  const code = await main([...argv], { stdout: out.stream, stderr: err.stream })
  return { code, out: out.text(), err: err.text() }
}

/** The last line of a command's stdout, parsed as JSON (the `--json` summary). */
export const lastJsonLine = <T = Record<string, unknown>>(out: string): T => JSON.parse(out.trim().split('\n').pop() ?? '') as T
