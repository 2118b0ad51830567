// The per-epoch progress display: a redrawn bar on a terminal, plain lines otherwise.

import type { Progress } from '../streams/progress.ts'

const clock = (s: number): string => {
  if (!Number.isFinite(s)) return '?'
  const m = Math.floor(s / 60)
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`
}

export const progressText = (p: Progress, epochs: number): string => {
  const acc = p.accuracy !== undefined ? ` acc ${(100 * p.accuracy).toFixed(1)}%` : ''
  const of = p.batches !== undefined ? `/${p.batches}` : ''
  const eta = p.eta !== undefined ? ` ETA ${clock(p.eta)}` : ''
  return `epoch ${p.epoch + 1}/${epochs} batch ${p.batch}${of} loss ${p.loss.toFixed(4)}${acc} ${Math.round(p.samplesPerSecond)} samples/s${eta}`
}

export interface ProgressDisplay {
  update(p: Progress): void
  /** Clears the bar (before printing an epoch summary). */
  clear(): void
}

/** A bar redrawn in place with \r on a TTY; on a pipe, a plain line every quarter epoch. */
export const progressDisplay = (out: NodeJS.WriteStream, epochs: number): ProgressDisplay => {
  if (out.isTTY) {
    let last = 0
    let shown = false
    return {
      update: (p) => {
        const now = performance.now()
        if (now - last < 100 && p.batch !== p.batches) return
        last = now
        const width = 24
        const frac = p.batches ? p.batch / p.batches : 0
        const done = Math.round(frac * width)
        const bar = `[${'='.repeat(done)}${done < width ? '>' : ''}${' '.repeat(Math.max(0, width - done - 1))}]`
        const cols = out.columns ?? 120
        out.write(`\r${`${bar} ${progressText(p, epochs)}`.slice(0, cols - 1)}\x1b[K`)
        shown = true
      },
      clear: () => {
        if (shown) out.write('\r\x1b[K')
        shown = false
      },
    }
  }
  let nextQuarter = 1
  let epoch = -1
  return {
    update: (p) => {
      if (p.epoch !== epoch) {
        epoch = p.epoch
        nextQuarter = 1
      }
      if (p.batches === undefined || nextQuarter > 3) return
      if (p.batch >= (nextQuarter * p.batches) / 4) {
        out.write(`${progressText(p, epochs)}\n`)
        while (nextQuarter <= 3 && p.batch >= (nextQuarter * p.batches) / 4) nextQuarter++
      }
    },
    clear: () => undefined,
  }
}
