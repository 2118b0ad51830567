// The --json form of the results: one object, printed on the last line of stdout. The
// same reports the tables show, keyed for scripts: workloads.W2.rows.samplesPerSec
// .gradstream.median, ...ratios.tfjsCpu, ...details.pipelineOverheadPct.

import type { Cell, WorkloadReport } from './report.ts'
import { ratio, SYSTEMS } from './report.ts'
import type { Summary } from './stats.ts'

export type JsonCell = (Summary & { readonly note?: string }) | { readonly na: string }

export interface JsonRow {
  readonly label: string
  readonly unit: string
  readonly better: string
  readonly systems: { readonly [system: string]: JsonCell }
  readonly ratios: { readonly tfjsCpu: number | null; readonly tfjsWasm: number | null; readonly jaxjs: number | null; readonly gradstreamTs: number | null }
  readonly reference: { readonly [system: string]: string }
}

export interface JsonWorkload {
  readonly title: string
  readonly seconds: number
  readonly rows: { readonly [key: string]: JsonRow }
  readonly details: { readonly [key: string]: number | string }
  readonly notes: readonly string[]
}

export interface JsonReport {
  readonly schema: 'gradstream-bench/1'
  readonly meta: { readonly [key: string]: unknown }
  readonly workloads: { readonly [id: string]: JsonWorkload }
}

const cellJson = (c: Cell): JsonCell => (c.ok ? { ...c.value, ...(c.note ? { note: c.note } : {}) } : { na: c.reason })

export const workloadJson = (w: WorkloadReport): JsonWorkload => ({
  title: w.title,
  seconds: w.seconds,
  rows: Object.fromEntries(
    w.rows.map((r) => [
      r.key,
      {
        label: r.label,
        unit: r.unit,
        better: r.better,
        systems: Object.fromEntries(SYSTEMS.map((s) => [s, cellJson(r.cells[s])])),
        ratios: { tfjsCpu: ratio(r, 'tfjsCpu'), tfjsWasm: ratio(r, 'tfjsWasm'), jaxjs: ratio(r, 'jaxjs'), gradstreamTs: ratio(r, 'gradstreamTs') },
        reference: { ...r.reference },
      },
    ]),
  ),
  details: Object.fromEntries(w.details.map((d) => [d.key, d.value])),
  notes: w.notes,
})

export const reportJson = (meta: JsonReport['meta'], workloads: readonly WorkloadReport[]): JsonReport => ({
  schema: 'gradstream-bench/1',
  meta,
  workloads: Object.fromEntries(workloads.map((w) => [w.id, workloadJson(w)])),
})
