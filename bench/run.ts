// `npm run bench`: W1-W5 of ../shared/WORKLOADS.md for gradstream and, in the same
// process, TensorFlow.js 4.22 on its cpu and wasm backends. See bench/args.ts for flags.
//
// stdout carries the results: the tables, or with --json only the JSON object (on the
// last line). Progress goes to stderr. Exit code 0 when every gradstream figure was
// measured, 1 when a workload or a gradstream measurement failed, 2 on bad flags.

import { now, secondsSince } from './clock.ts'
import { parseBenchArgs, USAGE, UsageError } from './args.ts'
import type { BenchArgs } from './args.ts'
import { loadBenchData } from './data.ts'
import { reportJson } from './json.ts'
import { describeMachine, machineInfo } from './machine.ts'
import type { WorkloadId, WorkloadReport } from './report.ts'
import { FULL, QUICK } from './settings.ts'
import { renderWorkload } from './table.ts'
import { renderTargets, targetChecks } from './targets.ts'
import { defaultBackend } from '../src/ops/backend.ts'
import { errorMessage, tfjsVersion, useBackend } from './tfjs.ts'
import type { WorkloadContext, WorkloadResult } from './workloads/context.ts'
import { w1Gemm } from './workloads/w1-gemm.ts'
import { w2Mlp } from './workloads/w2-mlp.ts'
import { w3Cnn } from './workloads/w3-cnn.ts'
import { w4Online } from './workloads/w4-online.ts'
import { withRedisRows } from './workloads/w4-redis.ts'
import { w5Latency } from './workloads/w5-latency.ts'
import { kernels } from '../src/index.ts'
import { REPORT_ENV, reportsToJson, runIsolated } from './isolate.ts'
import { writeFileSync } from 'node:fs'

const WORKLOADS: { readonly [id in WorkloadId]: (ctx: WorkloadContext) => Promise<WorkloadResult> } = {
  W1: w1Gemm,
  W2: w2Mlp,
  W3: w3Cnn,
  W4: w4Online,
  W5: w5Latency,
}

/**
 * Runs args.only's workloads in this process, printing each table; hands the reports to
 * `done`. Returns 1 when a workload or a gradstream figure failed, else 0.
 */
const runHere = async (
  args: BenchArgs,
  ctx: WorkloadContext,
  out: (text: string) => void,
  log: (line: string) => void,
  done: (reports: readonly WorkloadReport[]) => void,
): Promise<number> => {
  const reports: WorkloadReport[] = []
  let failed = false
  for (const id of args.only) {
    const w0 = now()
    let result: WorkloadResult
    try {
      result = await WORKLOADS[id](ctx)
      if (id === 'W4') result = await withRedisRows(ctx, result) // W4 through Redis Streams (issue 15)
    } catch (e) {
      // A bench bug: keep the other workloads, report this one as failed.
      failed = true
      log(`${id} FAILED: ${errorMessage(e)}`)
      result = { id, title: 'FAILED', rows: [], details: [], notes: [`the workload threw: ${errorMessage(e)}`] }
    }
    for (const row of result.rows) {
      const g = row.cells.gradstream
      if (!g.ok) {
        failed = true
        log(`${id} ${row.label}: gradstream figure missing: ${g.reason}`)
      }
    }
    const report: WorkloadReport = { ...result, seconds: secondsSince(w0) }
    reports.push(report)
    out(renderWorkload(report) + '\n')
  }
  done(reports)
  return failed ? 1 : 0
}

const main = async (args: BenchArgs): Promise<number> => {
  const started = now()
  const log = (line: string): void => {
    process.stderr.write(`[bench ${secondsSince(started).toFixed(1).padStart(6)} s] ${line}\n`)
  }
  // With --json, stdout is reserved for the JSON line; the tables go to stderr.
  const out = (text: string): void => {
    ;(args.json ? process.stderr : process.stdout).write(text + '\n')
  }
  const settings = args.quick ? QUICK : FULL
  const machineStart = machineInfo()
  log(describeMachine(machineStart))
  log(`workloads ${args.only.join(', ')}${args.quick ? ' (QUICK smoke run: fewer repeats, epochs and samples)' : ''}`)

  // Start both TF.js backends up front, so a failure is reported once, before timing.
  const cpu = await useBackend('cpu')
  const wasm = await useBackend('wasm')
  log(`TF.js ${tfjsVersion()}: ${cpu.ok ? cpu.detail : cpu.reason}; ${wasm.ok ? wasm.detail : wasm.reason}`)

  // Where the workloads run (here, or in a workload's own process): the kernels' warm-up
  // (every code path once, for complete type feedback, explicitly) and the data. A parent
  // of several workloads' processes needs neither.
  const context = (): WorkloadContext => {
    kernels.warmUpKernels()
    const t0 = now()
    const data = loadBenchData()
    log(`data loaded in ${secondsSince(t0).toFixed(1)} s (untimed): train ${data.train.x.shape[0]}, test ${data.test.x.shape[0]}`)
    return { data, settings, threads: args.threads, log }
  }
  // In a workload's own process (isolate.ts): its table and its report, nothing else.
  const reportTo = process.env[REPORT_ENV]
  if (reportTo !== undefined) return runHere(args, context(), out, log, (reports) => writeFileSync(reportTo, reportsToJson(reports)))

  out(`gradstream bench${args.quick ? ' -- QUICK smoke run, NOT the WORKLOADS.md figures' : ''}`)
  out(describeMachine(machineStart))
  out(
    `TF.js ${tfjsVersion()}: cpu ${cpu.ok ? 'ok' : `FAILED (${cpu.reason})`}; wasm ${wasm.ok ? wasm.detail : `FAILED (${wasm.reason})`}`,
  )
  out(
    `cells: median [min-max]; gradstream = the default (${defaultBackend()}) kernels, gs-ts = the TypeScript kernels; ` +
      'gs/cpu, gs/wasm, gs/jax, gs/ts = gradstream 1t / the other (throughput: >1 means gradstream is faster)\n',
  )

  // Several workloads: each in a process of its own (isolate.ts says why); one: here.
  let failed = false
  const reports: WorkloadReport[] = []
  if (args.only.length === 1) failed = (await runHere(args, context(), out, log, (r) => reports.push(...r))) !== 0
  else
    for (const id of args.only) {
      log(`${id}: in a process of its own`)
      const r = runIsolated(id, args)
      if (r.code !== 0) failed = true
      if (typeof r.report === 'string') {
        log(`${id} FAILED: ${r.report}`)
        const report: WorkloadReport = { id, title: 'FAILED', rows: [], details: [], notes: [`the workload's process failed: ${r.report}`], seconds: 0 }
        reports.push(report)
        out(renderWorkload(report) + '\n')
      } else reports.push(r.report)
    }

  const machineEnd = machineInfo()
  const targets = targetChecks(reports)
  out(renderTargets(targets) + '\n')
  out(`total ${secondsSince(started).toFixed(1)} s; load average at the end ${machineEnd.loadavg.join(' / ')}`)
  if (args.json) {
    const meta = {
      quick: args.quick,
      only: args.only,
      threads: args.threads,
      date: new Date().toISOString(),
      machine: machineStart,
      loadavgEnd: machineEnd.loadavg,
      tfjs: {
        version: tfjsVersion(),
        cpu: cpu.ok ? cpu.detail : { na: cpu.reason },
        wasm: wasm.ok ? wasm.detail : { na: wasm.reason },
      },
      settings,
      kernelBackend: defaultBackend(),
      targets,
      totalSeconds: secondsSince(started),
    }
    process.stdout.write(JSON.stringify(reportJson(meta, reports)) + '\n')
  }
  return failed ? 1 : 0
}

let args: BenchArgs
try {
  args = parseBenchArgs(process.argv.slice(2))
} catch (e) {
  if (!(e instanceof UsageError)) throw e
  process.stderr.write(`${e.message ? `bench: ${e.message}\n` : ''}${USAGE}\n`)
  process.exit(e.message ? 2 : 0)
}
main(args).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exitCode = 1
  },
)
