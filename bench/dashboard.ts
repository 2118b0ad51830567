// Dashboard figures (issue 14's note), reproducible:
//   npx tsx --expose-gc bench/dashboard.ts RUNS_DIR [--step 137] [--samples 30]
// RUNS_DIR holds run directories (`gradstream train --out RUNS_DIR/NAME`); the first one (by
// name) should be a cnn run with the default checkpoint interval (one per epoch: K = 250).
// - the first visit of a step `--step` steps past a checkpoint (a cold scrub: replayed from
//   the checkpoint, as `gradstream replay` does, but with the run already loaded);
// - then scrubbing: `--samples` random steps of that checkpoint interval, one after
//   another as a user drags the slider, after the server's own replay to the end of the
//   interval (prefetch) finished: median, p90 and max of the request time;
// - the server's memory (RSS, and heap after a full GC) with every run of RUNS_DIR listed
//   and one step of each replayed.

import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { key, uniform } from '../src/core/rng.ts'
import { startDashboard } from '../src/server/dashboard-server.ts'

const { values, positionals } = parseArgs({ options: { step: { type: 'string' }, samples: { type: 'string' } }, allowPositionals: true })
if (positionals.length !== 1) throw new Error('usage: npx tsx --expose-gc bench/dashboard.ts RUNS_DIR [--step 137] [--samples 30]')
const past = Number(values.step ?? 137)
const samples = Number(values.samples ?? 30)

const dash = await startDashboard({ dirs: positionals, port: 0 })
const base = `http://127.0.0.1:${dash.port}`
const headers = { authorization: `Bearer ${dash.token}` }
const get = async <T>(path: string): Promise<{ body: T; ms: number }> => {
  const t0 = performance.now()
  const r = await fetch(`${base}${path}`, { headers })
  const body = (await r.json()) as T
  if (!r.ok) throw new Error(`${path}: ${JSON.stringify(body)}`)
  return { body, ms: performance.now() - t0 }
}
const mb = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MB`
const gc = (globalThis as { gc?: () => void }).gc

type Row = { id: string; name: string; model: string; checkpoints: number[]; lastStep: number }
const t0 = performance.now()
const runs = (await get<Row[]>('/api/runs')).body.sort((a, b) => a.name.localeCompare(b.name))
console.log(`loaded ${runs.length} runs (${runs.map((r) => `${r.name}: ${r.model}, ${r.lastStep} steps, checkpoints ${r.checkpoints.join(',')}`).join('; ')}) in ${(performance.now() - t0).toFixed(0)} ms`)
const run = runs[0]
const k = run.checkpoints[0]
console.log(`run ${run.name}: checkpoint interval K = ${k}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)

type View = { replayed: number; from: number; hash: string }
const cold = await get<View>(`/api/runs/${run.id}/steps/${past}`)
console.log(`cold: step ${past} (${cold.body.replayed} steps replayed from ${cold.body.from}): ${cold.ms.toFixed(0)} ms`)

// Let the prefetch reach the end of the interval.
await dash.cache.whenIdle(run.id)
const u = uniform(key(14), samples)
const times: number[] = []
const replayed: number[] = []
for (let i = 0; i < samples; i++) {
  const step = 1 + Math.floor(u[i] * (k - 1))
  const r = await get<View>(`/api/runs/${run.id}/steps/${step}`)
  times.push(r.ms)
  replayed.push(r.body.replayed)
}
const sorted = [...times].sort((a, b) => a - b)
const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
console.log(
  `scrub within the interval, ${samples} random steps: median ${q(0.5).toFixed(0)} ms, p90 ${q(0.9).toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms; ` +
    `steps replayed per request: median ${[...replayed].sort((a, b) => a - b)[Math.floor(samples / 2)]}, max ${Math.max(...replayed)}`,
)
console.log(`cache: ${dash.cache.size} snapshots, ${mb(dash.cache.bytes)}`)

for (const r of runs) {
  await get(`/api/runs/${r.id}/steps/${Math.min(r.lastStep, 100)}`)
  await dash.cache.whenIdle(r.id)
}
gc?.()
const m = process.memoryUsage()
console.log(`memory with ${runs.length} runs loaded: rss ${mb(m.rss)}, heap used ${mb(m.heapUsed)}, array buffers ${mb(m.arrayBuffers)}, replay cache ${mb(dash.cache.bytes)}`)
await dash.close()
