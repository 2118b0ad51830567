// `gradstream online --redis --label-stream` over records produced with the packed
// encoding (`produce --encoding f32 --label ID --features ...`: the features in one `f32`
// field beside the id field), against a real redis-server: the same bits, counts,
// accuracy and macro F1 as the same records produced as JSON entries.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli.ts'
import { key, uniform } from '../../src/core/rng.ts'
import { textSink as sink } from '../cli-run.ts'
import { streamData } from './data.ts'
import type { RedisServer } from './server.ts'
import { entries, startRedis } from './server.ts'

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

const cli = async (args: string[]) => {
  const out = sink()
  const err = sink()
  const code = await main(args, { stdout: out.stream, stderr: err.stream })
  return { code, stdout: out.text(), stderr: err.text() }
}

const lastJson = (stdout: string): Record<string, unknown> => {
  const lines = stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>
}

describe('online --redis --label-stream with packed f32 records', () => {
  it('learns the bits of the same records as JSON entries', async () => {
    const N = 600
    const data = streamData(N, 8, 0, 91)
    const features = Array.from({ length: 8 }, (_, i) => `f${i}`)
    const dir = mkdtempSync(join(tmpdir(), 'gs-join-packed-'))
    const recordsFile = join(dir, 'records.ndjson')
    const rows = data.lines.map((l, i): Record<string, unknown> => ({ ...(JSON.parse(l) as Record<string, unknown>), rid: `r${i}` }))
    writeFileSync(recordsFile, `${rows.map(({ kind: _k, ...r }) => JSON.stringify(r)).join('\n')}\n`)
    // labels in a seeded order, every 25th never sent
    const u = uniform(key(92), N, 'float64')
    const order = rows.map((_, i) => i).filter((i) => i % 25 !== 6).sort((a, b) => u[a] - u[b])
    const ran: Record<string, Record<string, unknown>> = {}
    for (const [s, encoding] of [['as-json', []], ['as-f32', ['--encoding', 'f32', '--label', 'rid', '--features', features.join(',')]]] as const) {
      const p = await cli(['produce', '--redis', redis.url, '--stream', s, '--input', recordsFile, ...encoding])
      expect(p.code, p.stderr).toBe(0)
      const pipe = redis.client.pipeline()
      for (const i of order) pipe.xadd(`${s}:labels`, '*', 'json', JSON.stringify({ rid: `r${i}`, kind: rows[i].kind }))
      await pipe.exec()
      const r = await cli([
        'online', '--redis', redis.url, '--stream', s, '--label-stream', `${s}:labels`, '--id', 'rid', '--label', 'kind', '--classes', 'a,b,c',
        '--features', features.join(','), '--hidden', '16', '--lr', '0.05', '--checkpoint-dir', join(dir, s), '--checkpoint-every', '200', '--until-idle', '0.5', '--json',
      ])
      expect(r.code, r.stderr).toBe(0)
      ran[s] = lastJson(r.stdout)
    }
    // the packed stream really holds packed entries
    const first = (await entries(redis.client, 'as-f32'))[0][1]
    expect(first[0]).toBe('f32')
    expect(first.slice(2)).toEqual(['rid', 'r0'])
    const pick = (s: Record<string, unknown>) => ({ hash: s.hash, seen: s.seen, learned: s.learned, rejected: s.rejected, accuracy: s.accuracy, macroF1: s.macroF1, waiting: s.waiting })
    expect(ran['as-json'].learned).toBe(order.length)
    expect(ran['as-json'].rejected).toBe(0)
    expect(pick(ran['as-f32'])).toEqual(pick(ran['as-json']))
  }, 120_000)
})
