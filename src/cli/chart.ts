// A small ASCII line chart of one or more series over epochs (the loss curve printed at
// the end of `gradstream train`).

export interface Series {
  readonly name: string
  readonly mark: string
  readonly values: readonly number[]
}

const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(4))

/** Rows of text: y axis labels on the left, one column per point, a legend below. */
export const asciiChart = (series: readonly Series[], height = 10): string[] => {
  const all = series.flatMap((s) => s.values.filter(Number.isFinite))
  if (all.length === 0) return ['(no data)']
  const lo = Math.min(...all)
  const hi = Math.max(...all)
  const span = hi - lo || 1
  const width = Math.max(...series.map((s) => s.values.length))
  const grid = Array.from({ length: height }, () => new Array<string>(width).fill(' '))
  for (const s of series)
    s.values.forEach((v, x) => {
      if (!Number.isFinite(v)) return
      const y = Math.round(((hi - v) / span) * (height - 1))
      grid[y][x] = grid[y][x] === ' ' || grid[y][x] === s.mark ? s.mark : '#'
    })
  const labels = grid.map((_, y) => (y === 0 ? fmt(hi) : y === height - 1 ? fmt(lo) : ''))
  const w = Math.max(...labels.map((l) => l.length))
  const rows = grid.map((row, y) => `${labels[y].padStart(w)} |${row.join('')}`)
  rows.push(`${''.padStart(w)} +${'-'.repeat(width)}`)
  rows.push(`${''.padStart(w)}  epoch 1..${width}   ${series.map((s) => `${s.mark} ${s.name}`).join('   ')}`)
  return rows
}
