// W4 through Redis Streams (issue 15): the same online MLP 784-64-10, batch 1, SGD 0.01,
// learning from a Redis stream with `onlineFromLog` (consumer group, dead letters,
// checkpoints every 1,000 examples with the acknowledgements after them: the CLI's
// defaults), against a redis-server this bench starts on 127.0.0.1 (no persistence).
//
//   throughput  100,000 entries (the 8,000 digits of the fixed order, cycled) are
//               appended first; updates/s from the first entry handed to the learner
//               to the last. Compare with W4 from memory (the row above).
//   lag         a producer process appends the first 20,000 of them at a steady rate (half
//               the throughput just measured) while the learner runs; the lag of an entry
//               is (time it is handed to the learner) - (time in its id, Redis's clock
//               on this machine), ms. Median and p99.
//
// Two encodings of an entry, each measured both ways (decoding is part of what is measured):
//   json  one field `json`: {"p0": ..., "p783": ..., "label": d}, pixels rounded to 4
//         decimals (~7 KB): the rows of earlier sessions, kept for comparison;
//   f32   the packed encoding (streams/log-source.ts): `f32`, the 784 pixels as base64
//         float32 (4,184 characters), and `label`; the target (half of W4 from
//         memory) is judged on this one. Its floats are the data's exact bits.

import { spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { lastValueFrom } from 'rxjs'
import { sgd } from '../../src/node.ts'
import { onlineFromLog } from '../../src/streams/log-online.ts'
import { encodeF32 } from '../../src/streams/log-source.ts'
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

/**
 * The producer process: appends the entries of FILE at RATE per second. A line is the
 * entry's fields, tab-separated (neither encoding has a tab in a value).
 */
const PRODUCER = `
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { Redis } from 'ioredis'
const [file, key, rate, url] = process.argv.slice(1)
const redis = new Redis(url)
const t0 = performance.now()
let sent = 0
let p = redis.pipeline()
let queued = 0
const flush = async () => {
  if (queued > 0) await p.exec()
  p = redis.pipeline()
  queued = 0
}
for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
  if (line === '') continue
  while (sent >= Math.floor(((performance.now() - t0) / 1000) * Number(rate))) {
    if (queued > 0) await flush()
    else await new Promise((r) => setTimeout(r, 2))
  }
  p.call('XADD', key, '*', ...line.split('\t'))
  queued++
  sent++
  if (queued >= 100) await flush()
}
await flush()
redis.disconnect()
`

const percentile = (sorted: Float64Array, q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]

interface Phase {
  readonly updatesPerSec: number
  readonly lagMs: Float64Array
  readonly learned: number
}

type Encoding = 'json' | 'f32'

interface EncodingFigures {
  readonly full: Phase
  readonly paced: Phase
  readonly rate: number
}

/** The from-memory figures a Redis rate is compared with: W4's updates/s row and the long stream's steady rate. */
export interface MemoryRates {
  /** W4's row: median of 5 fresh models x 2,000 updates (includes the JIT's warm-up). */
  readonly repeats?: number
  /** The 1,000,000-record stream (snapshot every 1,000): the steady state, like the Redis runs. */
  readonly steady?: number
}

export const w4Redis = async (ctx: WorkloadContext, memory: MemoryRates): Promise<{ rows: Row[]; details: Detail[]; notes: string[] }> => {
  const s = ctx.settings.w4
  const N = ctx.settings.quick ? 5_000 : 100_000
  const { train, order } = ctx.data
  /** Entry i's fields in an encoding (built when appended: 100,000 json entries are ~760 MB as strings). */
  const fieldsOf = (encoding: Encoding, i: number): string[] => {
    const j = order[i % order.length]
    const pixels = train.x.data.subarray(j * PIXELS, (j + 1) * PIXELS)
    if (encoding === 'f32') return ['f32', encodeF32(pixels), 'label', String(train.labels[j])]
    const o: Record<string, number> = {}
    for (let p = 0; p < PIXELS; p++) o[`p${p}`] = Math.round(pixels[p] * 1e4) / 1e4
    o.label = train.labels[j]
    return ['json', JSON.stringify(o)]
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
    const measure = async (encoding: Encoding): Promise<EncodingFigures> => {
      const key = `w4-${encoding}`
      ctx.log(`W4 Redis (${encoding}): appending ${N.toLocaleString('en-US')} entries`)
      await appendEntries(server.client, key, (function* () {
        for (let i = 0; i < N; i++) yield fieldsOf(encoding, i)
      })())
      ctx.log(`W4 Redis (${encoding}): learning them`)
      const full = await learn(key, N)
      await server.client.del(key)
      const rate = Math.round(full.updatesPerSec / 2)
      const file = join(dir, `${encoding}.entries`)
      // The paced run: the first fifth of the entries (at half speed it takes 2.5 times as
      // long as the throughput run did for all of them), written in pieces.
      const paced = Math.floor(N / 5)
      const fd = openSync(file, 'w')
      try {
        for (let i = 0; i < paced; i += 1000) {
          const lines: string[] = []
          for (let k = i; k < Math.min(paced, i + 1000); k++) lines.push(fieldsOf(encoding, k).join('\t'))
          writeSync(fd, `${lines.join('\n')}\n`)
        }
      } finally {
        closeSync(fd)
      }
      ctx.log(`W4 Redis (${encoding}): a producer process at ${rate.toLocaleString('en-US')} entries/s while learning`)
      const lagKey = `${key}-lag`
      const producer = spawn(process.execPath, ['--input-type=module', '-e', PRODUCER, file, lagKey, String(rate), server.url], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
      const produced = new Promise<void>((res, rej) => producer.once('exit', (code) => (code === 0 ? res() : rej(new Error(`W4 Redis: the producer exited with ${code}`)))))
      const pacedRun = await learn(lagKey, paced)
      await produced
      await server.client.del(lagKey)
      return { full, paced: pacedRun, rate }
    }
    const one = (v: number) => ({ gradstream: measured(single(v)), gradstreamThreads: missing('n/a'), gradstreamTs: missing('n/a'), gradstreamTsThreads: missing('n/a'), tfjsCpu: missing('n/a'), tfjsWasm: missing('n/a'), jaxjs: missing('n/a') })
    const rowsOf = (encoding: Encoding, f: EncodingFigures): Row[] => {
      // The json rows keep the keys of earlier sessions; the packed ones are new.
      const k = encoding === 'json' ? 'redis' : 'redisF32'
      const what = encoding === 'json' ? 'through Redis (json)' : 'through Redis (f32)'
      const pct = (of: number | undefined, what: string): string[] => (of === undefined ? [] : [`${((100 * f.full.updatesPerSec) / of).toFixed(0)}% of ${what}`])
      const parts = [...pct(memory.steady, 'the long stream'), ...pct(memory.repeats, "W4's updates/s row")]
      const ratio = parts.length === 0 ? '' : ` (${parts.join(', ')})`
      const at = f.rate.toLocaleString('en-US')
      return [
        { key: `${k}UpdatesPerSec`, label: `${what}, updates/s${ratio}`, unit: 'updates/s', better: 'higher', cells: one(f.full.updatesPerSec) },
        { key: `${k}LagMedian`, label: `${what}: lag at ${at}/s, median ms`, unit: 'ms', better: 'lower', cells: one(percentile(f.paced.lagMs, 0.5)) },
        { key: `${k}LagP99`, label: `${what}: lag at ${at}/s, p99 ms`, unit: 'ms', better: 'lower', cells: one(percentile(f.paced.lagMs, 0.99)) },
      ]
    }
    const json = await measure('json')
    const f32 = await measure('f32')
    return {
      rows: [...rowsOf('json', json), ...rowsOf('f32', f32)],
      details: [
        { key: 'redisPacedRate', label: 'through Redis (json), paced run', value: `${json.paced.updatesPerSec.toFixed(0)} updates/s over ${json.paced.learned.toLocaleString('en-US')} entries` },
        { key: 'redisF32PacedRate', label: 'through Redis (f32), paced run', value: `${f32.paced.updatesPerSec.toFixed(0)} updates/s over ${f32.paced.learned.toLocaleString('en-US')} entries` },
      ],
      notes: [
        `through Redis: ${N.toLocaleString('en-US')} entries, consumer group, checkpoint + XACK every 1,000 (bench/workloads/w4-redis.ts); json: one "json" field (~7 KB), f32: one "f32" field (784 float32 as base64, 4,184 characters) and "label". The target (half of W4 from memory) is judged on f32 against the long stream from memory (both steady state: 100,000 and 1,000,000 updates, a checkpoint or snapshot every 1,000); W4's updates/s row (5 x 2,000 updates on fresh models) includes the JIT's warm-up and reads lower.`,
      ],
    }
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** W4's report with the Redis rows added (or a line saying why they are missing). */
export const withRedisRows = async (ctx: WorkloadContext, w4: WorkloadResult): Promise<WorkloadResult> => {
  const median = (key: string): number | undefined => {
    const c = w4.rows.find((r) => r.key === key)?.cells.gradstream
    return c?.ok === true ? c.value.median : undefined
  }
  const r = await attempt(() => w4Redis(ctx, { repeats: median('updatesPerSec'), steady: median('longStreamUpdatesPerSec') }))
  if (!r.ok) return { ...w4, details: [...w4.details, { key: 'redis', label: 'through Redis', value: `n/a: ${r.reason}` }] }
  return { ...w4, rows: [...w4.rows, ...r.value.rows], details: [...w4.details, ...r.value.details], notes: [...w4.notes, ...r.value.notes] }
}
