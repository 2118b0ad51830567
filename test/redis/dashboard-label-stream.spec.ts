// The dashboard over a `gradstream online --redis --label-stream` run, against a real
// redis-server: the run learned the records stream and the labels stream merged by entry
// id, so its record slider walks that merged sequence; each position carries the pair
// "<records id>|<labels id>" (as metrics.ndjson does), and the state there equals
// `gradstream replay DIR --entry '<records id>|<labels id>' --redis URL --json`.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { key, uniform } from '../../src/core/rng.ts'
import type { Dashboard } from '../../src/server/dashboard-server.ts'
import { startDashboard } from '../../src/server/dashboard-server.ts'
import { streamData } from './data.ts'
import type { RedisServer } from './server.ts'
import { startRedis } from './server.ts'
import { lastJsonLine, runCli } from '../cli-run.ts'
import type { OnlinePosition } from '../dashboard-client.ts'
import { dashboardJson } from '../dashboard-client.ts'

const cli = (...argv: string[]) => runCli(argv)
const getJson = <T>(path: string): Promise<T> => dashboardJson<T>(dash, path)
type Position = OnlinePosition

let redis: RedisServer
let dash: Dashboard
const tmp = mkdtempSync(join(tmpdir(), 'gs-dashboard-join-'))
const runs = join(tmp, 'runs')
const runDir = join(runs, 'joined-learner')
const N = 700
const MODEL = ['--label', 'kind', '--classes', 'a,b,c', '--hidden', '16', '--lr', '0.05']

let summary: Record<string, unknown>
let labelCount = 0

beforeAll(async () => {
  redis = await startRedis()
  // records at ms 1000 (i + 1) with an id; labels 5 to 200 s later (overtaking each other), one in 30 never comes
  const data = streamData(N, 8, 0.02, 81)
  const u = uniform(key(82), N, 'float64')
  const recs = data.lines.map((l, i) => {
    if (data.bad.includes(i)) return l
    const o = JSON.parse(l) as Record<string, unknown>
    return JSON.stringify({ ...Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'kind')), rid: `r${i}` })
  })
  const labels = data.lines
    .map((l, i) => ({ i, at: 1000 * (i + 1) + Math.round(5000 + u[i] * 195_000), kind: data.bad.includes(i) ? 'a' : (JSON.parse(l) as { kind: string }).kind }))
    .filter((l) => l.i % 30 !== 4)
    .sort((p, q) => p.at - q.at || p.i - q.i)
  labelCount = labels.length
  const p = redis.client.pipeline()
  recs.forEach((l, i) => p.xadd('events', `${1000 * (i + 1)}-0`, 'json', l))
  let prev = -1
  let seq = 0
  for (const l of labels) {
    seq = l.at === prev ? seq + 1 : 0
    prev = l.at
    p.xadd('events:labels', `${l.at}-${seq}`, 'json', JSON.stringify({ rid: `r${l.i}`, kind: l.kind }))
  }
  await p.exec()
  const r = await cli(
    'online', '--redis', redis.url, '--stream', 'events', '--label-stream', 'events:labels', '--id', 'rid', ...MODEL,
    '--checkpoint-dir', runDir, '--checkpoint-every', '150', '--report-every', '40', '--until-idle', '0.5', '--json',
  )
  expect(r.code, r.err).toBe(0)
  summary = lastJsonLine(r.out)
  dash = await startDashboard({ dirs: [runs], port: 0, token: 'join-token' })
}, 120_000)

afterAll(async () => {
  await dash?.close()
  await redis?.stop()
})

describe('dashboard: an online --redis --label-stream run', () => {
  it('scrubs the merged sequence with "<records id>|<labels id>" beside each record, equal to gradstream replay --entry', async () => {
    expect(summary.seen).toBe(N + labelCount)
    const rows = await getJson<{ id: string; name: string; source: string; lastRecord: number; lastStep: number; checkpointRecords: number[]; error?: string }[]>('/api/runs')
    const row = rows.find((r) => r.name === 'joined-learner')
    expect(row, JSON.stringify(rows)).toBeDefined()
    if (row === undefined) return
    expect(row.error).toBeUndefined()
    expect(row.lastRecord).toBe(N + labelCount)
    expect(row.checkpointRecords.length).toBeGreaterThan(3)
    const m = await getJson<{ record: number[]; step: number[]; entryId: (string | null)[] }>(`/api/runs/${row.id}/metrics`)
    const lineAt = new Map(m.record.map((r, i) => [r, { step: m.step[i], entryId: m.entryId[i] }]))
    const hashes = new Set<string>()
    // From the initial state, on a metrics line, just after a checkpoint, the last record.
    const at = [5, m.record[7], row.checkpointRecords[2] + 7, N + labelCount]
    for (const n of at) {
      const v = await getJson<Position>(`/api/runs/${row.id}/records/${n}`)
      expect(v.record).toBe(n)
      expect(v.entryId).toMatch(/^(\d+-\d+)?\|(\d+-\d+)?$/)
      const line = lineAt.get(n)
      if (line !== undefined) expect([v.entryId, v.step], `record ${n}`).toEqual([line.entryId, line.step])
      const r = await cli('replay', runDir, '--entry', v.entryId, '--redis', redis.url, '--json')
      expect(r.code, r.err).toBe(0)
      const replay = lastJsonLine<{ entry: string; seen: number; step: number; hash: string; tensors: { name: string; norm: number }[] }>(r.out)
      expect(replay.seen, `record ${n}`).toBe(n)
      expect(v.hash, `record ${n}`).toBe(replay.hash)
      expect(v.step).toBe(replay.step)
      expect(v.tensors.map((t) => t.norm)).toEqual(replay.tensors.map((t) => t.norm))
      hashes.add(v.hash)
    }
    expect(hashes.size).toBe(at.length)
    expect((await getJson<Position>(`/api/runs/${row.id}/records/${N + labelCount}`)).hash).toBe(summary.hash)
  }, 120_000)
})
