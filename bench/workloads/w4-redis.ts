// W4 through Redis Streams (issue 15): the same online MLP 784-64-10, batch 1, SGD 0.01,
// learning from a Redis stream with `onlineFromLog` (consumer group, dead letters,
// checkpoints every 1,000 examples with the acknowledgements after them: the CLI's
// defaults), against a redis-server this bench starts on 127.0.0.1 (no persistence).
//
//   throughput  100,000 entries (the 8,000 digits of the fixed order, cycled) are
//               appended first; updates/s from the first entry handed to the learner
//               to the last. Compare with W4 from memory (the row above).
//   lag         a producer process appends the same entries at a steady rate (half the
//               throughput just measured) while the learner runs; the lag of an entry
//               is (time it is handed to the learner) - (time in its id, Redis's clock
//               on this machine), ms. Median and p99.
//
// An entry is one field `json`: {"p0": ..., "p783": ..., "label": d}, pixels rounded to
// 4 decimals (~7 KB): decoding it is part of what is measured.

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { lastValueFrom } from 'rxjs'
import { sgd } from '../../src/node.ts'
import { onlineFromLog } from '../../src/streams/log-online.ts'
import { redisConsumer } from '../../src/streams/redis-source.ts'
import { appendEntries } from '../../src/streams/redis-sink.ts'
import { startRedis } from '../../test/redis/server.ts'
import { PIXELS } from '../data.ts'
import { objectiveOf, w4Model } from '../gradstream.ts'
import type { Detail, Row } from '../report.ts'
import { measured, missing } from '../report.ts'
import { single } from '../stats.ts'
import type { WorkloadContext, WorkloadResult } from './context.ts'
import { attempt } from './context.ts'

const root = resolve(import.meta.dirname, '..', '..')

/** The producer process: appends the lines of FILE as `json` entries at RATE per second. */
const PRODUCER = `
import { readFileSync } from 'node:fs'
import { Redis } from 'ioredis'
const [file, key, rate, url] = process.argv.slice(1)
const lines = readFileSync(file, 'utf8').split('\\n').filter((l) => l !== '')
const redis = new Redis(url)
const t0 = performance.now()
let sent = 0
while (sent < lines.length) {
  const due = Math.min(lines.length, Math.floor(((performance.now() - t0) / 1000) * Number(rate)))
  if (due > sent) {
    const p = redis.pipeline()
    for (; sent < due; sent++) p.call('XADD', key, '*', 'json', lines[sent])
    await p.exec()
  } else await new Promise((r) => setTimeout(r, 2))
}
redis.disconnect()
`

const percentile = (sorted: Float64Array, q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]

interface Phase {
  readonly updatesPerSec: number
  readonly lagMs: Float64Array
  readonly learned: number
}

export const w4Redis = async (ctx: WorkloadContext, memoryRate: number | undefined): Promise<{ rows: Row[]; details: Detail[]; notes: string[] }> => {
  const s = ctx.settings.w4
  const N = ctx.settings.quick ? 5_000 : 100_000
  const { train, order } = ctx.data
  const lines: string[] = []
  for (let i = 0; i < N; i++) {
    const j = order[i % order.length]
    const o: Record<string, number> = {}
    for (let p = 0; p < PIXELS; p++) o[`p${p}`] = Math.round(train.x.data[j * PIXELS + p] * 1e4) / 1e4
    o.label = train.labels[j]
    lines.push(JSON.stringify(o))
  }
  const features = Array.from({ length: PIXELS }, (_, p) => `p${p}`)
  const classes = Array.from({ length: 10 }, (_, c) => String(c))
  const server = await startRedis()
  const dir = mkdtempSync(join(tmpdir(), 'gradstream-bench-redis-'))
  try {
    const learn = async (stream: string, expected: number): Promise<Phase> => {
      const log = await redisConsumer({ url: server.url, stream })
      const lag = new Float64Array(expected)
      let n = 0
      let tFirst = 0
      let tLast = 0
      await lastValueFrom(
        onlineFromLog(log, { objective: objectiveOf(w4Model(s.hidden)), optimizer: sgd(s.lr) }, {
          label: 'label',
          features,
          classes,
          checkpointDir: join(dir, stream),
          untilIdle: 2,
          onEntry: (e) => {
            const t = Date.now()
            if (n === 0) tFirst = performance.now()
            tLast = performance.now()
            if (n < expected && e.appendedAt !== undefined) lag[n] = t - e.appendedAt
            n++
          },
        }),
        { defaultValue: undefined },
      )
      if (n !== expected) throw new Error(`W4 Redis: ${n} entries learned, expected ${expected}`)
      return { updatesPerSec: (n - 1) / ((tLast - tFirst) / 1000), lagMs: lag.sort(), learned: n }
    }
    ctx.log(`W4 Redis: appending ${N.toLocaleString('en-US')} entries`)
    await appendEntries(server.client, 'w4', (function* () {
      for (const l of lines) yield ['json', l]
    })())
    ctx.log('W4 Redis: learning them')
    const full = await learn('w4', N)
    await server.client.del('w4')
    const rate = Math.round(full.updatesPerSec / 2)
    const file = join(dir, 'entries.ndjson')
    writeFileSync(file, `${lines.join('\n')}\n`)
    ctx.log(`W4 Redis: a producer process at ${rate.toLocaleString('en-US')} entries/s while learning`)
    const producer = spawn(process.execPath, ['--input-type=module', '-e', PRODUCER, file, 'w4-lag', String(rate), server.url], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
    const produced = new Promise<void>((res, rej) => producer.once('exit', (code) => (code === 0 ? res() : rej(new Error(`W4 Redis: the producer exited with ${code}`)))))
    const paced = await learn('w4-lag', N)
    await produced
    const ratio = memoryRate === undefined ? '' : ` (${((100 * full.updatesPerSec) / memoryRate).toFixed(0)}% of W4 from memory)`
    const one = (v: number) => ({ gradstream: measured(single(v)), gradstreamThreads: missing('n/a'), gradstreamTs: missing('n/a'), gradstreamTsThreads: missing('n/a'), tfjsCpu: missing('n/a'), tfjsWasm: missing('n/a'), jaxjs: missing('n/a') })
    return {
      rows: [
        { key: 'redisUpdatesPerSec', label: `through Redis, updates/s${ratio}`, unit: 'updates/s', better: 'higher', cells: one(full.updatesPerSec) },
        { key: 'redisLagMedian', label: `lag at ${rate.toLocaleString('en-US')}/s, median ms`, unit: 'ms', better: 'lower', cells: one(percentile(paced.lagMs, 0.5)) },
        { key: 'redisLagP99', label: `lag at ${rate.toLocaleString('en-US')}/s, p99 ms`, unit: 'ms', better: 'lower', cells: one(percentile(paced.lagMs, 0.99)) },
      ],
      details: [{ key: 'redisPacedRate', label: 'through Redis, paced run', value: `${paced.updatesPerSec.toFixed(0)} updates/s over ${paced.learned.toLocaleString('en-US')} entries` }],
      notes: [
        `through Redis: ${N.toLocaleString('en-US')} entries of one "json" field (~7 KB), consumer group, checkpoint + XACK every 1,000 (bench/workloads/w4-redis.ts)`,
      ],
    }
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** W4's report with the Redis rows added (or a line saying why they are missing). */
export const withRedisRows = async (ctx: WorkloadContext, w4: WorkloadResult): Promise<WorkloadResult> => {
  const memory = w4.rows.find((r) => r.key === 'updatesPerSec')?.cells.gradstream
  const r = await attempt(() => w4Redis(ctx, memory?.ok === true ? memory.value.median : undefined))
  if (!r.ok) return { ...w4, details: [...w4.details, { key: 'redis', label: 'through Redis', value: `n/a: ${r.reason}` }] }
  return { ...w4, rows: [...w4.rows, ...r.value.rows], details: [...w4.details, ...r.value.details], notes: [...w4.notes, ...r.value.notes] }
}
