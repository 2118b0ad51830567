// Command-line flags of `npm run bench` (node:util parseArgs):
//   --only W1,W3   run a subset of the workloads
//   --quick        a fast smoke run (fewer repeats, epochs and samples; the output says so)
//   --json         print the results as one JSON object on the last line of stdout
//   --threads N    the thread count of the "gradstream Nt" column (default: all cores)

import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import type { WorkloadId } from './report.ts'
import { WORKLOAD_IDS } from './report.ts'

export interface BenchArgs {
  readonly only: readonly WorkloadId[]
  readonly quick: boolean
  readonly json: boolean
  readonly threads: number
}

export const USAGE = 'usage: npm run bench -- [--only W1,W2,W3,W4,W5] [--quick] [--json] [--threads N]'

export class UsageError extends Error {}

const parseOnly = (s: string | undefined): WorkloadId[] => {
  if (s === undefined) return [...WORKLOAD_IDS]
  const ids = s.split(',').map((w) => w.trim().toUpperCase()).filter((w) => w !== '')
  const bad = ids.filter((w) => !(WORKLOAD_IDS as readonly string[]).includes(w))
  if (ids.length === 0 || bad.length > 0)
    throw new UsageError(`--only: expected a comma-separated list of ${WORKLOAD_IDS.join(', ')}, got ${JSON.stringify(s)}`)
  // Keep the canonical order whatever order they were given in.
  return WORKLOAD_IDS.filter((w) => ids.includes(w))
}

const parseThreads = (s: string | undefined): number => {
  if (s === undefined) return availableParallelism()
  const n = Number(s)
  if (!(Number.isInteger(n) && n >= 1)) throw new UsageError(`--threads: expected a positive integer, got ${JSON.stringify(s)}`)
  return n
}

export const parseBenchArgs = (argv: readonly string[]): BenchArgs => {
  let values
  try {
    ;({ values } = parseArgs({
      args: [...argv],
      options: {
        only: { type: 'string' },
        quick: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        threads: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
      strict: true,
    }))
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
  if (values.help) throw new UsageError('')
  return {
    only: parseOnly(values.only),
    quick: values.quick ?? false,
    json: values.json ?? false,
    threads: parseThreads(values.threads),
  }
}
