// Plain-text tables of the workload reports: one table per workload, a column per
// system, the gradstream/TF.js ratios, and WORKLOADS.md's reference figures alongside.
// Reasons for missing figures and per-cell notes become numbered footnotes so the
// columns stay narrow.

import type { Cell, Detail, Row, WorkloadReport } from './report.ts'
import { ratio, SYSTEM_LABELS, SYSTEMS } from './report.ts'

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })

/** A number at a precision suited to its size and unit. */
export const formatNumber = (v: number, unit = ''): string => {
  if (!Number.isFinite(v)) return String(v)
  if (unit === 'acc') return v.toFixed(3)
  if (unit === '%' || unit === 'MB') return v.toFixed(1)
  const a = Math.abs(v)
  if (a !== 0 && a < 1e-3) return v.toExponential(1)
  if (a >= 1000) return int.format(v)
  if (a >= 100) return v.toFixed(0)
  if (a >= 10) return v.toFixed(1)
  return v.toFixed(2)
}

class Footnotes {
  private readonly texts: string[] = []
  mark(text: string): string {
    let i = this.texts.indexOf(text)
    if (i < 0) i = this.texts.push(text) - 1
    return `[${i + 1}]`
  }
  lines(): string[] {
    return this.texts.map((t, i) => `  [${i + 1}] ${t}`)
  }
}

const cellText = (c: Cell, unit: string, system: string, notes: Footnotes): string => {
  if (!c.ok) return `n/a ${notes.mark(`${system}: ${c.reason.replace(/^n\/a: /, '')}`)}`
  const v = c.value
  const main = v.n === 1 || v.min === v.max ? formatNumber(v.median, unit) : `${formatNumber(v.median, unit)} [${formatNumber(v.min, unit)}-${formatNumber(v.max, unit)}]`
  return c.note ? `${main} ${notes.mark(`${system}: ${c.note}`)}` : main
}

const ratioText = (row: Row, other: 'tfjsCpu' | 'tfjsWasm' | 'jaxjs' | 'gradstreamTs'): string => {
  const r = ratio(row, other)
  return r === null ? '-' : `${r.toFixed(2)}x`
}

const pad = (s: string, w: number): string => s + ' '.repeat(Math.max(0, w - s.length))

const grid = (rows: string[][]): string[] => {
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)))
  return rows.map((r) => r.map((c, j) => pad(c, widths[j])).join('  ').trimEnd())
}

const detailText = (d: Detail): string =>
  `  ${d.label}: ${typeof d.value === 'number' ? formatNumber(d.value, d.unit) : d.value}${d.unit ? ` ${d.unit}` : ''}`

export const renderWorkload = (w: WorkloadReport): string => {
  const notes = new Footnotes()
  const header = ['', ...SYSTEMS.map((s) => SYSTEM_LABELS[s]), 'gs/cpu', 'gs/wasm', 'gs/jax', 'gs/ts', '| ref cpu', 'ref wasm', 'ref plain JS']
  const body = w.rows.map((row) => [
    `${row.label}${row.better === 'lower' ? ' (lower=better)' : ''}`,
    ...SYSTEMS.map((s) => cellText(row.cells[s], row.unit, SYSTEM_LABELS[s], notes)),
    ratioText(row, 'tfjsCpu'),
    ratioText(row, 'tfjsWasm'),
    ratioText(row, 'jaxjs'),
    ratioText(row, 'gradstreamTs'),
    `| ${row.reference?.tfjsCpu ?? '-'}`,
    row.reference?.tfjsWasm ?? '-',
    row.reference?.plainJs ?? '-',
  ])
  return [
    `== ${w.id}  ${w.title}  (${w.seconds.toFixed(1)} s)`,
    ...grid([header, ...body]),
    ...notes.lines(),
    ...w.details.map(detailText),
    ...w.notes.map((n) => `  - ${n}`),
  ].join('\n')
}
