// Exactly-once under SIGKILL: a learner process is killed at 5 seeded moments of a
// 20,000-entry stream and restarted each time; at the end the parameters hash the same as
// an uninterrupted run's, every good entry was learned once, nothing is pending, and the
// dead-letter stream holds exactly the bad entries, once each.

import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { key, uniform } from '../../src/core/rng.ts'
import { encodeF32 } from '../../src/streams/log-source.ts'
import { appendEntries } from '../../src/streams/redis-sink.ts'
import { labelsApart, streamData } from './data.ts'
import type { RedisServer } from './server.ts'
import { entries, startRedis } from './server.ts'
import { lastJsonLine } from '../cli-run.ts'

const root = resolve(import.meta.dirname, '..', '..')
const bin = join(root, 'bin', 'gradstream.js')

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

interface Ended {
  readonly stdout: string
  readonly stderr: string
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/**
 * Runs the CLI. With `killAt`, SIGKILLs it `extraMs` after a progress line reports at
 * least that many entries (or, if the run gets there first, lets it end).
 */
const run = (args: string[], killAt?: { entries: number; extraMs: number }): Promise<Ended> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let armed = killAt !== undefined
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString()
      if (!armed || killAt === undefined) return
      const seen = [...stdout.matchAll(/^entries ([\d,]+):/gm)].map((m) => Number(m[1].replace(/,/g, '')))
      if (seen.length > 0 && seen[seen.length - 1] >= killAt.entries) {
        armed = false
        setTimeout(() => child.kill('SIGKILL'), killAt.extraMs)
      }
    })
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString()
    })
    child.once('error', reject)
    child.once('exit', (code, signal) => resolvePromise({ stdout, stderr, code, signal }))
  })

describe('gradstream online --redis after SIGKILL', () => {
  it('ends bit-identical to an uninterrupted run, every good entry learned once, nothing pending', async () => {
    const N = 20_000
    const data = streamData(N)
    const dir = mkdtempSync(join(tmpdir(), 'gradstream-kill-'))
    const file = join(dir, 'events.ndjson')
    writeFileSync(file, `${data.lines.join('\n')}\n`)
    for (const stream of ['killed', 'reference']) {
      const p = await run(['produce', '--redis', redis.url, '--stream', stream, '--input', file])
      expect(p.code, p.stderr).toBe(0)
    }
    const learn = (stream: string, ck: string, extra: string[] = []): string[] => [
      'online', '--redis', redis.url, '--stream', stream, '--label', 'kind', '--classes', 'a,b,c', '--hidden', '32',
      '--optimizer', 'momentum', '--lr', '0.02', '--checkpoint-dir', join(dir, ck), '--checkpoint-every', '700',
      '--report-every', '250', '--until-idle', '1', '--json', ...extra,
    ]
    const reference = await run(learn('reference', 'ref'))
    expect(reference.code, reference.stderr).toBe(0)
    const ref = lastJsonLine(reference.stdout)
    expect(ref.seen).toBe(N)

    // 5 seeded moments: entry counts spread over the stream, plus 0-40 ms.
    const u = uniform(key(2026), 10, 'float64')
    const moments = Array.from({ length: 5 }, (_, i) => ({ entries: Math.floor(1000 + u[i] * 18_000), extraMs: Math.floor(u[5 + i] * 40) }))
      .sort((a, b) => a.entries - b.entries)
    let kills = 0
    for (const [i, m] of moments.entries()) {
      // Each restart under another consumer name, as on another machine.
      const r = await run(learn('killed', 'ck', ['--consumer', `learner-${i}`]), m)
      if (r.signal === 'SIGKILL') kills++
      else expect(r.code, r.stderr).toBe(0)
    }
    expect(kills).toBeGreaterThanOrEqual(4)
    const last = await run(learn('killed', 'ck', ['--consumer', 'last']))
    expect(last.code, last.stderr).toBe(0)
    const s = lastJsonLine(last.stdout)
    expect(s.resumed).toBe(true)
    expect(s.hash).toBe(ref.hash)
    expect(s.seen).toBe(N)
    expect(s.learned).toBe(N - data.bad.length)
    expect(s.rejected).toBe(data.bad.length)
    expect(s.rejectedByReason).toEqual(ref.rejectedByReason)
    expect(s.accuracy).toBe(ref.accuracy)
    // the cumulative macro F1 survives the restarts: per-class counts ride in the checkpoints
    expect(s.macroF1 as number).toBeGreaterThan(0.5)
    expect(s.macroF1).toBe(ref.macroF1)
    expect(s.steps).toBe(N - data.bad.length)
    const summary = (await redis.client.xpending('killed', 'gradstream')) as [number, ...unknown[]]
    expect(summary[0]).toBe(0)
    const ids = (await entries(redis.client, 'killed')).map(([id]) => id)
    const dead = await entries(redis.client, 'killed:rejected')
    expect(dead.map(([id]) => id)).toEqual(data.bad.map((i) => ids[i]))
    expect(dead.map(([, f]) => f[1])).toEqual(data.bad.map((i) => data.lines[i]))
  })
})

describe('gradstream online --redis and SIGTERM', () => {
  it('finishes the entry, checkpoints, acknowledges, prints the summary and exits 0', async () => {
    const data = streamData(3000)
    const dir = mkdtempSync(join(tmpdir(), 'gradstream-term-'))
    const file = join(dir, 'events.ndjson')
    writeFileSync(file, `${data.lines.join('\n')}\n`)
    expect((await run(['produce', '--redis', redis.url, '--stream', 'term', '--input', file])).code).toBe(0)
    const args = ['online', '--redis', redis.url, '--stream', 'term', '--label', 'kind', '--classes', 'a,b,c', '--hidden', '8', '--checkpoint-dir', join(dir, 'ck'), '--report-every', '500', '--json']
    // No --until-idle: only the signal ends it.
    const r = await new Promise<Ended>((resolvePromise) => {
      const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      let sent = false
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString()
        if (!sent && /^entries [\d,]+:/m.test(stdout)) {
          sent = true
          child.kill('SIGTERM')
        }
      })
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
      child.once('exit', (code, signal) => resolvePromise({ stdout, stderr, code, signal }))
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/gradstream online: SIGTERM: finishing the entry being learned, then saving and stopping/)
    const s = lastJsonLine(r.stdout)
    expect(s.checkpoints).toBeGreaterThanOrEqual(1)
    expect(s.learned as number).toBeGreaterThanOrEqual(500)
    expect((s.learned as number) + (s.rejected as number)).toBe(s.seen)
    // Everything it learned is acknowledged; what it was given but did not reach stays pending.
    const pending = (await redis.client.xpending('term', 'gradstream', '-', '+', 5000)) as [string][]
    const ids = (await entries(redis.client, 'term')).map(([id]) => id)
    expect(pending.every(([id]) => ids.indexOf(id) >= (s.seen as number))).toBe(true)
    // A restart learns the rest, exactly once.
    const rest = await run([...args, '--until-idle', '0.5'])
    expect(rest.code, rest.stderr).toBe(0)
    const t = lastJsonLine(rest.stdout)
    expect(t.seen).toBe(3000)
    expect(t.learned).toBe(3000 - data.bad.length)
    expect(((await redis.client.xpending('term', 'gradstream')) as [number])[0]).toBe(0)
  })
})

describe('gradstream online --redis when connections drop', () => {
  it('reconnects and still learns every good entry exactly once', async () => {
    const N = 6000
    const data = streamData(N, 8, 0.02, 41)
    const dir = mkdtempSync(join(tmpdir(), 'gradstream-drop-'))
    const file = join(dir, 'events.ndjson')
    writeFileSync(file, `${data.lines.join('\n')}\n`)
    expect((await run(['produce', '--redis', redis.url, '--stream', 'drop', '--input', file])).code).toBe(0)
    const model = ['--label', 'kind', '--classes', 'a,b,c', '--hidden', '16', '--json']
    const reference = lastJsonLine((await run(['online', '--input', file, ...model])).stdout)
    const learner = run(['online', '--redis', redis.url, '--stream', 'drop', ...model, '--checkpoint-dir', join(dir, 'ck'), '--checkpoint-every', '400', '--read-count', '50', '--until-idle', '2'])
    let done = false
    void learner.then(() => (done = true))
    // Once it reads (its connections are up), drop every other client's connection every
    // 60 ms while it learns (at most 200 times).
    const reading = async (): Promise<boolean> => {
      try {
        return ((await redis.client.xpending('drop', 'gradstream')) as [number])[0] > 0
      } catch {
        return false // no group yet
      }
    }
    while (!done && !(await reading())) await new Promise((r) => setTimeout(r, 10))
    let drops = 0
    for (; !done && drops < 200; drops++) {
      await new Promise((r) => setTimeout(r, 60))
      await redis.client.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
    }
    const r = await learner
    expect(r.code, r.stderr).toBe(0)
    expect(drops).toBeGreaterThan(3)
    const s = lastJsonLine(r.stdout)
    expect(s.hash).toBe(reference.hash)
    expect(s.seen).toBe(N)
    expect(s.learned).toBe(N - data.bad.length)
    expect(((await redis.client.xpending('drop', 'gradstream')) as [number])[0]).toBe(0)
    expect((await entries(redis.client, 'drop:rejected')).length).toBe(data.bad.length)
  })
})

describe('gradstream online --redis --on-drift reset after SIGKILL', () => {
  it('resets at the same entries as one run and ends on its bits: the detector state (and the scaler\'s) is in every checkpoint', async () => {
    // 9,000 records whose labelling rotates (a->b->c->a) at records 3,001 and 6,001.
    const N = 9000
    const data = streamData(N, 8, 0.01, 53)
    const rotate: Record<string, string> = { a: 'b', b: 'c', c: 'a' }
    const lines = data.lines.map((l, i) => {
      if (i < 3000 || data.bad.includes(i)) return l
      const o = JSON.parse(l) as { kind: string }
      return JSON.stringify({ ...o, kind: i < 6000 ? rotate[o.kind] : rotate[rotate[o.kind]] })
    })
    const dir = mkdtempSync(join(tmpdir(), 'gradstream-kill-reset-'))
    const file = join(dir, 'events.ndjson')
    writeFileSync(file, `${lines.join('\n')}\n`)
    expect((await run(['produce', '--redis', redis.url, '--stream', 'reset-killed', '--input', file])).code).toBe(0)
    // with online standardisation: its running statistics ride in the checkpoints too
    const model = ['--label', 'kind', '--classes', 'a,b,c', '--hidden', '16', '--lr', '0.02', '--on-drift', 'reset', '--standardize', 'online', '--json']
    // The uninterrupted reference: the same learner over the file.
    const reference = await run(['online', '--input', file, ...model])
    expect(reference.code, reference.stderr).toBe(0)
    const ref = lastJsonLine(reference.stdout)
    expect(ref.resets as number).toBeGreaterThanOrEqual(2)
    const learn = (consumer: string): string[] => [
      'online', '--redis', redis.url, '--stream', 'reset-killed', ...model, '--checkpoint-dir', join(dir, 'ck'),
      '--checkpoint-every', '500', '--report-every', '250', '--until-idle', '1', '--consumer', consumer,
    ]
    let kills = 0
    const resetsAt: string[] = []
    for (const [i, m] of [{ entries: 2900, extraMs: 5 }, { entries: 3250, extraMs: 20 }, { entries: 6100, extraMs: 10 }].entries()) {
      const r = await run(learn(`learner-${i}`), m)
      if (r.signal === 'SIGKILL') kills++
      else expect(r.code, r.stderr).toBe(0)
      resetsAt.push(...[...r.stderr.matchAll(/at example ([\d,]+) .*; model reset/g)].map((x) => x[1]))
    }
    expect(kills).toBeGreaterThanOrEqual(2)
    const last = await run(learn('last'))
    expect(last.code, last.stderr).toBe(0)
    resetsAt.push(...[...last.stderr.matchAll(/at example ([\d,]+) .*; model reset/g)].map((x) => x[1]))
    const s = lastJsonLine(last.stdout)
    expect(s.hash).toBe(ref.hash)
    expect(s.resets).toBe(ref.resets)
    expect(s.learned).toBe(N - data.bad.length)
    // every reset of the reference run happened at the same example in the killed runs
    // (a reset re-done after a kill is reported again, at the same example)
    const refResets = [...reference.stderr.matchAll(/at example ([\d,]+) .*; model reset/g)].map((x) => x[1])
    expect([...new Set(resetsAt)]).toEqual(refResets)
    expect(((await redis.client.xpending('reset-killed', 'gradstream')) as [number])[0]).toBe(0)
  })
})

describe('gradstream online --redis --label-delay after SIGKILL', () => {
  it('keeps the waiting entries and their arrival predictions in every checkpoint: the uninterrupted run\'s bits and counts, and the file run\'s once released', async () => {
    const N = 8000
    const D = 60
    const data = streamData(N, 8, 0.02, 61)
    const dir = mkdtempSync(join(tmpdir(), 'gradstream-kill-delay-'))
    const file = join(dir, 'events.ndjson')
    writeFileSync(file, `${data.lines.join('\n')}\n`)
    for (const stream of ['delay-killed', 'delay-ref']) expect((await run(['produce', '--redis', redis.url, '--stream', stream, '--input', file])).code).toBe(0)
    const undelayed = ['--label', 'kind', '--classes', 'a,b,c', '--hidden', '16', '--lr', '0.02', '--json']
    const model = [...undelayed, '--label-delay', String(D)]
    const learn = (stream: string, ck: string, consumer: string, extra: string[] = []): string[] => [
      'online', '--redis', redis.url, '--stream', stream, ...model, '--checkpoint-dir', join(dir, ck),
      '--checkpoint-every', '300', '--report-every', '100', '--until-idle', '1', '--consumer', consumer, ...extra,
    ]
    // the file run: the waiting labels arrive at the end of the file
    const fileRun = await run(['online', '--input', file, ...model])
    expect(fileRun.code, fileRun.stderr).toBe(0)
    const byFile = lastJsonLine(fileRun.stdout)
    expect(byFile.learned).toBe(N - data.bad.length)

    // one uninterrupted Redis run: the last D entries stay waiting, everything is acknowledged
    const reference = await run(learn('delay-ref', 'ref', 'one'))
    expect(reference.code, reference.stderr).toBe(0)
    const ref = lastJsonLine(reference.stdout)
    expect(ref.seen).toBe(N)
    expect(ref.waiting).toBe(D)
    expect(ref.learned).toBe(N - data.bad.length - D)
    expect(((await redis.client.xpending('delay-ref', 'gradstream')) as [number])[0]).toBe(0)

    const u = uniform(key(61), 10, 'float64')
    const moments = Array.from({ length: 5 }, (_, i) => ({ entries: Math.floor(500 + u[i] * 7000), extraMs: Math.floor(u[5 + i] * 40) })).sort((a, b) => a.entries - b.entries)
    let kills = 0
    for (const [i, m] of moments.entries()) {
      const r = await run(learn('delay-killed', 'ck', `learner-${i}`), m)
      if (r.signal === 'SIGKILL') kills++
      else expect(r.code, r.stderr).toBe(0)
    }
    expect(kills).toBeGreaterThanOrEqual(4)
    const last = await run(learn('delay-killed', 'ck', 'last'))
    expect(last.code, last.stderr).toBe(0)
    const s = lastJsonLine(last.stdout)
    expect(s.resumed).toBe(true)
    expect(s.hash).toBe(ref.hash)
    for (const k of ['seen', 'learned', 'rejected', 'waiting', 'accuracy', 'macroF1', 'steps']) expect(s[k], k).toBe(ref[k])
    expect(s.rejectedByReason).toEqual(ref.rejectedByReason)
    expect(((await redis.client.xpending('delay-killed', 'gradstream')) as [number])[0]).toBe(0)

    // replay --entry: the state after entry k has learned the good entries whose labels had
    // come by then (all but the last D good ones): an undelayed file run over those
    const ids = (await entries(redis.client, 'delay-killed')).map(([id]) => id)
    const bad = new Set(data.bad)
    for (const k of [2500, 7000]) {
      const good = Array.from({ length: k + 1 }, (_, i) => i).filter((i) => !bad.has(i))
      const upTo = good[good.length - D - 1]
      const prefix = join(dir, `prefix-${k}.ndjson`)
      writeFileSync(prefix, `${data.lines.slice(0, upTo + 1).join('\n')}\n`)
      const f = lastJsonLine((await run(['online', '--input', prefix, ...undelayed])).stdout)
      const rp = await run(['replay', join(dir, 'ck'), '--entry', ids[k], '--redis', redis.url, '--json'])
      expect(rp.code, rp.stderr).toBe(0)
      const p = lastJsonLine(rp.stdout)
      expect(p.hash, `entry ${k}`).toBe(f.hash)
      expect(p.learned).toBe(good.length - D)
      expect(p.seen).toBe(k + 1)
    }

    // the stream is finished: the waiting labels arrive, and the parameters and arrival-scored
    // figures are the file run's
    const released = await run(learn('delay-killed', 'ck', 'end', ['--release-waiting']))
    expect(released.code, released.stderr).toBe(0)
    const r = lastJsonLine(released.stdout)
    expect(r.waiting).toBe(0)
    expect(r.hash).toBe(byFile.hash)
    expect(r.learned).toBe(byFile.learned)
    expect(r.accuracy).toBe(byFile.accuracy)
    expect(r.macroF1).toBe(byFile.macroF1)
  })
})

describe('gradstream online --redis --label-stream after SIGKILL', () => {
  it('merges the two streams by entry id, keeps both positions and the waiting records in every checkpoint: one run\'s bits, and the file join\'s', async () => {
    // records at ms 1000 (i + 1), labels 5 to 400 s later (so they overtake each other); one
    // label in 40 never comes. Both streams get these ids explicitly, as if appended then.
    const N = 6000
    const data = streamData(N, 8, 0.02, 71)
    const { recLines: recs, recIds, labels, labIds, labLines } = labelsApart(data, 72, 395_000)
    const add = async (key: string, items: [string, string][]): Promise<void> => {
      for (let s = 0; s < items.length; s += 1000) {
        const p = redis.client.pipeline()
        for (const [id, json] of items.slice(s, s + 1000)) p.xadd(key, id, 'json', json)
        await p.exec()
      }
    }
    for (const suffix of ['ref', 'killed']) {
      await add(`join-${suffix}`, recs.map((l, i) => [recIds[i], l]))
      await add(`join-${suffix}:labels`, labLines.map((l, k) => [labIds[k], l]))
    }
    const dir = mkdtempSync(join(tmpdir(), 'gradstream-kill-join-'))
    const model = ['--label', 'kind', '--classes', 'a,b,c', '--hidden', '16', '--lr', '0.02', '--json']
    const learn = (s: string, ck: string, consumer: string): string[] => [
      'online', '--redis', redis.url, '--stream', s, '--label-stream', `${s}:labels`, '--id', 'rid', ...model, '--checkpoint-dir', join(dir, ck),
      '--checkpoint-every', '300', '--report-every', '100', '--until-idle', '1', '--consumer', consumer,
    ]
    const reference = await run(learn('join-ref', 'ref', 'one'))
    expect(reference.code, reference.stderr).toBe(0)
    const ref = lastJsonLine(reference.stdout)
    expect(ref.seen).toBe(N + labels.length)
    expect(ref.rejected).toBe(data.bad.length)
    const learned = labels.filter((l) => !data.bad.includes(l.i)).length
    expect(ref.learned).toBe(learned)
    expect(ref.waiting).toBe(N - data.bad.length - learned)
    // the labels of rejected records find nothing to label
    expect(ref.unmatchedLabels).toBe(labels.length - learned)

    // the same events as two files with a time column, joined by `online --labels`
    const recordsFile = join(dir, 'records.ndjson')
    const labelsFile = join(dir, 'labels.ndjson')
    writeFileSync(recordsFile, `${recs.map((l, i) => (data.bad.includes(i) ? l : JSON.stringify({ ...JSON.parse(l), t: 1000 * (i + 1) }))).join('\n')}\n`)
    writeFileSync(labelsFile, `${labels.map((l) => JSON.stringify({ rid: `r${l.i}`, kind: l.kind, t: l.at })).join('\n')}\n`)
    const byFile = lastJsonLine((await run(['online', '--input', recordsFile, '--labels', labelsFile, '--id', 'rid', '--time', 't', ...model])).stdout)
    expect(ref.hash).toBe(byFile.hash)
    expect(ref.accuracy).toBe(byFile.accuracy)
    expect(ref.macroF1).toBe(byFile.macroF1)

    const w = uniform(key(73), 10, 'float64')
    const total = N + labels.length
    const moments = Array.from({ length: 5 }, (_, i) => ({ entries: Math.floor(500 + w[i] * (total - 1500)), extraMs: Math.floor(w[5 + i] * 40) })).sort((a, b) => a.entries - b.entries)
    let kills = 0
    for (const [i, m] of moments.entries()) {
      const r = await run(learn('join-killed', 'ck', `learner-${i}`), m)
      if (r.signal === 'SIGKILL') kills++
      else expect(r.code, r.stderr).toBe(0)
    }
    expect(kills).toBeGreaterThanOrEqual(4)
    const last = await run(learn('join-killed', 'ck', 'last'))
    expect(last.code, last.stderr).toBe(0)
    const s = lastJsonLine(last.stdout)
    expect(s.resumed).toBe(true)
    expect(s.hash).toBe(ref.hash)
    for (const k of ['seen', 'learned', 'rejected', 'waiting', 'unmatchedLabels', 'accuracy', 'macroF1', 'steps']) expect(s[k], k).toBe(ref[k])
    expect(s.lastEntryId).toBe(`${recIds[N - 1]}|${labIds[labIds.length - 1]}`)
    for (const key of ['join-killed', 'join-killed:labels']) expect(((await redis.client.xpending(key, 'gradstream')) as [number])[0], key).toBe(0)
    const dead = await entries(redis.client, 'join-killed:rejected')
    expect(dead.map(([id]) => id)).toEqual(data.bad.map((i) => `${1000 * (i + 1)}-0`))

    // replay --entry at a position "<records id>|<labels id>" of the merged sequence: the
    // file join over the records and labels up to that position
    const merged = [
      ...recs.map((_, i) => ({ ms: 1000 * (i + 1), kind: 0, seq: 0, i, k: -1 })),
      ...labels.map((l, k) => ({ ms: l.at, kind: 1, seq: Number(labIds[k].split('-')[1]), i: l.i, k })),
    ].sort((p, q) => p.ms - q.ms || p.kind - q.kind || p.seq - q.seq)
    for (const n of [3000, 9000]) {
      const upTo = merged.slice(0, n)
      const lastR = upTo.filter((e) => e.kind === 0).at(-1)!
      const lastL = upTo.filter((e) => e.kind === 1).at(-1)!
      const position = `${lastR.ms}-0|${lastL.ms}-${lastL.seq}`
      const rp = await run(['replay', join(dir, 'ck'), '--entry', position, '--redis', redis.url, '--json'])
      expect(rp.code, rp.stderr).toBe(0)
      const p = lastJsonLine(rp.stdout)
      const rf = join(dir, `records-${n}.ndjson`)
      const lf = join(dir, `labels-${n}.ndjson`)
      writeFileSync(rf, `${readFileSync(recordsFile, 'utf8').split('\n').slice(0, lastR.i + 1).join('\n')}\n`)
      writeFileSync(lf, `${readFileSync(labelsFile, 'utf8').split('\n').slice(0, lastL.k + 1).join('\n')}\n`)
      const f = lastJsonLine((await run(['online', '--input', rf, '--labels', lf, '--id', 'rid', '--time', 't', ...model])).stdout)
      expect(p.hash, `position ${position}`).toBe(f.hash)
      expect(p.seen).toBe(n)
      expect(p.learned).toBe(f.learned)
    }
  })
})

describe('gradstream online --redis with packed (f32) entries after SIGKILL', () => {
  it('ends bit-identical to an uninterrupted run; the bad packed entries, and only they, are dead-lettered verbatim', async () => {
    const N = 10_000
    const data = streamData(N, 8, 0, 61)
    const features = Array.from({ length: 8 }, (_, i) => `f${i}`)
    // Every 97th entry is malformed, in one of four ways.
    const badAt = Array.from({ length: N }, (_, i) => i).filter((i) => i % 97 === 50)
    const malformed = (i: number, f: number[]): string[] =>
      [
        ['f32', encodeF32(f.slice(0, 7)), 'kind', 'a'],
        ['f32', `${encodeF32(f).slice(0, 7)}!${encodeF32(f).slice(8)}`, 'kind', 'b'],
        ['f32', encodeF32(f.map((v, d) => (d === 5 ? Infinity : v))), 'kind', 'c'],
        ['f32', encodeF32(f), 'kind', 'zebra'],
      ][i % 4]
    const fields = data.lines.map((l, i) => {
      const o = JSON.parse(l) as Record<string, number | string>
      const f = features.map((k) => o[k] as number)
      return badAt.includes(i) ? malformed(badAt.indexOf(i), f) : ['f32', encodeF32(f), 'kind', String(o.kind)]
    })
    for (const stream of ['packed-killed', 'packed-reference']) await appendEntries(redis.client, stream, fields)
    const dir = mkdtempSync(join(tmpdir(), 'gradstream-kill-packed-'))
    const learn = (stream: string, ck: string, extra: string[] = []): string[] => [
      'online', '--redis', redis.url, '--stream', stream, '--label', 'kind', '--classes', 'a,b,c', '--features', features.join(','),
      '--hidden', '32', '--optimizer', 'momentum', '--lr', '0.02', '--checkpoint-dir', join(dir, ck), '--checkpoint-every', '600',
      '--report-every', '250', '--read-count', '128', '--until-idle', '1', '--json', ...extra,
    ]
    const reference = await run(learn('packed-reference', 'ref'))
    expect(reference.code, reference.stderr).toBe(0)
    const ref = lastJsonLine(reference.stdout)
    expect(ref.seen).toBe(N)
    const u = uniform(key(2027), 8, 'float64')
    const moments = Array.from({ length: 4 }, (_, i) => ({ entries: Math.floor(500 + u[i] * 9_000), extraMs: Math.floor(u[4 + i] * 40) })).sort((a, b) => a.entries - b.entries)
    let kills = 0
    for (const [i, m] of moments.entries()) {
      const r = await run(learn('packed-killed', 'ck', ['--consumer', `learner-${i}`]), m)
      if (r.signal === 'SIGKILL') kills++
      else expect(r.code, r.stderr).toBe(0)
    }
    expect(kills).toBeGreaterThanOrEqual(3)
    const last = await run(learn('packed-killed', 'ck', ['--consumer', 'last']))
    expect(last.code, last.stderr).toBe(0)
    const s = lastJsonLine(last.stdout)
    expect(s.resumed).toBe(true)
    expect(s.hash).toBe(ref.hash)
    expect(s.seen).toBe(N)
    expect(s.learned).toBe(N - badAt.length)
    expect(s.rejectedByReason).toEqual(ref.rejectedByReason)
    expect(s.rejectedByReason).toEqual({
      'wrong field count': badAt.filter((_, k) => k % 4 === 0).length,
      'invalid f32': badAt.filter((_, k) => k % 4 === 1).length,
      'non-finite feature': badAt.filter((_, k) => k % 4 === 2).length,
      'unknown class': badAt.filter((_, k) => k % 4 === 3).length,
    })
    expect(s.accuracy).toBe(ref.accuracy)
    expect(((await redis.client.xpending('packed-killed', 'gradstream')) as [number])[0]).toBe(0)
    const ids = (await entries(redis.client, 'packed-killed')).map(([id]) => id)
    const dead = await entries(redis.client, 'packed-killed:rejected')
    expect(dead.map(([id]) => id)).toEqual(badAt.map((i) => ids[i]))
    expect(dead.map(([, f]) => f.slice(0, 4))).toEqual(badAt.map((i) => fields[i]))
  })
})
