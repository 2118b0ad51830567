// `gradstream produce` and `gradstream online --redis` against a real redis-server, in
// process: the parameters equal a run over the same records from a file (an independent
// path), bad entries go to <key>:rejected and nowhere else, nothing stays pending, and a
// restart continues with cumulative counts.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli.ts'
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

const sink = () => {
  let text = ''
  const stream = { write: (s: string) => ((text += s), true), isTTY: false } as unknown as NodeJS.WriteStream
  return { stream, text: () => text }
}

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

const tmp = (): string => mkdtempSync(join(tmpdir(), 'gradstream-redis-'))
const MODEL = ['--label', 'kind', '--classes', 'a,b,c', '--hidden', '16', '--lr', '0.05']

describe('gradstream online --redis', () => {
  const data = streamData(3000)
  const dir = tmp()
  const first = join(dir, 'first.ndjson')
  const all = join(dir, 'all.ndjson')
  writeFileSync(first, `${data.lines.slice(0, 2000).join('\n')}\n`)
  writeFileSync(all, `${data.lines.join('\n')}\n`)
  const second = join(dir, 'second.ndjson')
  writeFileSync(second, `${data.lines.slice(2000).join('\n')}\n`)

  it('learns every good entry once, equal to learning from the file, and dead-letters exactly the bad ones', async () => {
    const p = await cli(['produce', '--redis', redis.url, '--stream', 'events', '--input', first, '--json'])
    expect(p.code).toBe(0)
    expect(lastJson(p.stdout).produced).toBe(2000)
    const ck = join(dir, 'ck')
    const r = await cli(['online', '--redis', redis.url, '--stream', 'events', ...MODEL, '--checkpoint-dir', ck, '--checkpoint-every', '300', '--until-idle', '0.5', '--json'])
    expect(r.stderr).toMatch(/entry \d+-\d+: rejected, invalid json/)
    expect(r.code).toBe(0)
    const s = lastJson(r.stdout)
    const bad = data.bad.filter((i) => i < 2000)
    expect(s.seen).toBe(2000)
    expect(s.rejected).toBe(bad.length)
    expect(s.learned).toBe(2000 - bad.length)
    expect(s.resumed).toBe(false)
    const ids = (await entries(redis.client, 'events')).map(([id]) => id)
    expect(s.lastEntryId).toBe(ids[1999])
    // The same records from a file, through the file path of gradstream online.
    const f = await cli(['online', '--input', first, ...MODEL, '--json'])
    const fs = lastJson(f.stdout)
    expect(s.hash).toBe(fs.hash)
    expect(s.accuracy).toBe(fs.accuracy)
    expect(s.rejectedByReason).toEqual(fs.rejectedByReason)
    expect(await redis.client.xpending('events', 'gradstream', '-', '+', 10)).toEqual([])
    const dead = await entries(redis.client, 'events:rejected')
    expect(dead.map(([id]) => id)).toEqual(bad.map((i) => ids[i]))
    expect(dead[0][1].slice(0, 2)).toEqual(['json', data.lines[bad[0]]])
    expect(dead[0][1].slice(2, 4)).toEqual(['reason', 'invalid json'])
  })

  it('continues after more entries arrive: counts over the whole stream, parameters as one run over all of it', async () => {
    await cli(['produce', '--redis', redis.url, '--stream', 'events', '--input', second])
    const r = await cli(['online', '--redis', redis.url, '--stream', 'events', ...MODEL, '--checkpoint-dir', join(dir, 'ck'), '--until-idle', '0.5', '--json'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/continuing from .*step-\d{8}\.safetensors \(after entry \d+-\d+\)/)
    const s = lastJson(r.stdout)
    const f = lastJson((await cli(['online', '--input', all, ...MODEL, '--json'])).stdout)
    expect(s.resumed).toBe(true)
    expect(s.seen).toBe(3000)
    expect(s.learned).toBe(3000 - data.bad.length)
    expect(s.rejected).toBe(data.bad.length)
    expect(s.hash).toBe(f.hash)
    expect(s.accuracy).toBe(f.accuracy)
    expect((await entries(redis.client, 'events:rejected')).length).toBe(data.bad.length)
    expect(await redis.client.xpending('events', 'gradstream', '-', '+', 10)).toEqual([])
  })

  it('reads field/value entries (CSV rows) with class indices', async () => {
    const csv = join(dir, 'rows.csv')
    writeFileSync(csv, 'x,y,label\n1,0,1\n0,1,0\n1,1,2\n2,2,7\n')
    const p = await cli(['produce', '--redis', redis.url, '--stream', 'rows', '--input', csv, '--json'])
    expect(lastJson(p.stdout).produced).toBe(4)
    const r = await cli(['online', '--redis', redis.url, '--stream', 'rows', '--label', 'label', '--num-classes', '3', '--hidden', '4', '--checkpoint-dir', join(dir, 'rows'), '--until-idle', '0.3', '--json'])
    const s = lastJson(r.stdout)
    expect(s.features).toEqual(['x', 'y'])
    expect(s.learned).toBe(3)
    expect(s.rejectedByReason).toEqual({ 'unknown class': 1 })
    const [[, fields]] = await entries(redis.client, 'rows:rejected')
    expect(fields).toEqual(['x', '2', 'y', '2', 'label', '7', 'reason', 'unknown class', 'detail', 'label "label" is "7"'])
  })

  it('refuses bad flags and a checkpoint folder of another stream with one line and exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['online', '--redis', redis.url, '--label', 'kind', '--checkpoint-dir', dir], /^gradstream online: --stream: expected the key of the stream to learn from\n$/],
      [['online', '--redis', redis.url, '--stream', 'events', '--label', 'kind'], /^gradstream online: --checkpoint-dir: expected a folder/],
      [['online', '--redis', redis.url, '--stream', 'events', '--label', 'kind', '--checkpoint-dir', dir, '--until-idle', '0'], /^gradstream online: --until-idle: expected a positive number of seconds, got "0"\n$/],
      [['online', '--redis', 'localhost', '--stream', 'e', '--label', 'kind', '--checkpoint-dir', dir], /^gradstream online: --redis: expected a URL like redis:\/\/127\.0\.0\.1:6379, got "localhost"\n$/],
      [['online', '--redis', 'redis://127.0.0.1:1', '--stream', 'e', '--label', 'kind', '--checkpoint-dir', tmp()], /^gradstream online: --redis: could not connect to redis:\/\/127\.0\.0\.1:1: ECONNREFUSED\n$/],
      [['online', '--redis', redis.url, '--stream', 'rows', ...MODEL, '--checkpoint-dir', join(dir, 'ck')], /^gradstream online: .*step-\d+\.safetensors: learned from stream "events" group "gradstream", not stream "rows" group "gradstream"\n$/],
      [['online', '--redis', redis.url, '--stream', 'events', '--label', 'kind', '--classes', 'a,b,c', '--hidden', '32', '--checkpoint-dir', join(dir, 'ck')], /its model differs from the model flags/],
      [['produce', '--redis', redis.url, '--stream', 'x', '--input', join(dir, 'nope.ndjson')], /^gradstream produce: --input: could not read .*nope\.ndjson: ENOENT\n$/],
      [['produce', '--stream', 'x'], /^gradstream produce: --redis: expected a URL/],
    ]
    for (const [args, re] of cases) {
      const r = await cli(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr, args.join(' ')).toMatch(re)
    }
  })
})
