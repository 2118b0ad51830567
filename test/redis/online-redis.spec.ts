// `gradstream produce` and `gradstream online --redis` against a real redis-server, in
// process: the parameters equal a run over the same records from a file (an independent
// path), bad entries go to <key>:rejected and nowhere else, nothing stays pending, and a
// restart continues with cumulative counts.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { followModels } from '../../src/streams/redis-models.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import { streamData } from './data.ts'
import type { RedisServer } from './server.ts'
import { entries, startRedis } from './server.ts'
import { lastJsonLine } from '../cli-run.ts'
import { cli } from '../cli/run-cli.ts'

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})


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
    expect(lastJsonLine(p.stdout).produced).toBe(2000)
    const ck = join(dir, 'ck')
    const r = await cli(['online', '--redis', redis.url, '--stream', 'events', ...MODEL, '--checkpoint-dir', ck, '--checkpoint-every', '300', '--until-idle', '0.5', '--json'])
    expect(r.stderr).toMatch(/entry \d+-\d+: rejected, invalid json/)
    expect(r.code).toBe(0)
    const s = lastJsonLine(r.stdout)
    const bad = data.bad.filter((i) => i < 2000)
    expect(s.seen).toBe(2000)
    expect(s.rejected).toBe(bad.length)
    expect(s.learned).toBe(2000 - bad.length)
    expect(s.resumed).toBe(false)
    const ids = (await entries(redis.client, 'events')).map(([id]) => id)
    expect(s.lastEntryId).toBe(ids[1999])
    // The same records from a file, through the file path of gradstream online.
    const f = await cli(['online', '--input', first, ...MODEL, '--json'])
    const fs = lastJsonLine(f.stdout)
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
    const s = lastJsonLine(r.stdout)
    const f = lastJsonLine((await cli(['online', '--input', all, ...MODEL, '--json'])).stdout)
    expect(s.resumed).toBe(true)
    expect(s.seen).toBe(3000)
    expect(s.learned).toBe(3000 - data.bad.length)
    expect(s.rejected).toBe(data.bad.length)
    expect(s.hash).toBe(f.hash)
    expect(s.accuracy).toBe(f.accuracy)
    expect((await entries(redis.client, 'events:rejected')).length).toBe(data.bad.length)
    expect(await redis.client.xpending('events', 'gradstream', '-', '+', 10)).toEqual([])
  })

  it('replay --entry recomputes the exact state after any entry', async () => {
    const ids = (await entries(redis.client, 'events')).map(([id]) => id)
    for (const k of [1234, 299, 2999]) {
      const prefix = join(dir, `prefix-${k}.ndjson`)
      writeFileSync(prefix, `${data.lines.slice(0, k + 1).join('\n')}\n`)
      const f = lastJsonLine((await cli(['online', '--input', prefix, ...MODEL, '--json'])).stdout)
      const r = await cli(['replay', join(dir, 'ck'), '--entry', ids[k], '--redis', redis.url, '--json'])
      expect(r.code, r.stderr).toBe(0)
      const s = lastJsonLine(r.stdout)
      expect(s.hash, `entry ${k}`).toBe(f.hash)
      expect(s.seen).toBe(k + 1)
      expect(s.learned).toBe(f.learned)
      expect(s.replayed as number).toBeLessThan(320) // from the nearest checkpoint (every 300 examples, plus rejected entries)
    }
    const bad = await cli(['replay', join(dir, 'ck'), '--entry', '1-1', '--redis', redis.url])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^gradstream replay: redis:\/\/127\.0\.0\.1:\d+ stream "events": no entry 1-1\n$/)
  })

  it('reads field/value entries (CSV rows) with class indices', async () => {
    const csv = join(dir, 'rows.csv')
    writeFileSync(csv, 'x,y,label\n1,0,1\n0,1,0\n1,1,2\n2,2,7\n')
    const p = await cli(['produce', '--redis', redis.url, '--stream', 'rows', '--input', csv, '--json'])
    expect(lastJsonLine(p.stdout).produced).toBe(4)
    const r = await cli(['online', '--redis', redis.url, '--stream', 'rows', '--label', 'label', '--num-classes', '3', '--hidden', '4', '--checkpoint-dir', join(dir, 'rows'), '--until-idle', '0.3', '--json'])
    const s = lastJsonLine(r.stdout)
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

describe('publication: --publish-every, followModels, predict --follow', () => {
  const data = streamData(1500, 8, 0.02, 21)
  const dir = tmp()
  const part = (name: string, from: number, to: number): string => {
    const f = join(dir, name)
    writeFileSync(f, `${data.lines.slice(from, to).join('\n')}\n`)
    return f
  }
  const first = part('first.ndjson', 0, 1000)
  const later = part('later.ndjson', 1000, 1500)
  const learn = (extra: string[] = []) =>
    cli(['online', '--redis', redis.url, '--stream', 'pub', ...MODEL, '--checkpoint-dir', join(dir, 'ck'), '--publish-every', '100', '--models-maxlen', '3', '--until-idle', '0.3', '--json', ...extra])

  it('publishes every N examples and at the end, capped; a follower gets the newest, then each newer one', async () => {
    await cli(['produce', '--redis', redis.url, '--stream', 'pub', '--input', first])
    const s = lastJsonLine((await learn()).stdout)
    const models = await redis.client.xrange('pub:models', '-', '+')
    // ~3 kept (MAXLEN ~ trims whole nodes only: at most the 11 published)
    expect(models.length).toBeGreaterThanOrEqual(3)
    expect(models.length).toBeLessThanOrEqual(11)
    const fieldsOf = (e: [string, string[]]) => Object.fromEntries(e[1].flatMap((v, i, a) => (i % 2 === 0 && v !== 'model' ? [[v, a[i + 1]]] : [])))
    const newest = fieldsOf(models[models.length - 1])
    expect(newest.hash).toBe(s.hash)
    expect(newest.entry).toBe(s.lastEntryId)
    expect(Number(newest.step)).toBe(s.steps)
    expect(JSON.parse(newest.input)).toEqual({ kind: 'tabular', classes: ['a', 'b', 'c'], features: ['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7'] })

    const seen: string[] = []
    let resolveTwo: () => void = () => undefined
    const two = new Promise<void>((r) => (resolveTwo = r))
    const sub = followModels(redis.url, 'pub:models', { waitMs: 100 }).subscribe((m) => {
      seen.push(m.hash)
      expect(hashParams(m.checkpoint.snapshot)).toBe(m.hash)
      if (seen.length === 2) resolveTwo()
    })
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 20))
    expect(seen[0]).toBe(s.hash)
    await cli(['produce', '--redis', redis.url, '--stream', 'pub', '--input', later])
    const s2 = lastJsonLine((await learn()).stdout)
    await two
    // The follower ends on the learner's final model (the test times out otherwise).
    while (seen[seen.length - 1] !== s2.hash) await new Promise((r) => setTimeout(r, 20))
    sub.unsubscribe()
    expect(new Set(seen).size).toBe(seen.length) // each model once
  })

  it('predict --follow predicts records with the newest model', async () => {
    const records = part('records.ndjson', 0, 300)
    const r = await cli(['predict', '--follow', `${redis.url}/pub:models`, '--input', records])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/gradstream predict: model of step \d+ \(entry \d+-\d+, hash [0-9a-f]{12}\) from redis:\/\/127\.0\.0\.1:\d+ stream "pub:models"/)
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { line: number; class: string; probabilities: Record<string, number> })
    const good = Array.from({ length: 300 }, (_, i) => i).filter((i) => !data.bad.includes(i))
    expect(lines.length).toBeGreaterThan(good.length - 10) // records with bad features are skipped
    let hits = 0
    for (const l of lines) {
      const truth = (JSON.parse(data.lines[l.line - 1]) as { kind?: string }).kind
      if (l.class === truth) hits++
      expect(Object.keys(l.probabilities)).toEqual(['a', 'b', 'c'])
    }
    expect(hits / lines.length).toBeGreaterThan(0.9)
    const bad = await cli(['predict', '--follow', 'redis://127.0.0.1:1/x', '--input', records])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--redis: could not connect to redis:\/\/127\.0\.0\.1:1: ECONNREFUSED/)
    const nokey = await cli(['predict', '--follow', redis.url, '--input', records])
    expect(nokey.stderr).toMatch(/^gradstream predict: --follow: expected redis:\/\/HOST:PORT\/KEY naming the models stream/)
  })
})

describe('--drift and --on-drift warn', () => {
  it('reports a change of the labelling on stderr, counts it, and learns the same bits as without', async () => {
    // 3,000 records; from record 2,001 on the classes are relabelled a->b->c->a.
    const data = streamData(3000, 8, 0, 31)
    const shift: Record<string, string> = { a: 'b', b: 'c', c: 'a' }
    const lines = data.lines.map((l, i) => {
      if (i < 2000) return l
      const o = JSON.parse(l) as { kind: string }
      return JSON.stringify({ ...o, kind: shift[o.kind] })
    })
    const dir = tmp()
    const file = join(dir, 'drift.ndjson')
    writeFileSync(file, `${lines.join('\n')}\n`)
    for (const stream of ['drift-a', 'drift-b']) await cli(['produce', '--redis', redis.url, '--stream', stream, '--input', file])
    const watched = await cli(['online', '--redis', redis.url, '--stream', 'drift-a', ...MODEL, '--checkpoint-dir', join(dir, 'a'), '--on-drift', 'warn', '--until-idle', '0.3', '--json'])
    const plain = await cli(['online', '--redis', redis.url, '--stream', 'drift-b', ...MODEL, '--checkpoint-dir', join(dir, 'b'), '--until-idle', '0.3', '--json'])
    const w = lastJsonLine(watched.stdout)
    const p = lastJsonLine(plain.stdout)
    expect(w.hash).toBe(p.hash)
    expect(w.drifts as number).toBeGreaterThanOrEqual(1)
    expect(p.drifts).toBe(0)
    const at = [...watched.stderr.matchAll(/drift detected by adwin at example ([\d,]+) \(width \d+, mean [\d.]+/g)].map((m) => Number(m[1].replace(/,/g, '')))
    expect(at.length).toBe(w.drifts)
    expect(at[0]).toBeGreaterThan(2000)
    expect(at[0]).toBeLessThan(2300)
    const bad = await cli(['online', '--redis', redis.url, '--stream', 'x', ...MODEL, '--checkpoint-dir', join(dir, 'c'), '--on-drift', 'restart'])
    expect(bad.stderr).toBe('gradstream online: --on-drift: expected one of warn, reset, got "restart"\n')
  })
})

describe('gradstream online --redis --target (regression)', () => {
  it('learns a numeric field as one run over the file does, with MAE and RMSE over the whole stream across a restart', async () => {
    const dir = tmp()
    const lines: string[] = []
    for (let i = 0; i < 2000; i++) {
      const a = Math.round(1000 * Math.sin(i * 0.7)) / 1000
      const b = Math.round(1000 * Math.cos(i * 1.3)) / 1000
      lines.push(JSON.stringify({ a, b, y: 3 * a - 2 * b + 0.5 }))
    }
    lines.splice(50, 0, JSON.stringify({ a: 1, b: 2, y: 'high' }))
    const first = join(dir, 'first.ndjson')
    const rest = join(dir, 'rest.ndjson')
    const all = join(dir, 'all.ndjson')
    writeFileSync(first, `${lines.slice(0, 1200).join('\n')}\n`)
    writeFileSync(rest, `${lines.slice(1200).join('\n')}\n`)
    writeFileSync(all, `${lines.join('\n')}\n`)
    const flags = ['--target', 'y', '--hidden', '8', '--lr', '0.02', '--standardize', 'online', '--json']
    const ck = join(dir, 'ck')
    const run = () => cli(['online', '--redis', redis.url, '--stream', 'reg', ...flags, '--checkpoint-dir', ck, '--checkpoint-every', '250', '--until-idle', '0.3'])
    expect((await cli(['produce', '--redis', redis.url, '--stream', 'reg', '--input', first])).code).toBe(0)
    const r1 = await run()
    expect(r1.code, r1.stderr).toBe(0)
    expect(r1.stdout).toMatch(/target "y" \(euclidean\)/)
    expect(r1.stderr).toMatch(/rejected, invalid label/)
    expect((await cli(['produce', '--redis', redis.url, '--stream', 'reg', '--input', rest])).code).toBe(0)
    const r2 = await run()
    expect(r2.code, r2.stderr).toBe(0)
    const s = lastJsonLine(r2.stdout)
    const f = lastJsonLine((await cli(['online', '--input', all, ...flags])).stdout)
    expect(s.resumed).toBe(true)
    expect(s.hash).toBe(f.hash)
    expect(s.seen).toBe(2001)
    expect(s.learned).toBe(2000)
    expect(s.rejectedByReason).toEqual({ 'invalid label': 1 })
    expect(s.accuracy).toBeNull()
    // cumulative over both processes: the file run's, to rounding of the recombined sums
    expect(Math.abs((s.mae as number) - (f.mae as number))).toBeLessThan(1e-9)
    expect(Math.abs((s.rmse as number) - (f.rmse as number))).toBeLessThan(1e-9)
  })
})
