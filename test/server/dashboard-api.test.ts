// The dashboard's JSON API against a real server on a free port, over runs trained in
// this test (a small MLP on the MNIST digits, and one on a CSV of Gaussian blobs).
// Hashes are checked against `gradstream replay --json` run through the same CLI.

import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodePng } from '../../src/io/png.ts'
import type { Dashboard } from '../../src/server/dashboard-server.ts'
import { startDashboard } from '../../src/server/dashboard-server.ts'
import { blobs } from '../helpers.ts'
import { runCli } from '../cli-run.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const tmp = mkdtempSync(join(tmpdir(), 'gs-dashboard-'))
const runs = join(tmp, 'runs')
const digits = join(runs, 'digits')
const table = join(runs, 'table')
const csv = join(tmp, 'blobs.csv')

// 8,000 digits in batches of 64: 125 steps per epoch; checkpoints every 50 steps.
const DIGITS = ['--model', 'mlp', '--hidden', '16', '--epochs', '2', '--batch', '64', '--seed', '3', '--checkpoint-every', '50']
const TABLE = ['--model', 'mlp', '--hidden', '8', '--data', csv, '--label', 'class', '--batch', '8', '--shift', '0', '--epochs', '2']

interface Ran {
  readonly code: number
  readonly out: string
  readonly err: string
}

const cli = (...argv: string[]): Promise<Ran> => runCli(argv)

const replayJson = async (dir: string, step: number): Promise<{ hash: string; loss: number | null; tensors: { name: string; norm: number }[] }> => {
  const r = await cli('replay', dir, '--step', String(step), '--json')
  expect(r.code, r.err).toBe(0)
  return JSON.parse(r.out) as { hash: string; loss: number | null; tensors: { name: string; norm: number }[] }
}

let dash: Dashboard
let base: string

const get = (path: string, token: string | null = dash.token, init: RequestInit = {}): Promise<Response> =>
  fetch(`${base}${path}`, { ...init, headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(init.headers ?? {}) } })

const getJson = async <T = Record<string, unknown>>(path: string): Promise<T> => {
  const r = await get(path)
  expect(r.status, `${path}: ${await r.clone().text()}`).toBe(200)
  return (await r.json()) as T
}

const lines = (path: string): Record<string, unknown>[] =>
  readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)

interface RunRow {
  id: string
  name: string
  model: string
  params: number
  steps: number
  epochs: number
  status: string
  lastStep: number
  firstStep: number
  checkpoints: number[]
  parent?: { id?: string; step: number }
}

const runId = async (name: string): Promise<string> => {
  const list = await getJson<RunRow[]>('/api/runs')
  const row = list.find((r) => r.name === name)
  expect(row, `run ${name} in ${JSON.stringify(list.map((r) => r.name))}`).toBeDefined()
  return row!.id
}

const until = async (what: string, ok: () => Promise<boolean>, timeoutMs = 150_000): Promise<void> => {
  const t0 = Date.now()
  while (!(await ok())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

beforeAll(async () => {
  mkdirSync(runs)
  const ds = blobs(100, 3, 4, 9)
  const rows = Array.from({ length: 300 }, (_, i) => `${Array.from(ds.x.data.subarray(i * 4, i * 4 + 4), (v) => v.toFixed(5)).join(',')},c${ds.labels![i]}`)
  writeFileSync(csv, `a,b,c,d,class\n${rows.join('\n')}\n`)
  for (const [dir, args] of [[digits, DIGITS], [table, TABLE]] as const) {
    const r = await cli('train', ...args, '--out', dir, '--json')
    expect(r.code, r.err).toBe(0)
  }
  dash = await startDashboard({ dirs: [runs], port: 0, cache: { prefetch: false, keepMs: 0, maxPerInterval: 1000 } })
  base = `http://127.0.0.1:${dash.port}`
}, 180_000)

afterAll(async () => {
  await dash?.close({ stopForks: true })
  rmSync(tmp, { recursive: true, force: true })
})

describe('access', () => {
  it('serves on 127.0.0.1 with a random token; without it or with another: 403', async () => {
    expect(dash.url).toBe(`http://127.0.0.1:${dash.port}/?token=${dash.token}`)
    expect(dash.token.length).toBeGreaterThanOrEqual(32)
    for (const token of [null, 'wrong', `${dash.token}x`]) {
      const r = await get('/api/runs', token)
      expect(r.status).toBe(403)
      expect(((await r.json()) as { error: string }).error).toMatch(/token/)
      expect((await get('/', token)).status).toBe(403)
    }
    expect((await fetch(`${base}/api/runs?token=${dash.token}`)).status).toBe(200)
    expect((await get('/api/runs')).status).toBe(200)
    const page = await fetch(`${base}/?token=${dash.token}`)
    expect(page.status).toBe(200)
    expect(await page.text()).toMatch(/app\.js/)
  })

  it('addresses runs by id only: paths, traversal attempts and unknown ids are 404', async () => {
    const list = await getJson<RunRow[]>('/api/runs')
    expect(JSON.stringify(list)).not.toContain(tmp)
    for (const path of [
      '/api/runs/..%2f..%2fetc%2fpasswd/metrics',
      '/api/runs/..%2fdigits/metrics',
      '/api/runs/%2e%2e/metrics',
      '/api/runs/digits/metrics',
      `/api/runs/${encodeURIComponent(digits)}/metrics`,
      '/api/runs/r99/metrics',
      '/api/runs/r0/steps/1/..%2f..%2fconfig.json',
      '/..%2fpackage.json',
      '/app.js/..%2f..%2fpackage.json',
      '/api/runs/r0/checkpoints',
    ]) {
      const r = await get(path)
      expect(r.status, path).toBe(404)
      expect(await r.text()).not.toContain('"version"')
    }
  })
})

describe('GET /api/runs and /metrics', () => {
  it('lists both runs with model, parameters, steps, status, last step and checkpoints', async () => {
    const list = await getJson<RunRow[]>('/api/runs')
    expect(list.map((r) => r.name).sort()).toEqual(['digits', 'table'])
    const d = list.find((r) => r.name === 'digits')!
    expect(d).toMatchObject({ model: 'mlp', params: 784 * 16 + 16 + 16 * 10 + 10, steps: 250, epochs: 2, status: 'done', lastStep: 250, firstStep: 0 })
    expect(d.checkpoints).toEqual([50, 100, 150, 200, 250])
    expect(d.id).toMatch(/^r\d+$/)
    const t = list.find((r) => r.name === 'table')!
    // 300 rows, 80% for training = 240 in batches of 8: 30 steps per epoch; one checkpoint per epoch.
    expect(t).toMatchObject({ steps: 60, lastStep: 60, checkpoints: [30, 60], status: 'done' })
  })

  it('gives the per-step loss and lr of metrics.ndjson and the epoch rows of epochs.ndjson', async () => {
    const m = await getJson<{ step: number[]; loss: number[]; lr: number[]; epochs: Record<string, unknown>[] }>(`/api/runs/${await runId('digits')}/metrics`)
    const file = lines(join(digits, 'metrics.ndjson'))
    expect(m.step).toEqual(file.map((l) => l.step))
    expect(m.loss).toEqual(file.map((l) => l.loss))
    expect(m.lr).toEqual(file.map((l) => l.lr))
    const epochs = lines(join(digits, 'epochs.ndjson'))
    expect(m.epochs).toEqual(epochs.map((e) => ({ epoch: e.epoch, trainLoss: e.trainLoss, testLoss: e.testLoss, testAccuracy: e.testAccuracy })))
    expect(m.epochs).toHaveLength(2)
  })
})

describe('GET /api/runs/{id}/steps/{n}', () => {
  it("returns the hash of `gradstream replay --step n --json` at checkpoints and between them", async () => {
    const id = await runId('digits')
    for (const step of [0, 37, 50, 99, 123, 201, 250]) {
      const [view, cli] = await Promise.all([getJson<Record<string, unknown>>(`/api/runs/${id}/steps/${step}`), replayJson(digits, step)])
      expect(view.step).toBe(step)
      expect(view.hash, `step ${step}`).toBe(cli.hash)
      expect(view.loss).toBe(cli.loss)
      const tensors = view.tensors as { name: string; shape: number[]; norm: number; min: number; max: number; histogram: { edges: number[]; counts: number[] } }[]
      expect(tensors.map((t) => t.name)).toEqual(cli.tensors.map((t) => t.name))
      tensors.forEach((t, i) => {
        expect(t.norm).toBe(cli.tensors[i].norm)
        const n = t.shape.reduce((a, b) => a * b, 1)
        expect(t.histogram.counts.reduce((a, b) => a + b, 0)).toBe(n)
        expect(t.histogram.edges).toHaveLength(t.histogram.counts.length + 1)
        expect(t.histogram.edges[0]).toBe(t.min)
        expect(t.histogram.edges[t.histogram.edges.length - 1]).toBe(t.max)
      })
    }
    // The loss of a step is the one metrics.ndjson logged for it.
    const logged = lines(join(digits, 'metrics.ndjson'))
    expect((await getJson(`/api/runs/${id}/steps/123`)).loss).toBe(logged[122].loss)
  })

  it('replays at most the steps from the nearest snapshot, keeps intermediate ones, and computes concurrent requests once', async () => {
    const id = await runId('digits')
    const before = dash.cache.replayedSteps
    // Step 190: the nearest checkpoint is 150 (step 123 and below are cached, none above 150).
    const rs = await Promise.all([1, 2, 3].map(() => getJson<{ hash: string; from: number; replayed: number }>(`/api/runs/${id}/steps/190`)))
    expect(new Set(rs.map((r) => r.hash)).size).toBe(1)
    expect(rs[0]).toMatchObject({ from: 150, replayed: 40 })
    expect(dash.cache.replayedSteps - before).toBe(40)
    // With keepMs 0 every replayed step was kept: any step of 151..190 now costs nothing.
    const mid = await getJson<{ hash: string; replayed: number }>(`/api/runs/${id}/steps/170`)
    expect(mid.replayed).toBe(0)
    expect(mid.hash).toBe((await replayJson(digits, 170)).hash)
    expect(dash.cache.replayedSteps - before).toBe(40)
  })

  it('answers a step outside the run or a malformed one with 400 naming the valid range, and keeps serving', async () => {
    const id = await runId('digits')
    for (const step of ['251', '100000', '-1', 'abc', '1.5']) {
      const r = await get(`/api/runs/${id}/steps/${step}`)
      expect(r.status, step).toBe(400)
      const { error } = (await r.json()) as { error: string }
      expect(error.split('\n')).toHaveLength(1)
      expect(error).toMatch(/^\d+$/.test(step) ? /valid steps are 0 to 250/ : /expected a step/)
    }
    expect((await getJson(`/api/runs/${id}/steps/250`)).step).toBe(250)
  })
})

describe('pictures, predictions, confusion, diff', () => {
  it('draws the first layer of an image model as 16 filters of 28x28, and has no filters for tabular inputs (404)', async () => {
    const r = await get(`/api/runs/${await runId('digits')}/steps/100/filters.png`)
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe('image/png')
    const img = decodePng(Buffer.from(await r.arrayBuffer()))
    // 16 tiles in a 4x4 grid of 28x28 with 1-pixel gaps, doubled.
    expect([img.width, img.height]).toEqual([(4 * 29 + 1) * 2, (4 * 29 + 1) * 2])
    expect(new Set(img.pixels).size).toBeGreaterThan(50)
    expect((await get(`/api/runs/${await runId('table')}/steps/10/filters.png`)).status).toBe(404)
  })

  it('predicts the first 20 test digits and gives the test confusion matrix that epochs.ndjson reports', async () => {
    const id = await runId('digits')
    const p = await getJson<{ classes: string[]; samples: { label: number; predicted: number; probabilities: number[]; image: string }[] }>(`/api/runs/${id}/steps/250/predictions`)
    expect(p.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
    expect(p.samples).toHaveLength(20)
    for (const s of p.samples) {
      expect(s.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12)
      expect(s.predicted).toBe(s.probabilities.indexOf(Math.max(...s.probabilities)))
      const png = decodePng(Buffer.from(s.image.replace(/^data:image\/png;base64,/, ''), 'base64'))
      expect([png.width, png.height]).toEqual([28, 28])
    }
    const c = await getJson<{ matrix: number[][]; accuracy: number; loss: number; samples: number }>(`/api/runs/${id}/steps/250/confusion`)
    const total = c.matrix.flat().reduce((a, b) => a + b, 0)
    expect(total).toBe(2000)
    expect(c.accuracy).toBe(c.matrix.reduce((a, row, i) => a + row[i], 0) / total)
    // The run evaluated the test set at the end of epoch 2 (step 250): the same numbers.
    const epoch2 = lines(join(digits, 'epochs.ndjson'))[1]
    expect(c.accuracy).toBe(epoch2.testAccuracy)
    expect(c.loss).toBe(epoch2.testLoss)
    // Each true class has as many rows as the test set has digits of it; the first 20 labels agree.
    const firstLabels = p.samples.map((s) => s.label)
    expect(firstLabels.every((l) => c.matrix[l].reduce((a, b) => a + b, 0) > 0)).toBe(true)
    expect((await get(`/api/runs/${id}/steps/999/confusion`)).status).toBe(400)
  })

  it('diffs two steps tensor by tensor (norms of each side as replay gives them) and two runs at one step', async () => {
    const id = await runId('digits')
    const d = await getJson<{ tensors: { name: string; change: number; normA: number; normB: number }[] }>(`/api/runs/${id}/diff?from=37&to=201`)
    const [a, b] = [await replayJson(digits, 37), await replayJson(digits, 201)]
    expect(d.tensors.map((t) => t.name)).toEqual(a.tensors.map((t) => t.name))
    d.tensors.forEach((t, i) => {
      expect(t.normA).toBe(a.tensors[i].norm)
      expect(t.normB).toBe(b.tensors[i].norm)
      expect(t.change).toBeGreaterThan(0)
      // Triangle inequality on each tensor.
      expect(t.change).toBeLessThanOrEqual(t.normA + t.normB + 1e-9)
      expect(t.change).toBeGreaterThanOrEqual(Math.abs(t.normA - t.normB) - 1e-9)
    })
    const same = await getJson<{ tensors: { change: number }[] }>(`/api/runs/${id}/diff?from=99&to=99&run=${id}`)
    expect(same.tensors.every((t) => t.change === 0)).toBe(true)
    const other = await get(`/api/runs/${id}/diff?from=10&to=10&run=${await runId('table')}`)
    expect(other.status).toBe(400)
    expect(((await other.json()) as { error: string }).error).toMatch(/different parameters/)
    expect((await get(`/api/runs/${id}/diff?from=10`)).status).toBe(400)
  })
})

describe('live runs and forks', () => {
  it('shows a run written by another process while it trains, then done', async () => {
    const live = join(runs, 'live')
    const child = spawn(process.execPath, [join(root, 'bin', 'gradstream.js'), 'train', ...DIGITS, '--out', live], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let err = ''
    child.stderr.on('data', (b: Buffer) => void (err += b.toString()))
    const exited = new Promise<number | null>((r) => child.on('close', r))
    let id: string | undefined
    const statuses = new Set<string>()
    const seenSteps = new Set<number>()
    let done = false
    await until('the live run to finish', async () => {
      const row = (await getJson<RunRow[]>('/api/runs')).find((r) => r.name === 'live')
      if (row !== undefined) {
        id = row.id
        statuses.add(row.status)
        seenSteps.add((await getJson<{ step: number[] }>(`/api/runs/${row.id}/metrics`)).step.length)
        done = row.status === 'done'
      }
      return done
    })
    expect(await exited, err).toBe(0)
    // Seen while it trained (status running, fewer steps than at the end), then done.
    expect([...statuses]).toEqual(['running', 'done'])
    expect(Math.min(...seenSteps)).toBeLessThan(250)
    const m = await getJson<{ step: number[] }>(`/api/runs/${id}/metrics`)
    expect(m.step).toEqual(Array.from({ length: 250 }, (_, i) => i + 1))
    const last = await getJson<{ hash: string }>(`/api/runs/${id}/steps/250`)
    expect(last.hash).toBe((JSON.parse(readFileSync(join(live, 'summary.json'), 'utf8')) as { hash: string }).hash)
  }, 180_000)

  it('forks from a step in a child process into a new directory; the same fork twice gives the same hashes', async () => {
    const id = await runId('digits')
    const metricsBefore = readFileSync(join(digits, 'metrics.ndjson'), 'utf8')
    const bad = await get(`/api/runs/${id}/fork`, dash.token, { method: 'POST', body: JSON.stringify({ step: 999 }) })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toMatch(/step to be an integer from 0 to 250/)
    const badLr = await get(`/api/runs/${id}/fork`, dash.token, { method: 'POST', body: JSON.stringify({ step: 60, lr: -1 }) })
    expect(badLr.status).toBe(400)
    expect((await get(`/api/runs/${id}/fork`, null, { method: 'POST', body: '{"step":60}' })).status).toBe(403)
    const body = JSON.stringify({ step: 200, lr: 0.01, optimizer: 'adam', epochs: 2 })
    const forks: string[] = []
    for (let i = 0; i < 2; i++) {
      const r = await get(`/api/runs/${id}/fork`, dash.token, { method: 'POST', body })
      expect(r.status).toBe(201)
      forks.push(((await r.json()) as { id: string }).id)
    }
    await until('both forks to finish', async () => {
      const rows = (await getJson<RunRow[]>('/api/runs')).filter((r) => forks.includes(r.id))
      const failed = rows.find((r) => r.status === 'interrupted')
      if (failed !== undefined) throw new Error(`fork ${failed.id} stopped: ${JSON.stringify(failed)}`)
      return rows.length === 2 && rows.every((r) => r.status === 'done')
    }, 420_000)
    const rows = (await getJson<RunRow[]>('/api/runs')).filter((r) => forks.includes(r.id))
    for (const r of rows) {
      expect(r.parent).toEqual({ id, step: 200 })
      expect(r).toMatchObject({ firstStep: 200, lastStep: 250, status: 'done' })
      expect(r.name).toMatch(/^digits-fork-200(-2)?$/)
    }
    for (const step of [200, 201, 237, 250]) {
      const [a, b] = await Promise.all(forks.map((f) => getJson<{ hash: string }>(`/api/runs/${f}/steps/${step}`)))
      expect(a.hash, `step ${step}`).toBe(b.hash)
    }
    expect((await getJson<{ hash: string }>(`/api/runs/${forks[0]}/steps/200`)).hash).toBe((await getJson<{ hash: string }>(`/api/runs/${id}/steps/200`)).hash)
    expect((await getJson<{ hash: string }>(`/api/runs/${forks[0]}/steps/201`)).hash).not.toBe((await getJson<{ hash: string }>(`/api/runs/${id}/steps/201`)).hash)
    expect((await get(`/api/runs/${forks[0]}/steps/199`)).status).toBe(400)
    expect(readFileSync(join(digits, 'metrics.ndjson'), 'utf8')).toBe(metricsBefore)
  }, 480_000)
})
