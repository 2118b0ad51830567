// Per-class numbers of a confusion matrix, and its text rendering for the terminal.
//   precision(c) = M[c][c] / sum_t M[t][c]   (of the records predicted c, the share that are c)
//   recall(c)    = M[c][c] / sum_p M[c][p]   (of the records that are c, the share predicted c)
// A class never predicted (or absent from the data) has no precision (or recall): null.

import type { Confusion } from '../streams/metrics.ts'
import { confusionRows } from '../streams/metrics.ts'

export interface ClassRow {
  readonly name: string
  readonly precision: number | null
  readonly recall: number | null
  /** Records of this class in the data. */
  readonly support: number
  /** Records predicted as this class. */
  readonly predicted: number
}

export const classRows = (c: Confusion, names: readonly string[]): ClassRow[] => {
  const M = confusionRows(c)
  return M.map((row, k) => {
    const support = row.reduce((a, b) => a + b, 0)
    const predicted = M.reduce((a, r) => a + r[k], 0)
    return {
      name: names[k] ?? String(k),
      precision: predicted === 0 ? null : M[k][k] / predicted,
      recall: support === 0 ? null : M[k][k] / support,
      support,
      predicted,
    }
  })
}

const pct = (v: number | null): string => (v === null ? '-' : `${(100 * v).toFixed(2)}%`)

/** The per-class table: class, precision, recall, support. */
export const classTable = (rows: readonly ClassRow[]): string[] => {
  const w = Math.max(5, ...rows.map((r) => r.name.length))
  return [
    `${'class'.padEnd(w)}  precision   recall  support`,
    ...rows.map((r) => `${r.name.padEnd(w)}  ${pct(r.precision).padStart(9)}  ${pct(r.recall).padStart(7)}  ${String(r.support).padStart(7)}`),
  ]
}

/** The confusion matrix as an ASCII table: rows are true classes, columns predictions. */
export const confusionTable = (c: Confusion, names: readonly string[]): string[] => {
  const M = confusionRows(c)
  const label = (k: number): string => names[k] ?? String(k)
  const first = Math.max('true \\ predicted'.length, ...M.map((_, k) => label(k).length))
  const widths = M.map((_, k) => Math.max(label(k).length, ...M.map((r) => String(r[k]).length)))
  const rule = `+${'-'.repeat(first + 2)}+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`
  const line = (head: string, cells: readonly string[]): string =>
    `| ${head.padEnd(first)} |${cells.map((s, k) => ` ${s.padStart(widths[k])} `).join('|')}|`
  return [
    rule,
    line('true \\ predicted', M.map((_, k) => label(k))),
    rule,
    ...M.map((r, t) => line(label(t), r.map(String))),
    rule,
  ]
}
