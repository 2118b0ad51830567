// The bench's results as data: one report per workload, rows of per-system cells. The
// table printer and the --json output both render this one structure, so they cannot
// disagree.

import type { Summary } from './stats.ts'

/**
 * The systems compared, in column order: gradstream on its default kernel backend
 * (WebAssembly SIMD where available) and on the TypeScript backend, 1 and N threads each.
 */
export const SYSTEMS = ['gradstream', 'gradstreamThreads', 'gradstreamTs', 'gradstreamTsThreads', 'tfjsCpu', 'tfjsWasm', 'jaxjs'] as const
export type SystemId = (typeof SYSTEMS)[number]

export const SYSTEM_LABELS: { readonly [s in SystemId]: string } = {
  gradstream: 'gradstream 1t',
  gradstreamThreads: 'gradstream Nt',
  gradstreamTs: 'gs-ts 1t',
  gradstreamTsThreads: 'gs-ts Nt',
  tfjsCpu: 'TF.js cpu',
  tfjsWasm: 'TF.js wasm',
  jaxjs: 'jax-js',
}

/** A measured figure, or why there is none (not supported, failed, not run). */
export type Cell =
  | { readonly ok: true; readonly value: Summary; readonly note?: string }
  | { readonly ok: false; readonly reason: string }

export const measured = (value: Summary, note?: string): Cell => (note ? { ok: true, value, note } : { ok: true, value })
export const missing = (reason: string): Cell => ({ ok: false, reason })

/** Reference figures from WORKLOADS.md, as printed there. */
export interface Reference {
  readonly tfjsCpu?: string
  readonly tfjsWasm?: string
  readonly plainJs?: string
}

/**
 * 'higher' (throughput) and 'lower' (latency) rows get gradstream/TF.js ratios;
 * 'none' rows (accuracies) do not.
 */
export type Better = 'higher' | 'lower' | 'none'

export interface Row {
  readonly key: string
  readonly label: string
  readonly unit: string
  readonly better: Better
  readonly cells: { readonly [s in SystemId]: Cell }
  readonly reference?: Reference
}

/** A figure that belongs to one system only (pipeline overhead, memory). */
export interface Detail {
  readonly key: string
  readonly label: string
  readonly value: number | string
  readonly unit?: string
}

export type WorkloadId = 'W1' | 'W2' | 'W3' | 'W4' | 'W5'
export const WORKLOAD_IDS: readonly WorkloadId[] = ['W1', 'W2', 'W3', 'W4', 'W5']

export interface WorkloadReport {
  readonly id: WorkloadId
  readonly title: string
  readonly rows: readonly Row[]
  readonly details: readonly Detail[]
  /** How the figures were taken (repeats, subsets, quick mode, failures). */
  readonly notes: readonly string[]
  readonly seconds: number
}

/** gradstream / other, or null when either is missing or the row has no ratio. */
export const ratio = (row: Row, other: SystemId): number | null => {
  const g = row.cells.gradstream
  const o = row.cells[other]
  if (row.better === 'none' || !g.ok || !o.ok || o.value.median === 0) return null
  return g.value.median / o.value.median
}

/** Builds a row's cells, defaulting every system not given to a reason. */
export const cellsOf = (given: { readonly [s in SystemId]?: Cell }, defaultReason: string): { [s in SystemId]: Cell } => {
  const out = {} as { [s in SystemId]: Cell }
  for (const s of SYSTEMS) out[s] = given[s] ?? missing(defaultReason)
  return out
}

/** One cell per system from a per-system record of runs. */
export const perSystem = <T>(runs: { readonly [s in SystemId]: T }, f: (run: T, system: SystemId) => Cell): { [s in SystemId]: Cell } => {
  const out = {} as { [s in SystemId]: Cell }
  for (const s of SYSTEMS) out[s] = f(runs[s], s)
  return out
}
