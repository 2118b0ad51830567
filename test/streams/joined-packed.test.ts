// A log run joined with a label log whose records are packed entries (the `f32` field,
// log-source.ts) learns exactly what it learns from the same records as JSON entries:
// same parameter bits, counts and accuracy; a malformed packed record is rejected with
// its reason like any bad entry.

import * as E from 'fp-ts/lib/Either.js'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { joinPackedRecordOf } from '../../src/streams/joined-records.ts'
import type { LogConsumer, LogEntry } from '../../src/streams/log-source.ts'
import { encodeF32, packedAt } from '../../src/streams/log-source.ts'
import { mergedLog } from '../../src/streams/merged-log.ts'
import { filter, lastValueFrom, toArray } from 'rxjs'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import { sgd } from '../../src/models/optimizers.ts'
import { mlp } from '../../src/models/zoo/mlp.ts'
import type { LogOnlineEvent } from '../../src/streams/log-online.ts'
import { onlineFromLog } from '../../src/streams/log-online.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import { memoryLog } from './memory-log.ts'
import { labelsApart, streamData } from '../redis/data.ts'

const FEATURES = Array.from({ length: 6 }, (_, i) => `f${i}`)

/** An entry of a good JSON record as the packed encoding: f32 of the features, then the id field. */
const packed = (e: LogEntry): LogEntry => {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(e.fields[1]) as Record<string, unknown>
  } catch {
    return e
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o) || typeof o.rid !== 'string' || !FEATURES.every((f) => typeof o[f] === 'number')) return e
  return { ...e, fields: ['f32', encodeF32(FEATURES.map((f) => o[f] as number)), 'rid', o.rid] }
}
/** One learner over `log` to its end (checkpoints in a fresh directory): its last snapshot's hash, counts, macro F1. */
const learn = async (log: LogConsumer) => {
  const events = await lastValueFrom(
    onlineFromLog(
      log,
      (features) => ({ objective: supervised(mlp({ hidden: [8], classes: 3 }), softmaxCrossEntropy(), [features.length]) as AnyObjective, optimizer: sgd(0.05) }),
      {
        label: 'kind', classes: ['a', 'b', 'c'], features: FEATURES, join: { id: 'rid', labelStream: 'labs' },
        checkpointDir: mkdtempSync(join(tmpdir(), 'gs-join-packed-')), checkpointEvery: 150, snapshotEvery: 40, untilIdle: 0.05, waitMs: 5, readCount: 64,
      },
    ).pipe(filter((e): e is Extract<LogOnlineEvent, { type: 'snapshot' }> => e.type === 'snapshot'), toArray()),
  )
  const last = events[events.length - 1]
  return { hash: hashParams(last.snapshot), counts: last.counts, macroF1: last.metrics.macroF1 }
}
const packedConsumer = (c: LogConsumer): LogConsumer => ({ ...c, read: async (max, waitMs) => (await c.read(max, waitMs)).map(packed) })

describe('onlineFromLog with a label log and packed f32 records', () => {
  const N = 900
  const data = streamData(N, 6, 0.02, 17)
  const { recLines, recIds, labIds, labLines } = labelsApart(data, 18, 300_000)

  it('ends on the bits, counts and accuracy of the same records as JSON entries', async () => {
    // the packed side really is packed
    const probe = packedConsumer(memoryLog(recLines, 'recs', recIds).consumer())
    await probe.open(undefined)
    const first = await probe.read(N, 1)
    expect(first.filter((e) => packedAt(e.fields) >= 0).length).toBe(N - data.bad.length)
    const j = await learn(mergedLog(memoryLog(recLines, 'recs', recIds).consumer(), memoryLog(labLines, 'labs', labIds).consumer()))
    const p = await learn(mergedLog(packedConsumer(memoryLog(recLines, 'recs', recIds).consumer()), memoryLog(labLines, 'labs', labIds).consumer()))
    expect(j.counts?.learned).toBeGreaterThan(700)
    expect(p.hash).toBe(j.hash)
    expect(p.counts).toEqual(j.counts)
    expect(p.macroF1).toBe(j.macroF1)
  })

  it('rejects a packed record without its id or with a malformed f32 field, naming why', () => {
    const f = encodeF32([1, 2, 3, 4, 5, 6])
    const why = (fields: string[]): string => {
      const r = joinPackedRecordOf(fields, packedAt(fields), FEATURES, 'rid', 7)
      return E.isLeft(r) ? `${r.left.reason}: ${r.left.detail}` : `ok ${String(r.right.id)} ${Array.from(r.right.features).join(',')}`
    }
    expect(why(['f32', f, 'rid', 'r1'])).toBe('ok r1 1,2,3,4,5,6')
    expect(why(['f32', f])).toBe('missing field: no id field "rid"')
    expect(why(['f32', encodeF32([1, 2, 3]), 'rid', 'r1'])).toBe('wrong field count: the f32 field holds 3 float32 values, expected 6')
    expect(why(['f32', encodeF32([1, 2, NaN, 4, 5, 6]), 'rid', 'r1'])).toBe('non-finite feature: feature "f2" (f32 value 2) is NaN')
  })
})
