// The page of the browser example: loads the digits (served beside the page, never from
// the network), starts the training worker, and draws what it reports: the loss of every
// step as a curve (with a moving average), the test accuracy of every epoch in a table.
// The page's state is also on `globalThis.example` for the Chromium test.

import type { Progress, Start } from './worker.ts'

interface EpochRow {
  readonly epoch: number
  readonly step: number
  readonly accuracy: number
  readonly testLoss: number
  readonly samplesPerSecond: number
  readonly hash: string
}

const state = {
  losses: [] as number[],
  epochs: [] as EpochRow[],
  done: false,
  error: '',
  hash: '',
  crossOriginIsolated: globalThis.crossOriginIsolated === true,
  threads: 0,
}
;(globalThis as unknown as { example: typeof state }).example = state

const params = new URLSearchParams(location.search)
const epochs = Math.max(1, Number(params.get('epochs') ?? 3) || 3)
const seed = Number(params.get('seed') ?? 0) || 0
// Two threads by default (one where the page is not cross-origin isolated: same bits).
const threads = Math.max(1, Math.floor(Number(params.get('threads') ?? 2)) || 2)
const microbatches = Math.max(1, Math.floor(Number(params.get('microbatches') ?? 2)) || 2)
state.threads = threads

const status = document.getElementById('status') as HTMLElement
const canvas = document.getElementById('loss') as HTMLCanvasElement
const table = document.querySelector('#epochs tbody') as HTMLElement
const ctx = canvas.getContext('2d') as CanvasRenderingContext2D

const draw = (): void => {
  const { width: w, height: h } = canvas
  ctx.clearRect(0, 0, w, h)
  const n = state.losses.length
  if (n === 0) return
  const total = Math.max(n, epochs * 250)
  const top = Math.max(2.5, ...state.losses.slice(0, 20))
  const x = (i: number): number => 40 + ((w - 50) * i) / total
  const y = (v: number): number => h - 20 - ((h - 30) * Math.min(v, top)) / top
  ctx.strokeStyle = '#999'
  ctx.fillStyle = '#555'
  ctx.font = '11px sans-serif'
  for (const v of [0, top / 2, top]) ctx.fillText(v.toFixed(1), 4, y(v) + 4)
  ctx.fillText('steps', w - 40, h - 4)
  const line = (values: readonly number[], color: string): void => {
    ctx.strokeStyle = color
    ctx.beginPath()
    values.forEach((v, i) => (i === 0 ? ctx.moveTo(x(i), y(v)) : ctx.lineTo(x(i), y(v))))
    ctx.stroke()
  }
  line(state.losses, '#c8d6f0')
  // Exponential moving average: the trend under the minibatch noise.
  let m = state.losses[0]
  line(state.losses.map((v) => (m = 0.95 * m + 0.05 * v)), '#1f4fb4')
}

let pending = false
const redraw = (): void => {
  if (pending) return
  pending = true
  requestAnimationFrame(() => {
    pending = false
    draw()
  })
}

const loadDigits = async (): Promise<Float32Array[]> =>
  Promise.all(
    Array.from({ length: 10 }, async (_, d) => {
      const res = await fetch(`digits/${d}.json`)
      if (!res.ok) throw new Error(`digits/${d}.json: expected the digit file, got HTTP ${res.status}`)
      const { data } = (await res.json()) as { data: number[] }
      return Float32Array.from(data)
    }),
  )

const start = async (): Promise<void> => {
  const digits = await loadDigits()
  status.textContent = `training ${epochs} epoch(s), seed ${seed}, ${threads} thread(s)...`
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })
  worker.onmessage = (e: MessageEvent<Progress>) => {
    const m = e.data
    if (m.type === 'step') {
      state.losses.push(m.loss)
      status.textContent = `epoch ${m.epoch + 1}/${epochs}, step ${m.step}, loss ${m.loss.toFixed(4)}`
      redraw()
    } else if (m.type === 'epoch') {
      state.epochs.push(m)
      const row = document.createElement('tr')
      for (const v of [String(m.epoch + 1), String(m.step), `${(100 * m.accuracy).toFixed(2)}%`, m.testLoss.toFixed(4), Math.round(m.samplesPerSecond).toLocaleString('en')]) {
        const td = document.createElement('td')
        td.textContent = v
        row.append(td)
      }
      table.append(row)
    } else if (m.type === 'done') {
      state.done = true
      state.hash = m.hash
      status.textContent = `done: step ${m.step}, parameters ${m.hash.slice(0, 16)}...`
      worker.terminate()
    } else {
      state.error = m.message
      status.textContent = `error: ${m.message}`
    }
  }
  const message: Start = { type: 'start', digits, epochs, seed, threads, microbatches }
  worker.postMessage(message, digits.map((a) => a.buffer))
}

start().catch((e: unknown) => {
  state.error = e instanceof Error ? e.message : String(e)
  status.textContent = `error: ${state.error}`
})
