// `gradstream dashboard DIR... [--port N] [--host H] [--cache-mb M]`: serves the
// time-travel dashboard (src/server/) over the given runs until SIGINT or SIGTERM.
// Prints one line with the URL and its token. On the first signal it stops listening,
// lets the forks it started reach their next checkpoint, stops them and returns; a second
// signal stops the forks at once.

import { statSync } from 'node:fs'
import { DEFAULT_PORT, startDashboard } from './dashboard-server.ts'
import type { Io } from '../cli/train-command.ts'
import { intFlag, parseFlags, UsageError } from '../cli/usage.ts'

export const DASHBOARD_USAGE = `usage: gradstream dashboard DIR... [--port N] [--host 127.0.0.1] [--cache-mb M] [--data-dir DIR]
Serves a web page over the runs in DIR (and every run directory one level below it):
loss curves, an exact step slider with weight histograms, filters, predictions and
the confusion matrix at any step, comparisons and forks. Port ${DEFAULT_PORT} by default
(--port 0 picks a free one); binds to 127.0.0.1; prints the URL with its access token.
--cache-mb bounds the memory of replayed snapshots (default 256).
Online runs (gradstream online --checkpoint-dir, from a file or --redis) are served too:
rolling accuracy and loss per record, and a record slider with the step and entry id; the
input file they replay must lie in a DIR or in --data-dir.`

const FLAGS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'cache-mb': { type: 'string' },
  'data-dir': { type: 'string' },
} as const

const isDirectory = (path: string): boolean => {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

export const dashboardCommand = async (args: readonly string[], io: Io): Promise<void> => {
  const { values: v, positionals } = parseFlags(args, FLAGS, true)
  if (positionals.length === 0) throw new UsageError('expected at least one run directory (written by gradstream train --out DIR), got none')
  const port = intFlag('port', v.port, 0)
  if (port !== undefined && port > 65535) throw new UsageError(`--port: expected an integer from 0 to 65535, got ${JSON.stringify(v.port)}`)
  if (v.host !== undefined && (typeof v.host !== 'string' || v.host.trim() === ''))
    throw new UsageError(`--host: expected an address to listen on, e.g. 127.0.0.1, got ${JSON.stringify(v.host)}`)
  const cacheMb = intFlag('cache-mb', v['cache-mb'])
  const dataDir = v['data-dir']
  if (dataDir !== undefined && (typeof dataDir !== 'string' || !isDirectory(dataDir)))
    throw new UsageError(`--data-dir: expected a folder holding the input files of online runs, got ${JSON.stringify(dataDir)}`)
  const dashboard = await startDashboard({
    dirs: positionals,
    dataDirs: typeof dataDir === 'string' ? [dataDir] : [],
    port: port ?? DEFAULT_PORT,
    host: typeof v.host === 'string' ? v.host : undefined,
    cache: cacheMb === undefined ? undefined : { maxBytes: cacheMb * 2 ** 20 },
  })
  io.stdout.write(`gradstream dashboard: ${dashboard.url}\n`)
  await new Promise<void>((resolve) => {
    let stopping = false
    const stop = (): void => {
      if (stopping) return dashboard.forks.killAll()
      stopping = true
      if (dashboard.forks.running > 0)
        io.stderr.write(`gradstream dashboard: stopping ${dashboard.forks.running} fork(s) after their next checkpoint\n`)
      void dashboard.close({ stopForks: true }).then(() => {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        resolve()
      })
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
