// `gradstream online --input RECORDS --labels LABELS --id COL --time COL`: labels from a
// second log, merged with the records in time order and joined by id. Checked against an
// independent reference: learning is in label-arrival order, so the parameters must equal
// a plain run over the records reordered by when their labels arrive; the prequential
// accuracy must be that of predictions made at each record's arrival (the library's join,
// test/streams/online-delay.test.ts, over items merged by hand here).

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lastValueFrom } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { onlineModelOf, parseOnlineFlags } from '../../src/cli/online-command.ts'
import type { OnlineItem, OnlineSnapshotEvent } from '../../src/streams/online.ts'
import { online } from '../../src/streams/online.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import { runCli, lastJsonLine } from '../cli-run.ts'
import { recordsAndLaterLabels } from './child.ts'

describe('gradstream online --labels FILE --id COL --time COL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gs-online-join-'))
  const N = 600
  // record i at T0 + 10 s * i; its label 5 to 400 s later, except every 50th record's
  const { T0, recs, labels } = recordsAndLaterLabels(N, 31)
  // one label for a record that does not exist, and one of a class outside --classes
  labels.push({ at: T0 + 123_456, id: 'ghost', y: 'up', i: -1 }, { at: T0 + 234_567, id: 'r3', y: 'sideways', i: -2 })
  labels.sort((p, q) => p.at - q.at || p.i - q.i)
  const recordsFile = join(dir, 'records.csv')
  const labelsFile = join(dir, 'labels.ndjson')
  // the records as CSV with epoch-ms times (one without an id); the labels as NDJSON with ISO dates
  writeFileSync(recordsFile, `time,id,a,b\n${recs.map((r, i) => `${r.at},${i === 99 ? '' : r.id},${r.a},${r.b}`).join('\n')}\n`)
  writeFileSync(labelsFile, `${labels.map((l) => JSON.stringify({ id: l.id, time: new Date(l.at).toISOString(), y: l.y })).join('\n')}\n`)
  const model = ['--label', 'y', '--classes', 'down,up', '--hidden', '8', '--lr', '0.05', '--seed', '3', '--json']

  it('merges the two logs in time order and learns each record when its label arrives, scored at its arrival', async () => {
    const r = await runCli(['online', '--input', recordsFile, '--labels', labelsFile, '--id', 'id', '--time', 'time', ...model])
    expect(r.code, r.err).toBe(0)
    const s = lastJsonLine(r.out)
    // the merge by hand: every event by time, a record before a label at the same time
    type Ev = { at: number; kind: 0 | 1; item: OnlineItem }
    const evs: Ev[] = [
      ...recs.map((x, i): Ev => ({ at: x.at, kind: 0, item: i === 99 ? { features: [x.a, x.b] } : { features: [x.a, x.b], id: x.id } })),
      ...labels.map((l): Ev => ({ at: l.at, kind: 1, item: l.y === 'sideways' ? { labelFor: 'bad', label: 9 } : { labelFor: l.id, label: l.y === 'up' ? 1 : 0 } })),
    ].sort((p, q) => p.at - q.at || p.kind - q.kind)
    const learnedInOrder = labels.filter((l) => l.i >= 0 && l.i !== 99)
    expect(s.learned).toBe(learnedInOrder.length)
    expect(s.waiting).toBe(recs.length - 1 - learnedInOrder.length)
    expect(s.unmatchedLabels).toBe(2) // 'ghost', and r99's (its record had no id)
    expect(s.rejected).toBe(2)
    expect(s.rejectedByReason).toEqual({ 'missing field': 1, 'unknown class': 1 })
    expect(r.err).toMatch(/rejected, unknown class \(.*labels\.ndjson line \d+: label "y" is "sideways"\)/)

    // the parameters: a plain run over the records in the order their labels arrived
    const reordered = join(dir, 'reordered.csv')
    writeFileSync(reordered, `a,b,y\n${learnedInOrder.map((l) => `${recs[l.i].a},${recs[l.i].b},${l.y}`).join('\n')}\n`)
    const plain = lastJsonLine((await runCli(['online', '--input', reordered, ...model])).out)
    expect(s.hash).toBe(plain.hash)

    // the scores: the library's join over the hand-merged items (the bad label left out: it is only counted)
    const { objective, optimizer } = onlineModelOf(parseOnlineFlags(['--input', recordsFile, ...model]), 2, 2)
    const items = evs.map((e) => e.item).filter((it) => !('labelFor' in it && it.labelFor === 'bad'))
    const events = await lastValueFrom(online(objective, optimizer, items, { seed: 3, joinLabels: true, snapshotEvery: 100_000 }))
    const last = events as OnlineSnapshotEvent
    expect(hashParams(last.snapshot)).toBe(s.hash)
    expect(s.accuracy).toBe(last.metrics.accuracy)
    expect(s.macroF1).toBe(last.metrics.macroF1)
    expect(last.metrics.accuracy).not.toBe(plain.accuracy)
  })

  it('refuses incomplete or conflicting flags in one line', async () => {
    const cases: [string[], string][] = [
      [['--labels', labelsFile, '--id', 'id'], 'gradstream online: --time: labels from a second log need --labels FILE, --id COL and --time COL'],
      [['--labels', labelsFile, '--id', 'id', '--time', 'time', '--label-delay', '3'], 'gradstream online: --label-delay: give either --label-delay or --labels, not both'],
      [['--labels', join(dir, 'nope.ndjson'), '--id', 'id', '--time', 'time'], `gradstream online: --labels: could not read ${join(dir, 'nope.ndjson')}: ENOENT`],
      [['--labels', labelsFile, '--id', 'id', '--time', 'id'], `gradstream online: ${recordsFile}: expected the id, time and label columns to differ, got "id", "id", "y"`],
    ]
    for (const [args, line] of cases) {
      const r = await runCli(['online', '--input', recordsFile, ...model, ...args])
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.err.trim()).toBe(line)
    }
    // with --redis: --label-stream KEY --id COL (the runs are in test/redis/kill.spec.ts)
    const redis = ['online', '--redis', 'redis://127.0.0.1:1', '--stream', 's', ...model, '--checkpoint-dir', join(dir, 'ck')]
    const redisCases: [string[], string][] = [
      [['--label-stream', 'l'], 'gradstream online: --id: labels from a second stream need --label-stream KEY and --id COL'],
      [['--id', 'rid'], 'gradstream online: --label-stream: labels from a second stream need --label-stream KEY and --id COL'],
      [['--label-stream', 'l', '--id', 'rid', '--label-delay', '4'], 'gradstream online: --label-delay: give either --label-delay or --label-stream, not both'],
      [['--label-stream', 's', '--id', 'rid'], 'gradstream online: --label-stream: expected another stream than --stream'],
      [['--labels', labelsFile, '--id', 'id', '--time', 'time'], 'gradstream online: --labels: not with --redis (labels from a second stream: --label-stream KEY --id COL)'],
    ]
    for (const [args, line] of redisCases) {
      const r = await runCli([...redis, ...args])
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.err.trim()).toBe(line)
    }
  })
})
