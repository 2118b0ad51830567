// The dashboard over an online run learned from a file (`gradstream online --input FILE
// --checkpoint-dir DIR`): the run is listed, its metrics log is served as it was written,
// and the state after any record equals an independent run of `gradstream online` over
// just the first n records of the file (same hash), from checkpoints or from the start.

import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Dashboard } from '../../src/server/dashboard-server.ts'
import { startDashboard } from '../../src/server/dashboard-server.ts'
import { streamData } from '../redis/data.ts'
import { runCli, lastJsonLine } from '../cli-run.ts'

const tmp = mkdtempSync(join(tmpdir(), 'gs-dashboard-online-'))
const runs = join(tmp, 'runs')
const dataDir = join(tmp, 'data')
const input = join(dataDir, 'stream.ndjson')
const runDir = join(runs, 'online-file')
const N = 600
const data = streamData(N)
const MODEL = ['--label', 'kind', '--classes', 'a,b,c', '--hidden', '16', '--lr', '0.05', '--seed', '4']

const cli = (...argv: string[]) => runCli(argv)

/** The hash of `gradstream online` over the first n records only (no checkpoints). */
const hashOfFirst = async (n: number, model: readonly string[] = MODEL, lines: readonly string[] = data.lines): Promise<string> => {
  const part = join(tmp, `first-${n}.ndjson`)
  writeFileSync(part, `${lines.slice(0, n).join('\n')}\n`)
  const r = await cli('online', '--input', part, ...model, '--json')
  expect(r.code, r.err).toBe(0)
  return lastJsonLine(r.out).hash as string
}

let dash: Dashboard
let summary: Record<string, unknown>

const get = (d: Dashboard, path: string, token: string | null = d.token): Promise<Response> =>
  fetch(`http://127.0.0.1:${d.port}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } })

const getJson = async <T = Record<string, unknown>>(path: string, d = dash): Promise<T> => {
  const r = await get(d, path)
  expect(r.status, `${path}: ${await r.clone().text()}`).toBe(200)
  return (await r.json()) as T
}

interface Row {
  id: string
  name: string
  kind: string
  source: string
  lastRecord: number
  lastStep: number
  checkpointRecords: number[]
  status: string
  params: number
  error?: string
}

beforeAll(async () => {
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(input, `${data.lines.join('\n')}\n`)
  const r = await cli('online', '--input', input, ...MODEL, '--checkpoint-dir', runDir, '--checkpoint-every', '100', '--report-every', '50', '--json')
  expect(r.code, r.err).toBe(0)
  summary = lastJsonLine(r.out)
  dash = await startDashboard({ dirs: [runs], dataDirs: [dataDir], port: 0, token: 'online-token' })
}, 120_000)

afterAll(async () => {
  await dash?.close()
})

const onlineRow = async (d = dash): Promise<Row> => {
  const rows = await getJson<Row[]>('/api/runs', d)
  const row = rows.find((x) => x.name === 'online-file')
  expect(row, JSON.stringify(rows)).toBeDefined()
  return row as Row
}

describe('dashboard: an online run from a file', () => {
  it('lists the run with its records, steps and checkpoints', async () => {
    const row = await onlineRow()
    expect(row.kind).toBe('online')
    expect(row.source).toBe('file')
    expect(row.status).toBe('done')
    expect(row.lastRecord).toBe(N)
    expect(row.lastStep).toBe(summary.steps)
    expect(row.params).toBe(summary.params)
    expect(row.error).toBeUndefined()
    // A checkpoint every 100 examples: records counted with the rejected ones before them.
    expect(row.checkpointRecords.length).toBeGreaterThanOrEqual(5)
    expect(row.checkpointRecords[row.checkpointRecords.length - 1]).toBe(N)
  })

  it('serves the metrics log as the run wrote it, and a torn last line is skipped', async () => {
    const row = await onlineRow()
    const m = await getJson<{ kind: string; record: number[]; step: number[]; accuracy: (number | null)[]; windowAccuracy: (number | null)[]; entryId: (string | null)[] }>(`/api/runs/${row.id}/metrics`)
    const written = readFileSync(join(runDir, 'metrics.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { record: number; step: number; accuracy: number })
    expect(m.kind).toBe('online')
    expect(m.record).toEqual(written.map((l) => l.record))
    expect(m.step).toEqual(written.map((l) => l.step))
    // One line per 50 examples and the final one: steps 50, 100, ... (batch 1) and the end.
    expect(m.step.slice(0, 3)).toEqual([50, 100, 150])
    expect(m.record[m.record.length - 1]).toBe(N)
    expect(m.accuracy[m.accuracy.length - 1]).toBe(summary.accuracy)
    expect(m.entryId.every((e) => e === null)).toBe(true)
    appendFileSync(join(runDir, 'metrics.ndjson'), '{"record":')
    const again = await getJson<{ record: number[] }>(`/api/runs/${row.id}/metrics`)
    expect(again.record).toEqual(m.record)
  })

  it('the state after record n equals gradstream online over the first n records', async () => {
    const row = await onlineRow()
    // Before the first checkpoint (from the initial state), between checkpoints, at one, at the end.
    const seen = new Set<string>()
    for (const n of [1, 37, row.checkpointRecords[1] + 13, row.checkpointRecords[2], N]) {
      const v = await getJson<{ record: number; step: number; entryId?: string; hash: string; from: number; replayed: number; tensors: { name: string; norm: number }[] }>(`/api/runs/${row.id}/records/${n}`)
      expect(v.record).toBe(n)
      expect(v.hash, `record ${n}`).toBe(await hashOfFirst(n))
      seen.add(v.hash)
      expect(v.from).toBeLessThanOrEqual(n)
      expect(v.replayed).toBe(n - v.from)
      expect(v.tensors.length).toBeGreaterThan(0)
      expect(v.entryId).toBeUndefined()
    }
    expect(seen.size).toBe(5)
    const end = await getJson<{ hash: string; step: number }>(`/api/runs/${row.id}/records/${N}`)
    expect(end.hash).toBe(summary.hash)
    expect(end.step).toBe(summary.steps)
  }, 120_000)

  it('answers bad positions, bad ids, training routes and missing tokens with one-line errors', async () => {
    const row = await onlineRow()
    for (const [path, status, text] of [
      [`/api/runs/${row.id}/records/0`, 400, `valid records are 1 to ${N}`],
      [`/api/runs/${row.id}/records/${N + 1}`, 400, `valid records are 1 to ${N}`],
      [`/api/runs/${row.id}/records/x`, 400, 'expected a record number'],
      [`/api/runs/${row.id}/steps/3`, 404, 'no such API path for the online run'],
      ['/api/runs/r999/records/3', 404, 'no run "r999"'],
      ['/api/runs/..%2Fonline-file/records/3', 404, 'no run'],
    ] as const) {
      const r = await get(dash, path)
      expect(r.status, path).toBe(status)
      expect(((await r.json()) as { error: string }).error).toContain(text)
    }
    expect((await get(dash, `/api/runs/${row.id}/records/3`, null)).status).toBe(403)
    expect((await get(dash, `/api/runs/${row.id}/records/3`, 'wrong')).status).toBe(403)
  })

  it('does not read an input file outside the directories it was given', async () => {
    const other = await startDashboard({ dirs: [runs], port: 0, token: 'other-token' })
    try {
      const row = await onlineRow(other)
      expect(row.error).toMatch(/lies outside the directories given to the dashboard; add --data-dir/)
      const r = await get(other, `/api/runs/${row.id}/records/5`)
      expect(r.status).toBe(409)
      expect(((await r.json()) as { error: string }).error).toContain('--data-dir')
      // Its metrics are still served.
      expect((await getJson<{ record: number[] }>(`/api/runs/${row.id}/metrics`, other)).record.length).toBeGreaterThan(5)
    } finally {
      await other.close()
    }
  })
})

// The baseline's options change how the state is replayed: the drift detector's state comes
// from the checkpoint (reset re-initialises at the same records), delayed labels from the
// checkpoint's examples waiting for their labels (online_waiting), a regressor
// reads a numeric target. The drift run's stream changes concept at record 300 (classes
// rotated), so the detector fires and resets the model.
const rotated = data.lines.map((l, i) => (i < 300 ? l : l.replace(/"kind":"([abc])"/, (_, c: string) => `"kind":"${{ a: 'b', b: 'c', c: 'a' }[c]}"`)))
const rotatedInput = join(dataDir, 'rotated.ndjson')

describe.each([
  ['drift-reset', ['--label', 'kind', '--classes', 'a,b,c', '--hidden', '16', '--lr', '0.01', '--seed', '4', '--standardize', 'online', '--drift', 'adwin', '--on-drift', 'reset']],
  ['label-delay', [...MODEL, '--label-delay', '7']],
  ['regression', ['--label', 'f0', '--features', 'f1,f2,f3,f4,f5,f6,f7', '--loss', 'euclidean', '--hidden', '8', '--lr', '0.01', '--seed', '2']],
] as const)('dashboard: an online file run with %s', (name, model) => {
  it('the state after record n equals gradstream online over the first n records', async () => {
    const lines = name === 'drift-reset' ? rotated : data.lines
    writeFileSync(rotatedInput, `${rotated.join('\n')}\n`)
    const r = await cli('online', '--input', name === 'drift-reset' ? rotatedInput : input, ...model, '--checkpoint-dir', join(runs, name), '--checkpoint-every', '100', '--report-every', '50', '--json')
    expect(r.code, r.err).toBe(0)
    const s = lastJsonLine(r.out)
    const row = (await getJson<Row[]>('/api/runs')).find((x) => x.name === name)
    expect(row).toBeDefined()
    if (row === undefined) return
    expect(row.lastRecord).toBe(N)
    expect(row.error).toBeUndefined()
    for (const n of [29, row.checkpointRecords[2] + 13, row.checkpointRecords[4] + 41, N]) {
      const v = await getJson<{ hash: string; from: number }>(`/api/runs/${row.id}/records/${n}`)
      expect(v.hash, `${name} record ${n}`).toBe(await hashOfFirst(n, model, lines))
      // replayed from the nearest checkpoint, delayed labels too
      if (n === row.checkpointRecords[2] + 13) expect(v.from).toBe(row.checkpointRecords[2])
    }
    expect((await getJson<{ hash: string }>(`/api/runs/${row.id}/records/${N}`)).hash).toBe(s.hash)
    const m = await getJson<{ windowLoss: (number | null)[]; windowAccuracy: (number | null)[] }>(`/api/runs/${row.id}/metrics`)
    expect(m.windowLoss.every((x) => x !== null && Number.isFinite(x))).toBe(true)
    if (name === 'drift-reset') expect(s.resets).toBeGreaterThan(0)
    if (name === 'regression') expect(m.windowAccuracy.every((x) => x === null)).toBe(true)
    if (name === 'regression') expect(readFileSync(join(runs, name, 'metrics.ndjson'), 'utf8')).toMatch(/"windowRmse":\d/)
  }, 120_000)
})
