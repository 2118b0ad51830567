// log-online.ts's exactly-once restarts over an in-memory log (memory-log.ts): a learner
// "crashed" (unsubscribed without its final checkpoint) at chosen moments and restarted
// from its newest checkpoint ends with the uninterrupted run's bits and cumulative figures.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import { sgd } from '../../src/models/optimizers.ts'
import { mlp } from '../../src/models/zoo/mlp.ts'
import type { LogCounts, LogOnlineEvent, LogOnlineOptions } from '../../src/streams/log-online.ts'
import { latestLogCheckpoint, onlineFromLog } from '../../src/streams/log-online.ts'
import { macroF1 } from '../../src/streams/rolling-metrics.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import { labelsApart, streamData } from '../redis/data.ts'
import type { MemoryLog } from './memory-log.ts'
import { memoryLog } from './memory-log.ts'
import { lastValueFrom } from 'rxjs'
import { joinedRecords } from '../../src/streams/joined-records.ts'
import { mergedLog } from '../../src/streams/merged-log.ts'
import type { OnlineSnapshotEvent } from '../../src/streams/online.ts'
import { online } from '../../src/streams/online.ts'

const model = (features: readonly string[]) => ({
  objective: supervised(mlp({ hidden: [8], classes: 3 }), softmaxCrossEntropy(), [features.length]) as AnyObjective,
  optimizer: sgd(0.05),
})

interface Ended {
  /** The last snapshot event's hash, counts and metrics (undefined if none). */
  readonly hash?: string
  readonly counts?: LogCounts
  readonly macroF1?: number
  readonly crashed: boolean
}

/** One learner process over `log`, resuming from `dir`; with `crashAt`, it dies at the first snapshot at or after that many entries. */
export const learnOnce = (log: Pick<MemoryLog, 'consumer'>, dir: string, options: Partial<LogOnlineOptions> = {}, crashAt?: number): Promise<Ended> =>
  new Promise((resolve, reject) => {
    let last: Extract<LogOnlineEvent, { type: 'snapshot' }> | undefined
    const ended = (crashed: boolean): Ended =>
      last === undefined ? { crashed } : { crashed, hash: hashParams(last.snapshot), counts: last.counts, macroF1: last.metrics.macroF1 }
    const sub = onlineFromLog(log.consumer(), model, {
      label: 'kind', classes: ['a', 'b', 'c'], checkpointDir: dir, checkpointEvery: 150, snapshotEvery: 40, untilIdle: 0.05, waitMs: 5, readCount: 64,
      resume: latestLogCheckpoint(dir), ...options,
    }).subscribe({
      next: (e) => {
        if (e.type !== 'snapshot') return
        last = e
        if (crashAt !== undefined && e.counts.seen >= crashAt && !e.final) {
          sub.unsubscribe()
          resolve(ended(true))
        }
      },
      error: reject,
      complete: () => resolve(ended(false)),
    })
  })

describe('onlineFromLog restarted after crashes', () => {
  const N = 2000
  const data = streamData(N, 6, 0.03, 11)

  it('ends on the uninterrupted run\'s bits, counts and cumulative macro F1 (per-class counts ride in the checkpoints)', async () => {
    const ref = await learnOnce(memoryLog(data.lines), mkdtempSync(join(tmpdir(), 'gs-log-ref-')))
    expect(ref.counts?.seen).toBe(N)
    expect(ref.counts?.learned).toBe(N - data.bad.length)
    expect(ref.macroF1).toBeGreaterThan(0.5)
    // the cumulative macro F1 is the one of the summed per-class counts
    expect(ref.macroF1).toBe(macroF1(ref.counts!.classCounts!))

    const log = memoryLog(data.lines)
    const dir = mkdtempSync(join(tmpdir(), 'gs-log-crash-'))
    let crashes = 0
    for (const at of [230, 700, 701, 1390]) if ((await learnOnce(log, dir, {}, at)).crashed) crashes++
    expect(crashes).toBe(4)
    const end = await learnOnce(log, dir)
    expect(end.crashed).toBe(false)
    expect(end.hash).toBe(ref.hash)
    // every count is exact; the loss sum is a float sum split differently across processes
    expect({ ...end.counts, lossSum: 0 }).toEqual({ ...ref.counts, lossSum: 0 })
    expect(end.counts!.lossSum).toBeCloseTo(ref.counts!.lossSum, 9)
    expect(end.macroF1).toBe(ref.macroF1)
    expect(log.acked()).toBe(N)
    expect([...log.dead.keys()].sort()).toEqual(data.bad.map((i) => `${i + 1}-0`).sort())
  })
})

describe('onlineFromLog with delayed labels, restarted after crashes', () => {
  const N = 1500
  const D = 40
  const data = streamData(N, 6, 0.03, 12)

  it('keeps the waiting examples (and their arrival predictions) in the checkpoints: same bits, counts, macro F1 as one run', async () => {
    const opts = { labelDelay: D }
    const refDir = mkdtempSync(join(tmpdir(), 'gs-delay-ref-'))
    const refLog = memoryLog(data.lines)
    const ref = await learnOnce(refLog, refDir, opts)
    expect(ref.counts?.seen).toBe(N)
    // the last D good entries wait for labels that have not come; everything read is acknowledged
    expect(ref.counts?.learned).toBe(N - data.bad.length - D)
    expect(refLog.acked()).toBe(N)
    const saved = latestLogCheckpoint(refDir)!
    expect(saved.labelDelay).toBe(D)
    expect(saved.waiting.length).toBe(D)

    const log = memoryLog(data.lines)
    const dir = mkdtempSync(join(tmpdir(), 'gs-delay-crash-'))
    for (const at of [120, 600, 601, 1200]) expect((await learnOnce(log, dir, opts, at)).crashed).toBe(true)
    const end = await learnOnce(log, dir, opts)
    expect(end.hash).toBe(ref.hash)
    expect({ ...end.counts, lossSum: 0 }).toEqual({ ...ref.counts, lossSum: 0 })
    expect(end.macroF1).toBe(ref.macroF1)
    expect(latestLogCheckpoint(dir)!.waiting).toEqual(saved.waiting)

    // releasing the waiting labels later equals releasing them at the end of one run
    const once = await learnOnce(memoryLog(data.lines), mkdtempSync(join(tmpdir(), 'gs-delay-once-')), { ...opts, releaseWaiting: true })
    expect(once.counts?.learned).toBe(N - data.bad.length)
    const released = await learnOnce(log, dir, { ...opts, releaseWaiting: true })
    expect(released.hash).toBe(once.hash)
    expect({ ...released.counts, lossSum: 0 }).toEqual({ ...once.counts, lossSum: 0 })
    expect(latestLogCheckpoint(dir)!.waiting).toEqual([])
    // and a run that never delayed learns the same bits (examples are learned in arrival order)
    const undelayed = await learnOnce(memoryLog(data.lines), mkdtempSync(join(tmpdir(), 'gs-delay-none-')))
    expect(released.hash).toBe(undelayed.hash)
    expect(released.counts!.hits).not.toBe(undelayed.counts!.hits)
  })

  it('refuses to resume with another delay, in one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gs-delay-other-'))
    await learnOnce(memoryLog(data.lines.slice(0, 300)), dir, { labelDelay: 5 })
    await expect(learnOnce(memoryLog(data.lines.slice(0, 300)), dir, { labelDelay: 6 })).rejects.toThrow(/learned with a label delay of 5 entries, not 6; give the first run's --label-delay$/)
  })
})

describe('onlineFromLog with labels from a second log (mergedLog), restarted after crashes', () => {
  const N = 1200
  const data = streamData(N, 6, 0.02, 13)
  // records at ms 1000 (i + 1), labels 5 to 400 s later
  const { recLines, recIds, labels, labIds, labLines } = labelsApart(data, 14, 395_000)
  const pair = () => {
    const r = memoryLog(recLines, 'recs', recIds)
    const l = memoryLog(labLines, 'labs', labIds)
    return { r, l, consumer: () => mergedLog(r.consumer(), l.consumer()) }
  }
  const opts = { join: { id: 'rid', labelStream: 'labs' } }

  it('learns in merged order, scored at arrival, and ends on one run\'s bits after crashes', async () => {
    const refDir = mkdtempSync(join(tmpdir(), 'gs-join-ref-'))
    const ref = await learnOnce(pair(), refDir, opts)
    // the reference of the reference: the two logs as files, merged by joinedRecords
    const asChunks = async function* (lines: string[]) {
      yield `${lines.join('\n')}\n`
    }
    const j = await joinedRecords(
      asChunks(recLines.map((l, i) => { try { return JSON.stringify({ ...JSON.parse(l), t: 1000 * (i + 1) }) } catch { return l } })),
      asChunks(labLines.map((l, k) => JSON.stringify({ ...JSON.parse(l), t: labels[k].at }))),
      { id: 'rid', time: 't', label: 'kind', classes: ['a', 'b', 'c'] },
    )
    const { objective, optimizer } = model(j.features)
    const last = (await lastValueFrom(online(objective, optimizer, j.items, { joinLabels: true, snapshotEvery: 100_000 }))) as OnlineSnapshotEvent
    expect(ref.hash).toBe(hashParams(last.snapshot))
    expect(ref.counts?.learned).toBe(last.metrics.learned)
    expect(ref.counts!.hits / ref.counts!.examples).toBe(last.metrics.accuracy)
    expect(ref.counts?.learned).toBeGreaterThan(900)

    const p = pair()
    const dir = mkdtempSync(join(tmpdir(), 'gs-join-crash-'))
    for (const at of [150, 800, 801, 1900]) expect((await learnOnce(p, dir, opts, at)).crashed).toBe(true)
    const end = await learnOnce(p, dir, opts)
    expect(end.hash).toBe(ref.hash)
    expect({ ...end.counts, lossSum: 0 }).toEqual({ ...ref.counts, lossSum: 0 })
    expect(end.macroF1).toBe(ref.macroF1)
    expect(p.r.acked()).toBe(N)
    expect(p.l.acked()).toBe(labels.length)
    const saved = latestLogCheckpoint(dir)!
    expect(saved.join).toEqual(opts.join)
    // the records still waiting for a label, with their arrival predictions, as one run left them
    expect(saved.waiting).toEqual(latestLogCheckpoint(refDir)!.waiting)
    expect(saved.waiting.length).toBe(N - data.bad.length - (ref.counts?.learned ?? 0))
    await expect(learnOnce(p, dir, {})).rejects.toThrow(/learned with labels from "labs" by "rid", not without one$/)
  })
})
