// Scrub latency of the dashboard over an online run learned from a file (or, with a 4th
// argument `redis`, from a Redis stream on a redis-server this script starts):
//   npx tsx bench/dashboard-online.ts [RECORDS] [CHECKPOINT_EVERY] [SAMPLES] [file|redis]
// learns RECORDS records (8 features, 3 classes, an MLP with 16 hidden units) with a
// checkpoint every CHECKPOINT_EVERY examples, then asks the API for SAMPLES positions
// spread over the run (each a first visit: replayed from the nearest checkpoint, after
// reading the file from its start, or walking the stream from the checkpoint's entry)
// and prints the median and max time.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../src/cli.ts'
import { startDashboard } from '../src/server/dashboard-server.ts'
import { streamData } from '../test/redis/data.ts'
import { startRedis } from '../test/redis/server.ts'

const [records = 20_000, every = 1000, samples = 15] = process.argv.slice(2, 5).map(Number)
const redis = process.argv[5] === 'redis' ? await startRedis() : undefined
const tmp = mkdtempSync(join(tmpdir(), 'gs-bench-online-'))
const input = join(tmp, 'stream.ndjson')
writeFileSync(input, `${streamData(records).lines.join('\n')}\n`)
const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream
const dir = join(tmp, 'runs', 'online')
const t0 = performance.now()
if (redis !== undefined && (await main(['produce', '--redis', redis.url, '--stream', 'events', '--input', input], { stdout: quiet, stderr: quiet })) !== 0) throw new Error('produce failed')
const from = redis === undefined ? ['--input', input] : ['--redis', redis.url, '--stream', 'events', '--until-idle', '0.5']
const code = await main(['online', ...from, '--label', 'kind', '--classes', 'a,b,c', '--hidden', '16', '--checkpoint-dir', dir, '--checkpoint-every', String(every), '--report-every', '500'], { stdout: quiet, stderr: quiet })
if (code !== 0) throw new Error(`online exited with ${code}`)
console.log(`learned ${records} records in ${((performance.now() - t0) / 1000).toFixed(2)} s`)
const dash = await startDashboard({ dirs: [join(tmp, 'runs')], dataDirs: [tmp], port: 0 })
const ms: number[] = []
for (let i = 0; i < samples; i++) {
  const n = Math.max(1, Math.round(((i + 0.5) / samples) * records) - 37)
  const t = performance.now()
  const r = await fetch(`http://127.0.0.1:${dash.port}/api/runs/r0/records/${n}`, { headers: { authorization: `Bearer ${dash.token}` } })
  if (r.status !== 200) throw new Error(`record ${n}: ${await r.text()}`)
  const v = (await r.json()) as { replayed: number }
  ms.push(performance.now() - t)
  if (i === 0) console.log(`record ${n}: replayed ${v.replayed} records`)
}
ms.sort((a, b) => a - b)
console.log(`${samples} first visits over ${records} records${redis !== undefined ? ' of a Redis stream' : ''}, a checkpoint every ${every}: median ${ms[samples >> 1].toFixed(0)} ms, max ${ms[samples - 1].toFixed(0)} ms`)
await dash.close()
await redis?.stop()
