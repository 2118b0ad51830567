// The packed entry encoding through a real redis-server: `gradstream produce --encoding
// f32` writes one `f32` field (base64 float32) and the label; `gradstream online --redis
// --features ...` learns exactly the bits `online` learns from the same examples held in
// memory; malformed packed entries are rejected with their reason and dead-lettered
// verbatim; without named features the learner says so in one line.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lastValueFrom } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { onlineModelOf, parseOnlineFlags } from '../../src/cli/online-command.ts'
import { encodeF32 } from '../../src/streams/log-source.ts'
import type { OnlineExample } from '../../src/streams/online.ts'
import { online } from '../../src/streams/online.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import { lastJsonLine } from '../cli-run.ts'
import { streamData } from './data.ts'
import type { RedisServer } from './server.ts'
import { entries, startRedis } from './server.ts'
import { cli } from '../cli/run-cli.ts'

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

const FEATURES = Array.from({ length: 8 }, (_, i) => `f${i}`)
const MODEL = ['--label', 'kind', '--classes', 'a,b,c', '--hidden', '16', '--lr', '0.05']

describe('the f32 encoding through Redis', () => {
  const data = streamData(2000, 8, 0.03, 11)
  const dir = mkdtempSync(join(tmpdir(), 'gradstream-packed-'))
  const half = (name: string, from: number, to: number): string => {
    const f = join(dir, name)
    writeFileSync(f, `${data.lines.slice(from, to).join('\n')}\n`)
    return f
  }
  const produce = (file: string) =>
    cli(['produce', '--redis', redis.url, '--stream', 'packed', '--input', file, '--encoding', 'f32', '--label', 'kind', '--features', FEATURES.join(','), '--json'])

  it('learns exactly the bits of online() over the same examples from memory, and dead-letters bad packed entries verbatim', async () => {
    const p1 = await produce(half('a.ndjson', 0, 1000))
    expect(p1.code, p1.stderr).toBe(0)
    // three malformed packed entries between the halves, as a buggy producer would write them
    const f = encodeF32([1, 2, 3, 4, 5, 6, 7, 8])
    const bad = [
      ['f32', encodeF32([1, 2, 3, 4, 5, 6, 7]), 'kind', 'a'], // one value short
      ['f32', `${f.slice(0, 5)}*${f.slice(6)}`, 'kind', 'b'], // not base64
      ['f32', encodeF32([1, 2, 3, NaN, 5, 6, 7, 8]), 'kind', 'c'],
    ]
    for (const b of bad) await redis.client.xadd('packed', '*', ...b)
    const p2 = await produce(half('b.ndjson', 1000, 2000))
    expect(p2.code, p2.stderr).toBe(0)

    // The producer packs what it can read: the records with unreadable, missing or
    // non-finite features are not sent; an unknown class is sent (the learner judges labels).
    const records = data.lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>
      } catch {
        return undefined
      }
    })
    const packable = records.filter(
      (r): r is Record<string, unknown> =>
        r !== undefined && !Array.isArray(r) && FEATURES.every((k) => typeof r[k] === 'number' && Number.isFinite(r[k])) && typeof r.kind === 'string',
    )
    const s1 = lastJsonLine(p1.stdout)
    const s2 = lastJsonLine(p2.stdout)
    expect((s1.produced as number) + (s2.produced as number)).toBe(packable.length)
    expect((s1.skipped as number) + (s2.skipped as number)).toBe(2000 - packable.length)

    const r = await cli(['online', '--redis', redis.url, '--stream', 'packed', ...MODEL, '--features', FEATURES.join(','), '--checkpoint-dir', join(dir, 'ck'), '--checkpoint-every', '300', '--until-idle', '0.5', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const s = lastJsonLine(r.stdout)

    // online() from memory: the good records' features as float32, labels as indices.
    const classes = ['a', 'b', 'c']
    const good = packable.filter((o) => classes.includes(o.kind as string))
    const examples: OnlineExample[] = good.map((o) => ({ features: Float32Array.from(FEATURES, (k) => o[k] as number), label: classes.indexOf(o.kind as string) }))
    const { objective, optimizer } = onlineModelOf(parseOnlineFlags(MODEL), 8, 3)
    const last = await lastValueFrom(online(objective, optimizer, examples))
    expect(last.type).toBe('snapshot')
    if (last.type !== 'snapshot') return
    expect(s.hash).toBe(hashParams(last.snapshot))
    expect(s.learned).toBe(good.length)
    expect(s.steps).toBe(good.length)
    const zebras = packable.length - good.length
    expect(zebras).toBeGreaterThan(0)
    expect(s.rejectedByReason).toEqual({ 'unknown class': zebras, 'wrong field count': 1, 'invalid f32': 1, 'non-finite feature': 1 })
    expect(s.seen).toBe(packable.length + 3)

    const ids = (await entries(redis.client, 'packed')).map(([id]) => id)
    const dead = await entries(redis.client, 'packed:rejected')
    expect(dead).toHaveLength(zebras + 3)
    const deadBad = dead.filter(([, fields]) => fields[3] !== 'zebra')
    expect(deadBad.map(([id]) => id)).toEqual(ids.slice(s1.produced as number, (s1.produced as number) + 3))
    expect(deadBad.map(([, fields]) => fields.slice(0, 4))).toEqual(bad)
    expect(deadBad.map(([, fields]) => fields[5])).toEqual(['wrong field count', 'invalid f32', 'non-finite feature'])
    expect(deadBad.map(([, fields]) => fields[7])).toEqual([
      'the f32 field holds 7 float32 values, expected 8',
      'the f32 field is not base64 (a character outside A-Z a-z 0-9 + / or misplaced "=")',
      'feature "f3" (f32 value 3) is NaN',
    ])
    expect(await redis.client.xpending('packed', 'gradstream', '-', '+', 10)).toEqual([])

    // replay --entry over packed entries: the state after entry k is online() over the good
    // examples among the first k + 1 (all in the first half, so entry i is packable[i])
    const k = 777
    const rep = await cli(['replay', join(dir, 'ck'), '--entry', ids[k], '--redis', redis.url, '--json'])
    expect(rep.code, rep.stderr).toBe(0)
    const prefix = packable.slice(0, k + 1).filter((o) => classes.includes(o.kind as string))
    const upTo = await lastValueFrom(online(objective, optimizer, prefix.map((o) => ({ features: Float32Array.from(FEATURES, (f) => o[f] as number), label: classes.indexOf(o.kind as string) }))))
    expect(upTo.type === 'snapshot' && lastJsonLine(rep.stdout).hash).toBe(upTo.type === 'snapshot' ? hashParams(upTo.snapshot) : 'no snapshot')
  })

  it('says in one line that packed entries need named features, and checks the producer flags', async () => {
    const r = await cli(['online', '--redis', redis.url, '--stream', 'packed', ...MODEL, '--group', 'unnamed', '--checkpoint-dir', join(dir, 'unnamed'), '--until-idle', '0.3'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^gradstream online: redis:\/\/127\.0\.0\.1:\d+ stream "packed" group "unnamed": entry \d+-\d+ packs its features in "f32", which names none: name them \(--features, in the producer's order\)\n$/)
    const file = half('c.ndjson', 0, 10)
    const cases: [string[], RegExp][] = [
      [['--encoding', 'f32', '--label', 'kind'], /^gradstream produce: --features: expected the comma-separated feature fields to pack, in order \(--encoding f32\), got null\n$/],
      [['--encoding', 'f32', '--features', 'f0,f1'], /^gradstream produce: --label: expected the label field/],
      [['--encoding', 'f16', '--label', 'kind', '--features', 'f0'], /^gradstream produce: --encoding: expected one of verbatim, f32, got "f16"\n$/],
      [['--label', 'kind'], /^gradstream produce: --label\/--features: only with --encoding f32/],
      [['--encoding', 'f32', '--label', 'kind', '--features', 'f0,kind'], /^gradstream produce: --features: the label field "kind" cannot also be a feature\n$/],
    ]
    // from CSV: the named columns in the named order; a row that cannot be packed is not sent
    const csv = join(dir, 'rows.csv')
    writeFileSync(csv, 'y,label,x\n2.5,a,1\nz,b,2\n-1,c,3e38\n')
    const pc = await cli(['produce', '--redis', redis.url, '--stream', 'from-csv', '--input', csv, '--encoding', 'f32', '--label', 'label', '--features', 'x,y', '--json'])
    expect(pc.code, pc.stderr).toBe(0)
    expect(pc.stderr).toBe(`${csv} line 3: not sent, non-numeric feature: field "y" is "z"\n`)
    expect((await entries(redis.client, 'from-csv')).map(([, f]) => f)).toEqual([
      ['f32', encodeF32([1, 2.5]), 'label', 'a'],
      ['f32', encodeF32([3e38, -1]), 'label', 'c'],
    ])
    const missing = await cli(['produce', '--redis', redis.url, '--stream', 'unused', '--input', csv, '--encoding', 'f32', '--label', 'label', '--features', 'x,w'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toBe(`gradstream produce: ${csv}: line 1: expected columns named "w" in the CSV header row\n`)
    for (const [args, re] of cases) {
      const p = await cli(['produce', '--redis', redis.url, '--stream', 'unused', '--input', file, ...args])
      expect(p.code, args.join(' ')).toBe(2)
      expect(p.stderr, args.join(' ')).toMatch(re)
    }
  })
})
