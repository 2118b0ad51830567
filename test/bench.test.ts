// The benchmark harness (bench/): a quick smoke run through the real command, checked
// for shape and sanity only (never for speed thresholds: timings on a shared machine
// are noise), plus the pure helpers it is built from.

import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { parseBenchArgs, UsageError } from '../bench/args.ts'
import { interleavedBatches } from '../bench/clock.ts'
import type { Turn } from '../bench/turns.ts'
import { inTurns } from '../bench/turns.ts'
import { summarize } from '../bench/stats.ts'
import { reportsFromJson, reportsToJson } from '../bench/isolate.ts'
import type { WorkloadReport } from '../bench/report.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

type Json = { readonly [k: string]: unknown }
const obj = (v: unknown, what: string): Json => {
  expect(v, what).toBeTypeOf('object')
  expect(v, what).not.toBeNull()
  return v as Json
}

/** A measured figure: positive, finite, min <= median <= max. */
const expectFigure = (cell: unknown, what: string): void => {
  const c = obj(cell, what)
  for (const k of ['median', 'min', 'max', 'p90', 'n']) {
    expect(Number.isFinite(c[k]), `${what}.${k} finite`).toBe(true)
    expect(c[k] as number, `${what}.${k} > 0`).toBeGreaterThan(0)
  }
  expect(c.min as number, `${what} min <= median`).toBeLessThanOrEqual(c.median as number)
  expect(c.median as number, `${what} median <= max`).toBeLessThanOrEqual(c.max as number)
}

describe('npm run bench -- --quick --only W1,W5 --json', () => {
  it('prints one JSON object on the last stdout line with every figure measured (each workload run in a process of its own)', async () => {
    const { stdout, stderr } = await promisify(execFile)(npm, ['run', '--silent', 'bench', '--', '--quick', '--only', 'W1,W5', '--json', '--threads', '2'], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 120_000,
    })
    // Two workloads: each in a process of its own (bench/isolate.ts), its table on stderr under --json.
    expect(stderr).toContain('W1: in a process of its own')
    expect(stderr).toContain('W5: in a process of its own')
    expect(stderr).toContain('== W1')
    const lines = stdout.trim().split('\n')
    expect(lines.length).toBe(1)
    const report = obj(JSON.parse(lines[lines.length - 1]), 'report')
    expect(report.schema).toBe('gradstream-bench/1')
    expect(obj(report.meta, 'meta').quick).toBe(true)
    const workloads = obj(report.workloads, 'workloads')
    expect(Object.keys(workloads)).toEqual(['W1', 'W5'])

    const expected: { readonly [id: string]: readonly string[] } = { W1: ['n128', 'n256', 'n512'], W5: ['medianMicros', 'p90Micros'] }
    for (const [id, rowKeys] of Object.entries(expected)) {
      const w = obj(workloads[id], id)
      expect(Number.isFinite(w.seconds)).toBe(true)
      const rows = obj(w.rows, `${id}.rows`)
      expect(Object.keys(rows)).toEqual(rowKeys)
      for (const key of rowKeys) {
        const row = obj(rows[key], `${id}.${key}`)
        const systems = obj(row.systems, `${id}.${key}.systems`)
        for (const s of ['gradstream', 'tfjsCpu', 'tfjsWasm']) expectFigure(systems[s], `${id}.${key}.${s}`)
        // W1 splits the GEMM across threads (a figure); W5 is one sample at a time, so
        // its threaded column must say why there is none rather than show a number.
        if (id === 'W1') expectFigure(systems.gradstreamThreads, `${id}.${key}.gradstreamThreads`)
        else expect(obj(systems.gradstreamThreads, 'threads').na).toBeTypeOf('string')
        const ratios = obj(row.ratios, `${id}.${key}.ratios`)
        for (const r of ['tfjsCpu', 'tfjsWasm']) {
          expect(Number.isFinite(ratios[r]), `${id}.${key} ratio ${r}`).toBe(true)
          expect(ratios[r] as number).toBeGreaterThan(0)
        }
      }
    }
    // Same weights in every system: the probabilities must agree (a correctness check).
    const details = obj(obj(workloads.W5, 'W5').details, 'W5.details')
    expect(details.maxAbsDiffVsTfjsCpu as number).toBeLessThan(1e-4)
    expect(details.maxAbsDiffVsTfjsWasm as number).toBeLessThan(1e-4)
  }, 120_000)
})

describe('bench helpers', () => {
  it('passes a workload report from its own process as JSON, non-finite numbers kept', () => {
    const report: WorkloadReport = {
      id: 'W4',
      title: 't',
      rows: [{ key: 'k', label: 'l', unit: 'u', better: 'higher', cells: { gradstream: { ok: true, value: { median: 2.5, min: 1, max: 3, p90: 3, n: 3 } }, gradstreamThreads: { ok: false, reason: 'n/a' }, gradstreamTs: { ok: false, reason: 'x' }, gradstreamTsThreads: { ok: false, reason: 'x' }, tfjsCpu: { ok: false, reason: 'x' }, tfjsWasm: { ok: false, reason: 'x' }, jaxjs: { ok: false, reason: 'x' } } }],
      details: [{ key: 'a', label: 'a', value: NaN }, { key: 'b', label: 'b', value: Infinity }, { key: 'c', label: 'c', value: -Infinity }, { key: 'd', label: 'd', value: 'text' }],
      notes: ['n'],
      seconds: 1.25,
    }
    const back = reportsFromJson(reportsToJson([report]))
    expect(back).toEqual([report])
    expect(back[0].details.map((d) => d.value)).toEqual([NaN, Infinity, -Infinity, 'text'])
  })

  it('parses --only, --quick, --json and --threads, and rejects bad flags with a clear message', () => {
    expect(parseBenchArgs(['--only', 'w3,W1', '--quick', '--threads', '4'])).toEqual({ only: ['W1', 'W3'], quick: true, json: false, threads: 4 })
    expect(parseBenchArgs([]).only).toEqual(['W1', 'W2', 'W3', 'W4', 'W5'])
    expect(() => parseBenchArgs(['--only', 'W9'])).toThrow(/--only: expected a comma-separated list of W1, W2, W3, W4, W5, got "W9"/)
    expect(() => parseBenchArgs(['--threads', '0'])).toThrow(UsageError)
    expect(() => parseBenchArgs(['--fast'])).toThrow(UsageError)
  })

  it('summarizes repeats as median, min-max and p90', () => {
    expect(summarize([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, p90: 3, n: 3 })
    expect(summarize([4, 1, 3, 2]).median).toBe(2.5)
    const many = summarize(Array.from({ length: 10 }, (_, i) => i + 1))
    expect(many.p90).toBe(9)
    expect(() => summarize([])).toThrow(/at least one/)
    expect(() => summarize([1, NaN])).toThrow(/finite/)
  })

  it('times systems interleaved: warm-up and calibration of each, then one batch of every system per round, each after its own before()', async () => {
    const log: string[] = []
    const system = (name: string) => ({ before: () => void log.push(`${name}.before`), call: () => void log.push(name) })
    const times = await interleavedBatches([system('a'), system('b')], 1, 2, 0)
    expect(log).toEqual([
      ...['a.before', 'a', 'a'], // warm-up call, then one calibration batch (1 call already lasts >= 0 ms)
      ...['b.before', 'b', 'b'],
      ...['a.before', 'a', 'a', 'b.before', 'b', 'b'], // round 1: an untimed call, then the batch
      ...['a.before', 'a', 'a', 'b.before', 'b', 'b'], // round 2
    ])
    expect(times.map((t) => t.length)).toEqual([2, 2])
    for (const t of times.flat()) expect(t).toBeGreaterThanOrEqual(0)
  })

  it('gives runs turns round-robin (setups, then epoch by epoch), one run at a time, and goes on without a run that ended or failed', async () => {
    const log: string[] = []
    let inside = 0
    let most = 0
    // Work that yields to the event loop, as an epoch through train() does.
    const work = async (what: string): Promise<void> => {
      inside++
      most = Math.max(most, inside)
      log.push(what)
      await new Promise((done) => setImmediate(done))
      await new Promise((done) => setImmediate(done))
      inside--
    }
    const run = (name: string, epochs: number, failAt?: number) => async (turn: Turn): Promise<number> => {
      await turn()
      await work(`${name} setup`)
      for (let e = 1; e <= epochs; e++) {
        await turn()
        if (e === failAt) throw new Error(`${name} failed in epoch ${e}`)
        await work(`${name} ${e}`)
      }
      return epochs
    }
    const done = await inTurns([
      ['a', run('a', 3)],
      ['b', run('b', 1)],
      ['c', run('c', 3, 2)],
      ['d', run('d', 2)],
    ])
    expect(log).toEqual(['a setup', 'b setup', 'c setup', 'd setup', 'a 1', 'b 1', 'c 1', 'd 1', 'a 2', 'd 2', 'a 3'])
    expect(most).toBe(1)
    expect(done.get('a')).toEqual({ ok: true, value: 3 })
    expect(done.get('b')).toEqual({ ok: true, value: 1 })
    expect(done.get('c')).toEqual({ ok: false, reason: 'c failed in epoch 2' })
    expect(done.get('d')).toEqual({ ok: true, value: 2 })
  })
})
