// The dashboard over a `gradstream online --redis` run, against a real redis-server: the
// record slider's positions carry the stream entry id of each record, and the state at
// each equals `gradstream replay DIR --entry ID --redis URL --json` (hash and norms),
// including after the learner was stopped and restarted on more entries.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Dashboard } from '../../src/server/dashboard-server.ts'
import { startDashboard } from '../../src/server/dashboard-server.ts'
import { streamData } from './data.ts'
import type { RedisServer } from './server.ts'
import { entries, startRedis } from './server.ts'
import { lastJsonLine, runCli } from '../cli-run.ts'
import type { OnlinePosition } from '../dashboard-client.ts'
import { dashboardJson } from '../dashboard-client.ts'

const cli = (...argv: string[]) => runCli(argv)
const getJson = <T>(path: string): Promise<T> => dashboardJson<T>(dash, path)
type Position = OnlinePosition

let redis: RedisServer
let dash: Dashboard
const tmp = mkdtempSync(join(tmpdir(), 'gs-dashboard-redis-'))
const runs = join(tmp, 'runs')
const runDir = join(runs, 'events-learner')
const data = streamData(900)
const MODEL = ['--label', 'kind', '--classes', 'a,b,c', '--hidden', '16', '--lr', '0.05']

const produce = async (lines: string[], name: string): Promise<void> => {
  const file = join(tmp, name)
  writeFileSync(file, `${lines.join('\n')}\n`)
  const p = await cli('produce', '--redis', redis.url, '--stream', 'events', '--input', file)
  expect(p.code, p.err).toBe(0)
}

const learn = async (): Promise<Record<string, unknown>> => {
  const r = await cli('online', '--redis', redis.url, '--stream', 'events', ...MODEL, '--checkpoint-dir', runDir, '--checkpoint-every', '150', '--report-every', '40', '--until-idle', '0.3', '--json')
  expect(r.code, r.err).toBe(0)
  return lastJsonLine(r.out)
}

beforeAll(async () => {
  redis = await startRedis()
  // 600 entries, a learner until idle; 300 more, the learner again (it continues from its checkpoint).
  await produce(data.lines.slice(0, 600), 'first.ndjson')
  await learn()
  await produce(data.lines.slice(600), 'second.ndjson')
  dash = await startDashboard({ dirs: [runs], port: 0, token: 'redis-token' })
}, 120_000)

afterAll(async () => {
  await dash?.close()
  await redis?.stop()
})

describe('dashboard: an online --redis run', () => {
  it('picks up what a restarted learner adds, then scrubs records with their entry ids, equal to gradstream replay --entry', async () => {
    const summary = await learn()
    expect(summary.resumed).toBe(true)
    const ids = (await entries(redis.client, 'events')).map(([id]) => id)
    expect(ids.length).toBe(900)
    const rows = await getJson<{ id: string; name: string; kind: string; source: string; stream: string; lastRecord: number; lastStep: number; status: string; checkpointRecords: number[] }[]>('/api/runs')
    const row = rows.find((r) => r.name === 'events-learner')
    expect(row, JSON.stringify(rows)).toBeDefined()
    if (row === undefined) return
    expect([row.kind, row.source, row.stream]).toEqual(['online', 'redis', 'events'])
    expect(row.lastRecord).toBe(900)
    // The learner went idle and wrote its final line.
    expect(row.status).toBe('done')
    expect(row.lastStep).toBe(summary.steps)
    const m = await getJson<{ record: number[]; step: number[]; entryId: (string | null)[] }>(`/api/runs/${row.id}/metrics`)
    // Each line's entry id is the record's entry of the stream (record n = the n-th entry).
    expect(m.record[m.record.length - 1]).toBe(900)
    for (let i = 0; i < m.record.length; i++) expect(m.entryId[i], `record ${m.record[i]}`).toBe(ids[m.record[i] - 1])
    const hashes = new Set<string>()
    // From the initial state, across the restart (record 600), from a checkpoint, the last.
    for (const n of [5, 222, 600, 601, row.checkpointRecords[3] + 7, 900]) {
      const v = await getJson<Position>(`/api/runs/${row.id}/records/${n}`)
      expect(v.record).toBe(n)
      expect(v.entryId).toBe(ids[n - 1])
      const r = await cli('replay', runDir, '--entry', v.entryId, '--redis', redis.url, '--json')
      expect(r.code, r.err).toBe(0)
      const replay = lastJsonLine<{ step: number; hash: string; tensors: { name: string; norm: number }[] }>(r.out)
      expect(v.hash, `record ${n}`).toBe(replay.hash)
      expect(v.step).toBe(replay.step)
      expect(v.tensors.map((t) => t.norm)).toEqual(replay.tensors.map((t) => t.norm))
      hashes.add(v.hash)
    }
    expect(hashes.size).toBe(6)
    expect((await getJson<Position>(`/api/runs/${row.id}/records/900`)).hash).toBe(summary.hash)
  }, 120_000)
})
