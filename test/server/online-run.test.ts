// What the dashboard reads of an online run directory written by hand the way the
// learners write it (cli/online-run-log.ts): lines written again after a restart are kept
// once, a torn last line waits for its newline, the status follows the final line and
// the writer's silence, and a stdin run's positions are refused with the reason.

import { appendFileSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { OnlineRunConfig } from '../../src/cli/online-run-log.ts'
import { onlineRunConfig, openOnlineRunLog } from '../../src/cli/online-run-log.ts'
import type { Snapshot } from '../../src/streams/snapshot.ts'
import { LIVE_WINDOW_MS } from '../../src/server/run-files.ts'
import { isOnlineRunDir, OnlineRun } from '../../src/server/online-run.ts'

const FLAGS = { label: 'y', numClasses: 3, model: 'mlp', seed: 0, batch: 1, window: 100, reportEvery: 10 }

const line = (record: number, step: number, extra: Record<string, unknown> = {}): string =>
  `${JSON.stringify({ record, step, entryId: `1-${record}`, examples: record, learned: record, rejected: 0, accuracy: 0.5, loss: 1, windowAccuracy: record / 100, windowLoss: 1, ...extra })}\n`

describe('an online run directory', () => {
  it('keeps the first line of each record, waits for a torn line, and is done after a final line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gs-online-run-'))
    const config: OnlineRunConfig = onlineRunConfig(FLAGS, { type: 'stdin' }, 0)
    const log = openOnlineRunLog(dir, config)
    expect(isOnlineRunDir(dir)).toBe(true)
    const run = new OnlineRun('r0', dir, [dir])
    expect(run.config()).toEqual(config)
    const path = join(dir, 'metrics.ndjson')
    appendFileSync(path, line(10, 10) + line(20, 20) + line(30, 30))
    // A SIGKILLed Redis learner's successor learns records 21.. again and writes their lines again.
    appendFileSync(path, line(30, 30, { windowAccuracy: 0.99 }) + line(40, 40) + '{"record":50,"st')
    let m = run.metrics()
    expect(m.record).toEqual([10, 20, 30, 40])
    expect(m.windowAccuracy).toEqual([0.1, 0.2, 0.3, 0.4])
    expect(m.entryId).toEqual(['1-10', '1-20', '1-30', '1-40'])
    expect(run.lastRecord()).toBe(40)
    expect(run.status(Date.now())).toBe('running')
    // The rest of the torn line arrives, then the final line (written by the learner's own appender).
    appendFileSync(path, 'ep":50,"accuracy":null}\n')
    m = run.metrics()
    expect(m.record).toEqual([10, 20, 30, 40, 50])
    expect(m.accuracy[4]).toBeNull()
    expect(run.status(Date.now())).toBe('running')
    // The appender reads only the step of the snapshot.
    const snapshot = { step: 60 } as unknown as Snapshot
    const metrics = { seen: 60, examples: 58, learned: 58, skipped: 0, rejected: 2, rejectedByReason: {}, accuracy: 0.75, loss: 0.5, windowAccuracy: NaN, windowLoss: 0.4, windowExamples: 0, mae: NaN, rmse: NaN, windowMae: NaN, windowRmse: NaN, drifts: 0, resets: 0, macroF1: NaN, windowMacroF1: NaN }
    log.event({ type: 'snapshot', snapshot, metrics, final: true })
    expect(run.metrics().record).toEqual([10, 20, 30, 40, 50, 60])
    expect(run.metrics().windowAccuracy[5]).toBeNull()
    expect(run.metrics().final).toBe(true)
    expect(run.status(Date.now())).toBe('done')
    // stdin records are gone: metrics only.
    expect(run.notReplayable()).toMatch(/learned from stdin/)
    expect(run.info(Date.now())).toMatchObject({ kind: 'online', source: 'stdin', lastRecord: 60, lastStep: 60, error: expect.stringMatching(/stdin/) })
  })

  it('is interrupted when its writer went quiet without a final line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gs-online-run-'))
    mkdirSync(dir, { recursive: true })
    openOnlineRunLog(dir, onlineRunConfig(FLAGS, { type: 'redis', url: 'redis://127.0.0.1:1', stream: 's', group: 'g' }, 0))
    writeFileSync(join(dir, 'metrics.ndjson'), line(10, 10))
    const run = new OnlineRun('r0', dir, [dir])
    expect(run.status(Date.now())).toBe('running')
    const old = new Date(Date.now() - LIVE_WINDOW_MS - 5000)
    for (const f of ['metrics.ndjson', 'online.json']) utimesSync(join(dir, f), old, old)
    expect(run.status(Date.now())).toBe('interrupted')
    expect(run.notReplayable()).toBeUndefined()
  })
})
