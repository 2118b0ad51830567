// Each workload of a multi-workload bench run in a process of its own.
//
// Why: V8 optimises a function for the types and shapes it has seen, and a workload run
// after another inherits the first one's feedback. Measured: W4 (batch-1 online learning)
// right after W3 (the CNN: batch-32 convolutions through the same layer, objective and
// optimizer code) ran gradstream's SIMD learner at 10,215-14,106 updates/s in three of four
// runs (0.87x-1.13x its TypeScript backend), where W4 alone ran at 19,586-23,729 (1.70x-2.12x)
// with the same code; TF.js's figures did not move. A program that does one thing (a
// workload) starts with no one else's feedback, so the bench runs each workload as such a
// program, as JMH forks a JVM per benchmark. `--only W4` alone runs in this process.
//
// The parent starts `bench/run.ts --only Wn` with the same Node flags (tsx's loader,
// --expose-gc), the child prints its table (to the parent's stdout, or stderr under --json)
// and writes its report as JSON to the file named by REPORT_ENV; the parent checks the
// targets over all reports.

import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchArgs } from './args.ts'
import type { WorkloadId, WorkloadReport } from './report.ts'

/** Set in a workload's own process: the file its reports go to. */
export const REPORT_ENV = 'GRADSTREAM_BENCH_REPORT'

/** JSON of reports, non-finite numbers kept ({ nonFinite: 'NaN' }). */
export const reportsToJson = (reports: readonly WorkloadReport[]): string =>
  JSON.stringify(reports, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { nonFinite: String(v) } : v))

/** reportsToJson's inverse. */
export const reportsFromJson = (text: string): WorkloadReport[] =>
  JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>
      const keys = Object.keys(o)
      if (keys.length === 1 && keys[0] === 'nonFinite' && typeof o.nonFinite === 'string') return Number(o.nonFinite)
    }
    return v
  }) as WorkloadReport[]

/** Workload `id` in a process of its own: its report, or why there is none; the child's exit code. */
export const runIsolated = (id: WorkloadId, args: BenchArgs): { readonly report: WorkloadReport | string; readonly code: number } => {
  const file = join(tmpdir(), `gradstream-bench-${process.pid}-${id}.json`)
  const script = process.argv[1]
  const flags = ['--only', id, '--threads', String(args.threads), ...(args.quick ? ['--quick'] : [])]
  const r = spawnSync(process.execPath, [...process.execArgv, script, ...flags], {
    stdio: ['ignore', args.json ? 2 : 1, 2],
    env: { ...process.env, [REPORT_ENV]: file },
  })
  try {
    const reports = reportsFromJson(readFileSync(file, 'utf8'))
    const mine = reports.find((w) => w.id === id)
    return { report: mine ?? `its process reported no ${id}`, code: r.status ?? 1 }
  } catch {
    return { report: `its process ended without a report (exit ${r.status ?? r.signal ?? r.error?.message})`, code: 1 }
  } finally {
    rmSync(file, { force: true })
  }
}
