// The speed targets of issue 13 (SIMD kernels), as ratios within one bench run, checked
// against the figures just measured: each line names the ratio, its target, the value and
// whether it is met. Ratios, not absolute figures: the machine is shared and its speed
// varies from minute to minute, while two systems measured in the same run see the same load.

import type { SystemId, WorkloadReport } from './report.ts'

export interface TargetCheck {
  readonly key: string
  readonly label: string
  /** The ratio must reach this (>=), or stay below it for 'below'. */
  readonly target: number
  readonly kind: 'atLeast' | 'below'
  /** Measured ratio, or null when a figure is missing. */
  readonly value: number | null
  readonly met: boolean | null
}

const median = (reports: readonly WorkloadReport[], id: string, row: string, system: SystemId): number | null => {
  const r = reports.find((w) => w.id === id)?.rows.find((x) => x.key === row)
  const c = r?.cells[system]
  return c !== undefined && c.ok ? c.value.median : null
}

const check = (key: string, label: string, target: number, num: number | null, den: number | null, kind: TargetCheck['kind'] = 'atLeast'): TargetCheck => {
  const value = num === null || den === null || den === 0 ? null : num / den
  return { key, label, target, kind, value, met: value === null ? null : kind === 'atLeast' ? value >= target : value < target }
}

/** Every target whose workload ran. */
export const targetChecks = (reports: readonly WorkloadReport[]): TargetCheck[] => {
  const m = (id: string, row: string, s: SystemId) => median(reports, id, row, s)
  const ran = (id: string) => reports.some((w) => w.id === id)
  const out: TargetCheck[] = []
  if (ran('W1')) {
    out.push(check('w1VsTfjsWasm', 'W1 n=512, 1 thread: gradstream / TF.js wasm', 1, m('W1', 'n512', 'gradstream'), m('W1', 'n512', 'tfjsWasm')))
    out.push(check('w1VsTs', 'W1 n=512, 1 thread: gradstream / its TypeScript backend', 4, m('W1', 'n512', 'gradstream'), m('W1', 'n512', 'gradstreamTs')))
    out.push(check('w1Threads', 'W1 n=512: gradstream N threads / 1 thread', 1.8, m('W1', 'n512', 'gradstreamThreads'), m('W1', 'n512', 'gradstream')))
  }
  if (ran('W2')) {
    out.push(check('w2VsJax', 'W2, N threads: gradstream / jax-js', 1.5, m('W2', 'samplesPerSec', 'gradstreamThreads'), m('W2', 'samplesPerSec', 'jaxjs')))
    out.push(check('w2VsTfjsWasm', 'W2, N threads: gradstream / TF.js wasm', 4, m('W2', 'samplesPerSec', 'gradstreamThreads'), m('W2', 'samplesPerSec', 'tfjsWasm')))
  }
  if (ran('W3')) {
    out.push(check('w3VsTs1', 'W3, 1 thread: gradstream / its TypeScript backend', 3, m('W3', 'samplesPerSec', 'gradstream'), m('W3', 'samplesPerSec', 'gradstreamTs')))
    out.push(check('w3VsTsN', 'W3, N threads: gradstream / its TypeScript backend', 3, m('W3', 'samplesPerSec', 'gradstreamThreads'), m('W3', 'samplesPerSec', 'gradstreamTsThreads')))
  }
  if (ran('W4')) out.push(check('w4VsTs', 'W4: gradstream / its TypeScript backend', 1.3, m('W4', 'updatesPerSec', 'gradstream'), m('W4', 'updatesPerSec', 'gradstreamTs')))
  if (ran('W5')) out.push(check('w5VsTfjsWasm', 'W5 median latency: gradstream / TF.js wasm', 1, m('W5', 'medianMicros', 'gradstream'), m('W5', 'medianMicros', 'tfjsWasm'), 'below'))
  return out
}

export const renderTargets = (checks: readonly TargetCheck[]): string =>
  [
    '== targets (issue 13, ratios within this run)',
    ...checks.map((c) => {
      const v = c.value === null ? 'n/a' : `${c.value.toFixed(2)}x`
      const want = `${c.kind === 'atLeast' ? '>=' : '<'} ${c.target}x`
      const verdict = c.met === null ? 'not measured' : c.met ? 'met' : `MISSED by ${(c.kind === 'atLeast' ? (1 - (c.value ?? 0) / c.target) * 100 : ((c.value ?? 0) / c.target - 1) * 100).toFixed(0)}%`
      return `  ${c.label}: ${v} (target ${want}) ${verdict}`
    }),
  ].join('\n')
