// The dashboard page: loss curves of every run (uPlot, forks drawn from their branch
// point), an exact step slider that shows the weights, filters, predictions and confusion
// matrix of the chosen step, a comparison of two steps or runs, and forks. Everything comes
// from the JSON API of src/server/api.ts, with the token from the page's URL.
// Online runs (gradstream online --checkpoint-dir) have their own chart (rolling accuracy
// and loss per record) and, when one is chosen, the slider moves over records: each
// position shows the record, its step and, for Redis runs, the stream entry id
// (src/server/online-api.ts).

import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import './style.css'

interface RunRow {
  id: string
  name: string
  model: string
  params: number
  steps: number
  epochs: number
  status: 'running' | 'done' | 'interrupted'
  lastStep: number
  firstStep: number
  checkpoints: number[]
  images: boolean
  classifier: boolean
  parent?: { id?: string; step: number }
  error?: string
  kind?: 'train' | 'online'
  /** Online runs: where the records come from, the last record, the checkpoints' records. */
  source?: 'file' | 'stdin' | 'redis'
  stream?: string
  lastRecord?: number
  checkpointRecords?: number[]
}
interface OnlineMetrics {
  record: number[]
  step: number[]
  entryId: (string | null)[]
  accuracy: (number | null)[]
  loss: (number | null)[]
  windowAccuracy: (number | null)[]
  windowLoss: (number | null)[]
}
interface PositionView {
  record: number
  step: number
  entryId?: string
  hash: string
  tensors: TensorView[]
  from: number
  replayed: number
  ms: number
}
interface Metrics {
  step: number[]
  loss: (number | null)[]
  lr: number[]
  epochs: { epoch: number; trainLoss: number | null; testLoss: number | null; testAccuracy: number | null }[]
}
interface TensorView {
  name: string
  shape: number[]
  norm: number
  min: number
  max: number
  histogram: { edges: number[]; counts: number[] }
}
interface StepView {
  step: number
  epoch: number
  loss: number | null
  lr: number
  hash: string
  tensors: TensorView[]
  from: number
  replayed: number
  ms: number
}
interface Predictions {
  classes: string[]
  samples: { index: number; image: string | null; label: number; predicted: number; probabilities: number[] }[]
}
interface Confusion {
  classes: string[]
  matrix: number[][]
  accuracy: number
}
interface Diff {
  tensors: { name: string; shape: number[]; change: number; normA: number; normB: number }[]
}

const token = new URLSearchParams(location.search).get('token') ?? ''
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563']

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`page: no #${id}`)
  return el as T
}

const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
  const r = await fetch(path, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } })
  const body = (await r.json()) as T & { error?: string }
  if (!r.ok) throw new Error(body.error ?? `${path}: HTTP ${r.status}`)
  return body
}

const showError = (e: unknown): void => {
  const el = $('error')
  el.hidden = false
  el.textContent = e instanceof Error ? e.message : String(e)
}

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] => {
  const e = Object.assign(document.createElement(tag), props)
  e.append(...children)
  return e
}

const fmt = (v: number | null | undefined, digits = 4): string => (v === null || v === undefined || !Number.isFinite(v) ? '-' : Number(v.toPrecision(digits)).toString())

// ---------------------------------------------------------------------------------------
// State

const runs = new Map<string, RunRow>()
const metrics = new Map<string, Metrics>()
const onlineMetrics = new Map<string, OnlineMetrics>()
const isOnline = (r: RunRow | undefined): boolean => r?.kind === 'online'
/** The slider's range: steps of a training run, records (from 1) of an online run. */
const bounds = (r: RunRow): [number, number] => (isOnline(r) ? [1, Math.max(1, r.lastRecord ?? 1)] : [r.firstStep, r.lastStep])
const visible = new Set<string>()
const colorOf = new Map<string, string>()
let focus: string | undefined
let step = 0

const color = (id: string): string => {
  let c = colorOf.get(id)
  if (c === undefined) colorOf.set(id, (c = COLORS[colorOf.size % COLORS.length]))
  return c
}

// ---------------------------------------------------------------------------------------
// Charts (uPlot)

const width = (id: string): number => Math.max(300, $(id).clientWidth)

let lossPlot: uPlot | undefined
let lossKey = ''
let epochPlot: uPlot | undefined
let epochKey = ''

/** A run's (step, loss) table; a fork starts at its parent's point at the branch step. */
const lossTable = (run: RunRow): [number[], (number | null)[]] => {
  const m = metrics.get(run.id)
  const xs = [...(m?.step ?? [])]
  const ys = [...(m?.loss ?? [])]
  const p = run.parent
  const pm = p?.id !== undefined ? metrics.get(p.id) : undefined
  if (p !== undefined && pm !== undefined) {
    const i = pm.step.indexOf(p.step)
    if (i >= 0) {
      xs.unshift(p.step)
      ys.unshift(pm.loss[i])
    }
  }
  return [xs, ys]
}

const stepMarker = (u: uPlot): void => {
  // The training charts mark the step of a training run, the online chart the record of an online run.
  if (isOnline(focus !== undefined ? runs.get(focus) : undefined) !== (u === onlinePlot)) return
  const x = u.valToPos(step, 'x', true)
  if (!Number.isFinite(x) || x < u.bbox.left || x > u.bbox.left + u.bbox.width) return
  const ctx = u.ctx
  ctx.save()
  ctx.strokeStyle = '#111827'
  ctx.setLineDash([4, 3])
  ctx.lineWidth = 1
  ctx.beginPath()
  ctx.moveTo(x, u.bbox.top)
  ctx.lineTo(x, u.bbox.top + u.bbox.height)
  ctx.stroke()
  ctx.restore()
}

const drawLoss = (): void => {
  const shown = [...runs.values()].filter((r) => visible.has(r.id) && metrics.has(r.id) && !isOnline(r))
  const focused = focus !== undefined && visible.has(focus) && !isOnline(runs.get(focus)) ? runs.get(focus) : undefined
  const tables: uPlot.AlignedData[] = shown.map((r) => lossTable(r) as uPlot.AlignedData)
  if (focused !== undefined) {
    const m = metrics.get(focused.id)!
    tables.push([m.step, m.lr] as uPlot.AlignedData)
  }
  if (tables.length === 0) tables.push([[0], [null]] as uPlot.AlignedData)
  const data = uPlot.join(tables)
  const key = shown.map((r) => r.id).join(',') + `|${focused?.id ?? ''}`
  if (lossPlot !== undefined && key === lossKey) {
    lossPlot.setData(data, false)
    return
  }
  lossPlot?.destroy()
  lossKey = key
  const series: uPlot.Series[] = [{ label: 'step' }]
  for (const r of shown) series.push({ label: `${r.name} loss`, stroke: color(r.id), width: 1, spanGaps: true, points: { show: false } })
  if (focused !== undefined) series.push({ label: `${focused.name} lr`, stroke: '#9ca3af', dash: [5, 4], width: 1, scale: 'lr', spanGaps: true, points: { show: false } })
  lossPlot = new uPlot(
    {
      width: width('loss-chart'),
      height: 260,
      series,
      scales: { x: { time: false }, lr: { auto: true } },
      axes: [{ label: 'step' }, { label: 'loss' }, { scale: 'lr', side: 1, label: 'lr', grid: { show: false } }],
      cursor: { drag: { x: true, y: false } },
      hooks: { draw: [stepMarker] },
    },
    data,
    $('loss-chart'),
  )
  // A click (not a drag) on the plot jumps the slider to that step.
  let down: { x: number; y: number } | undefined
  const over = lossPlot.over
  over.addEventListener('mousedown', (e) => (down = { x: e.clientX, y: e.clientY }))
  over.addEventListener('click', (e) => {
    if (down === undefined || Math.abs(e.clientX - down.x) > 3 || Math.abs(e.clientY - down.y) > 3 || lossPlot === undefined) return
    const left = e.clientX - over.getBoundingClientRect().left
    setStep(Math.round(lossPlot.posToVal(left, 'x')))
  })
}

const drawEpochs = (): void => {
  const shown = [...runs.values()].filter((r) => visible.has(r.id) && !isOnline(r) && (metrics.get(r.id)?.epochs.length ?? 0) > 0)
  const tables: uPlot.AlignedData[] = shown.map((r) => {
    const e = metrics.get(r.id)!.epochs
    return [e.map((x) => x.epoch), e.map((x) => x.testLoss), e.map((x) => x.testAccuracy)] as uPlot.AlignedData
  })
  if (tables.length === 0) tables.push([[1], [null], [null]] as uPlot.AlignedData)
  const data = uPlot.join(tables)
  const key = shown.map((r) => r.id).join(',')
  if (epochPlot !== undefined && key === epochKey) {
    epochPlot.setData(data)
    return
  }
  epochPlot?.destroy()
  epochKey = key
  const series: uPlot.Series[] = [{ label: 'epoch' }]
  for (const r of shown) {
    series.push({ label: `${r.name} test loss`, stroke: color(r.id), width: 1.5, spanGaps: true })
    series.push({ label: `${r.name} accuracy`, stroke: color(r.id), dash: [4, 3], width: 1.5, scale: 'acc', spanGaps: true })
  }
  epochPlot = new uPlot(
    {
      width: width('epoch-chart'),
      height: 260,
      series,
      scales: { x: { time: false }, acc: { auto: true } },
      axes: [{ label: 'epoch', incrs: [1, 2, 5, 10, 20, 50] }, { label: 'test loss' }, { scale: 'acc', side: 1, label: 'accuracy', grid: { show: false } }],
    },
    data,
    $('epoch-chart'),
  )
}

let onlinePlot: uPlot | undefined
let onlineKey = ''

const drawOnline = (): void => {
  const all = [...runs.values()].filter(isOnline)
  $('online-panel').hidden = all.length === 0
  // The training charts only when there are training runs.
  const training = [...runs.values()].some((r) => !isOnline(r))
  const wasHidden = $('loss-chart').parentElement!.hidden
  for (const id of ['loss-chart', 'epoch-chart']) $(id).parentElement!.hidden = !training
  if (training && wasHidden) {
    // Drawn while hidden, they have the minimum width: draw them again at their size.
    lossKey = ''
    epochKey = ''
    drawLoss()
    drawEpochs()
  }
  const shown = all.filter((r) => visible.has(r.id) && onlineMetrics.has(r.id))
  const tables: uPlot.AlignedData[] = shown.map((r) => {
    const m = onlineMetrics.get(r.id)!
    return [m.record, m.windowAccuracy, m.windowLoss] as uPlot.AlignedData
  })
  if (tables.length === 0) tables.push([[1], [null], [null]] as uPlot.AlignedData)
  const data = uPlot.join(tables)
  const key = shown.map((r) => r.id).join(',')
  if (onlinePlot !== undefined && key === onlineKey) {
    onlinePlot.setData(data)
    return
  }
  onlinePlot?.destroy()
  onlineKey = key
  if (all.length === 0) return void (onlinePlot = undefined)
  const series: uPlot.Series[] = [{ label: 'record' }]
  for (const r of shown) {
    series.push({ label: `${r.name} accuracy`, stroke: color(r.id), width: 1.5, scale: 'acc', spanGaps: true, points: { show: false } })
    series.push({ label: `${r.name} loss`, stroke: color(r.id), dash: [4, 3], width: 1, spanGaps: true, points: { show: false } })
  }
  onlinePlot = new uPlot(
    {
      width: width('online-chart'),
      height: 220,
      series,
      scales: { x: { time: false }, acc: { auto: true } },
      axes: [{ label: 'record' }, { label: 'loss' }, { scale: 'acc', side: 1, label: 'accuracy', grid: { show: false } }],
      cursor: { drag: { x: true, y: false } },
      hooks: { draw: [stepMarker] },
    },
    data,
    $('online-chart'),
  )
  const plot = onlinePlot
  plot.over.addEventListener('click', (e) => {
    if (!isOnline(focus !== undefined ? runs.get(focus) : undefined)) return
    setStep(Math.round(plot.posToVal(e.clientX - plot.over.getBoundingClientRect().left, 'x')))
  })
}

// ---------------------------------------------------------------------------------------
// Runs

const renderRunList = (): void => {
  const list = $('runs')
  list.replaceChildren(
    ...[...runs.values()].map((r) => {
      const box = el('input', { type: 'checkbox', checked: visible.has(r.id) })
      box.dataset.run = r.id
      box.addEventListener('change', () => {
        if (box.checked) visible.add(r.id)
        else visible.delete(r.id)
        drawLoss()
        drawEpochs()
        drawOnline()
      })
      const status = el('span', { className: `status ${r.status}`, title: r.error ?? '' }, r.status)
      const swatch = el('span', { className: 'swatch' })
      swatch.style.background = color(r.id)
      const from = r.parent !== undefined ? ` (fork of ${runs.get(r.parent.id ?? '')?.name ?? '?'} at ${r.parent.step})` : ''
      const where = isOnline(r) ? `online from ${r.source === 'redis' ? `stream ${r.stream ?? ''}` : r.source} · ${r.lastRecord ?? 0} records, step ${r.lastStep}` : `${r.lastStep}/${r.steps}`
      return el('label', {}, box, swatch, `${r.name} · ${r.model}${from} · ${where} `, status)
    }),
  )
  const select = $<HTMLSelectElement>('focus')
  const cmp = $<HTMLSelectElement>('cmp-run')
  for (const s of [select, cmp]) {
    const keep = s.value
    s.replaceChildren(...[...runs.values()].map((r) => el('option', { value: r.id, textContent: `${r.name} (${r.id})` })))
    if (keep !== '' && runs.has(keep)) s.value = keep
  }
  if (focus !== undefined) select.value = focus
}

const refresh = async (): Promise<void> => {
  const rows = await api<RunRow[]>('/api/runs')
  const changed: string[] = []
  for (const r of rows) {
    const old = runs.get(r.id)
    if (old === undefined) visible.add(r.id)
    const loaded = isOnline(r) ? onlineMetrics.has(r.id) : metrics.has(r.id)
    if (old === undefined || old.lastStep !== r.lastStep || old.lastRecord !== r.lastRecord || old.status !== r.status || !loaded) changed.push(r.id)
    runs.set(r.id, r)
  }
  await Promise.all(
    changed.map(async (id) => {
      const path = `/api/runs/${id}/metrics`
      if (isOnline(runs.get(id))) onlineMetrics.set(id, await api<OnlineMetrics>(path))
      else metrics.set(id, await api<Metrics>(path))
    }),
  )
  if (focus === undefined && rows.length > 0) setFocus(rows[0].id)
  renderRunList()
  if (changed.length > 0) {
    drawLoss()
    drawEpochs()
    drawOnline()
    updateSliderRange()
  }
  updateForkStatus()
}

// ---------------------------------------------------------------------------------------
// The step slider and what it shows

const slider = $<HTMLInputElement>('slider')

const updateSliderRange = (): void => {
  const r = focus !== undefined ? runs.get(focus) : undefined
  if (r === undefined) return
  const [lo, hi] = bounds(r)
  slider.min = String(lo)
  slider.max = String(hi)
  slider.value = String(step)
}

const setFocus = (id: string): void => {
  focus = id
  const r = runs.get(id)
  if (r === undefined) return
  updateSliderRange()
  lossKey = ''
  drawLoss()
  onlinePlot?.redraw(false, false)
  const online = isOnline(r)
  $('record-box').hidden = !online
  $('entry-box').hidden = r.source !== 'redis'
  slider.setAttribute('aria-label', online ? 'record' : 'step')
  // Online runs have no test set, forks or step comparisons: those panels are for training runs.
  for (const b of document.querySelectorAll<HTMLButtonElement>('#compare-form button, #fork-form button')) b.disabled = online
  const [lo, hi] = bounds(r)
  setStep(Math.min(Math.max(step, lo), hi), true)
}

let timer: number | undefined
let seq = 0

const setStep = (n: number, now = false): void => {
  const r = focus !== undefined ? runs.get(focus) : undefined
  if (r === undefined) return
  const [lo, hi] = bounds(r)
  step = Math.min(Math.max(n, lo), hi)
  slider.value = String(step)
  $('hash').textContent = '…'
  window.clearTimeout(timer)
  if (isOnline(r)) {
    $('record').textContent = String(step)
    $('step').textContent = '…'
    $('entry').textContent = '…'
    onlinePlot?.redraw(false, false)
    timer = window.setTimeout(() => void loadRecord(r, step).catch(showError), now ? 0 : 60)
    return
  }
  $('step').textContent = String(step)
  $<HTMLInputElement>('cmp-to').value = String(step)
  lossPlot?.redraw(false, false)
  timer = window.setTimeout(() => void loadStep(r, step).catch(showError), now ? 0 : 60)
}

const histogramsOf = new Map<string, uPlot>()

const renderHistograms = (v: { tensors: TensorView[] }): void => {
  const box = $('histograms')
  const names = v.tensors.map((t) => t.name).join(',')
  if (box.dataset.names !== names) {
    for (const p of histogramsOf.values()) p.destroy()
    histogramsOf.clear()
    box.replaceChildren()
    box.dataset.names = names
  }
  for (const t of v.tensors) {
    const centres = t.histogram.counts.map((_, i) => (t.histogram.edges[i] + t.histogram.edges[i + 1]) / 2)
    const data: uPlot.AlignedData = [centres, t.histogram.counts]
    let plot = histogramsOf.get(t.name)
    const caption = `‖·‖ ${fmt(t.norm)} · [${fmt(t.min, 3)}, ${fmt(t.max, 3)}]`
    if (plot === undefined) {
      const cell = el('div', { className: 'hist' }, el('h3', { textContent: `${t.name} [${t.shape.join('×')}]` }), el('p'))
      box.append(cell)
      plot = new uPlot(
        {
          width: 190,
          height: 90,
          legend: { show: false },
          cursor: { show: false },
          scales: { x: { time: false } },
          axes: [{ size: 20, font: '9px system-ui', ticks: { size: 3 } }, { show: false }],
          series: [{}, { stroke: '#2563eb', fill: '#93c5fd', paths: uPlot.paths.bars!({ size: [1, 100] }), points: { show: false } }],
        },
        data,
        cell,
      )
      histogramsOf.set(t.name, plot)
    } else plot.setData(data)
    const p = plot.root.parentElement?.querySelector('p')
    if (p) p.textContent = caption
  }
}

const renderPredictions = (p: Predictions): void => {
  $('predictions').replaceChildren(
    ...p.samples.map((s) => {
      const top = s.predicted
      const bars = el('div', { className: 'bars', title: s.probabilities.map((q, i) => `${p.classes[i]}: ${q.toFixed(3)}`).join('\n') })
      for (let i = 0; i < s.probabilities.length; i++) {
        const b = el('span', { className: i === top ? 'top' : '' })
        b.style.height = `${Math.max(1, 100 * s.probabilities[i])}%`
        bars.append(b)
      }
      return el(
        'div',
        { className: `pred${top === s.label ? '' : ' wrong'}` },
        ...(s.image !== null ? [el('img', { src: s.image, alt: `test sample ${s.index}` })] : []),
        el('div', { textContent: `${p.classes[s.label]} → ${p.classes[top]} ${(100 * s.probabilities[top]).toFixed(0)}%` }),
        bars,
      )
    }),
  )
}

const renderConfusion = (c: Confusion): void => {
  const head = el('tr', {}, el('th', { textContent: 't\\p' }), ...c.classes.map((k) => el('th', { textContent: k })))
  const rows = c.matrix.map((row, t) => {
    const total = row.reduce((a, b) => a + b, 0) || 1
    return el(
      'tr',
      {},
      el('th', { textContent: c.classes[t] }),
      ...row.map((v) => {
        const td = el('td', { textContent: String(v) })
        const a = v / total
        td.style.background = `rgba(37, 99, 235, ${a.toFixed(3)})`
        td.style.color = a > 0.5 ? '#fff' : '#1d232b'
        return td
      }),
    )
  })
  $('confusion').replaceChildren(el('table', {}, head, ...rows), el('p', { className: 'muted', textContent: `accuracy ${(100 * c.accuracy).toFixed(2)}%` }))
}

const loadStep = async (r: RunRow, n: number): Promise<void> => {
  const mine = ++seq
  const base = `/api/runs/${r.id}/steps/${n}`
  const v = await api<StepView>(base)
  if (mine !== seq) return
  $('hash').textContent = v.hash
  $('step-info').textContent = `epoch ${v.epoch + 1} · loss ${fmt(v.loss)} · lr ${fmt(v.lr)} · ${v.replayed === 0 ? 'cached' : `replayed ${v.replayed} steps from ${v.from}`} in ${v.ms} ms`
  renderHistograms(v)
  const img = $<HTMLImageElement>('filters')
  img.hidden = !r.images
  $('filters-none').hidden = r.images
  if (r.images) img.src = `${base}/filters.png?token=${encodeURIComponent(token)}`
  if (!r.classifier) {
    $('predictions').replaceChildren(el('p', { className: 'muted', textContent: 'Not a classifier.' }))
    $('confusion').replaceChildren()
    return
  }
  const p = await api<Predictions>(`${base}/predictions`)
  if (mine !== seq) return
  renderPredictions(p)
  const c = await api<Confusion>(`${base}/confusion`)
  if (mine !== seq) return
  renderConfusion(c)
}

/** The exact state after record n of an online run: its step, entry id (Redis), hash and weights. */
const loadRecord = async (r: RunRow, n: number): Promise<void> => {
  const mine = ++seq
  const v = await api<PositionView>(`/api/runs/${r.id}/records/${n}`)
  if (mine !== seq) return
  $('step').textContent = String(v.step)
  $('entry').textContent = v.entryId ?? '-'
  $('hash').textContent = v.hash
  $('step-info').textContent = `record ${v.record} · ${v.replayed === 0 ? 'cached' : `replayed ${v.replayed} records from ${v.from === 0 ? 'the start' : `the checkpoint at record ${v.from}`}`} in ${v.ms} ms`
  renderHistograms(v)
  $<HTMLImageElement>('filters').hidden = true
  $('filters-none').hidden = false
  const note = el('p', { className: 'muted', textContent: 'An online run: its accuracy is prequential (the chart above); there is no test set.' })
  note.style.gridColumn = '1 / -1'
  $('predictions').replaceChildren(note)
  $('confusion').replaceChildren()
}

// ---------------------------------------------------------------------------------------
// Compare and fork

const compare = async (): Promise<void> => {
  if (focus === undefined) return
  const a = $<HTMLInputElement>('cmp-from').value
  const b = $<HTMLInputElement>('cmp-to').value
  const other = $<HTMLSelectElement>('cmp-run').value || focus
  const d = await api<Diff>(`/api/runs/${focus}/diff?from=${encodeURIComponent(a)}&to=${encodeURIComponent(b)}&run=${encodeURIComponent(other)}`)
  // Change relative to the tensor's size at `a` (undefined for a tensor that was all zeros).
  const relOf = (t: Diff['tensors'][number]): number => (t.normA > 0 ? t.change / t.normA : NaN)
  const worst = Math.max(1e-12, ...d.tensors.map(relOf).filter(Number.isFinite))
  const head = el('tr', {}, ...['tensor', '‖a‖', '‖b‖', '‖b − a‖', 'relative'].map((h) => el('th', { textContent: h })))
  const rows = d.tensors.map((t) => {
    const rel = relOf(t)
    const bar = el('span', { className: 'relbar' })
    bar.style.width = `${Number.isFinite(rel) ? Math.round((60 * rel) / worst) : 0}px`
    return el('tr', {}, el('td', { textContent: t.name }), el('td', { textContent: fmt(t.normA) }), el('td', { textContent: fmt(t.normB) }), el('td', { textContent: fmt(t.change) }), el('td', {}, bar, ` ${fmt(rel, 3)}`))
  })
  $('compare').replaceChildren(el('table', {}, head, ...rows))
}

let forked: string | undefined

const updateForkStatus = (): void => {
  if (forked === undefined) return
  const r = runs.get(forked)
  if (r === undefined) return
  $('fork-status').textContent = `fork ${r.name} (${r.id}): ${r.status}, step ${r.lastStep} of ${r.steps}${r.error !== undefined ? ` · ${r.error}` : ''}`
}

const fork = async (): Promise<void> => {
  if (focus === undefined) return
  const body: Record<string, unknown> = { step }
  const num = (id: string): number | undefined => {
    const v = $<HTMLInputElement>(id).value
    return v === '' ? undefined : Number(v)
  }
  const lr = num('fork-lr')
  const epochs = num('fork-epochs')
  const batch = num('fork-batch')
  const optimizer = $<HTMLSelectElement>('fork-opt').value
  if (lr !== undefined) body.lr = lr
  if (epochs !== undefined) body.epochs = epochs
  if (batch !== undefined) body.batch = batch
  if (optimizer !== '') body.optimizer = optimizer
  const r = await api<{ id: string; name: string }>(`/api/runs/${focus}/fork`, { method: 'POST', body: JSON.stringify(body) })
  forked = r.id
  $('fork-status').textContent = `fork ${r.name} (${r.id}) started from step ${step}`
  await refresh()
}

// ---------------------------------------------------------------------------------------

slider.addEventListener('input', () => setStep(Number(slider.value)))
$<HTMLSelectElement>('focus').addEventListener('change', (e) => setFocus((e.target as HTMLSelectElement).value))
$('compare-form').addEventListener('submit', (e) => {
  e.preventDefault()
  compare().catch(showError)
})
$('fork-form').addEventListener('submit', (e) => {
  e.preventDefault()
  fork().catch(showError)
})
window.addEventListener('resize', () => {
  lossPlot?.setSize({ width: width('loss-chart'), height: 260 })
  epochPlot?.setSize({ width: width('epoch-chart'), height: 260 })
  onlinePlot?.setSize({ width: width('online-chart'), height: 220 })
})

const poll = (): void => {
  refresh()
    .catch(showError)
    .finally(() => window.setTimeout(poll, 1500))
}
poll()
