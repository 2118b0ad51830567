import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import * as E from 'fp-ts/lib/Either.js'
import { lastValueFrom, tap, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import type { Example, Rejection } from '../../src/io/records.ts'
import { relu } from '../../src/models/activations.ts'
import { dense } from '../../src/models/dense.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import { sgd } from '../../src/models/optimizers.ts'
import { sequential } from '../../src/models/sequential.ts'
import { online, onlineSnapshots } from '../../src/streams/online.ts'
import type { LineItem } from '../../src/streams/record-source.ts'
import { recordsFromLines, recordsFromObjects, recordsFromReadable, textLines } from '../../src/streams/record-source.ts'

const fixture = (name: string) => join(import.meta.dirname, '..', 'fixtures', 'online', name)

const collect = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = []
  for await (const v of it) out.push(v)
  return out
}

const summary = (rs: E.Either<Rejection, Example>[]) => ({
  ok: rs.filter(E.isRight).map((r) => [r.right.line, Array.from(r.right.features), r.right.label]),
  bad: rs.filter(E.isLeft).map((r) => [r.left.line, r.left.reason]),
})

describe('textLines', () => {
  it('splits chunks into lines across chunk boundaries, CRLF, split UTF-8 characters and a last line without newline', async () => {
    const bytes = Buffer.from('a,b\r\né1,2\n\n3,4', 'utf8')
    // Cut inside the two-byte é and inside "\r\n".
    const chunks = [bytes.subarray(0, 4), bytes.subarray(4, 6), bytes.subarray(6)]
    expect(await collect(textLines(chunks))).toEqual([E.right('a,b'), E.right('é1,2'), E.right(''), E.right('3,4')])
  })

  it('drops an over-long line as it arrives and stands Left(length) in for it', async () => {
    const lines = await collect(textLines(['ok\nxxxx', 'xxxxxx', 'xx\nfine\n', 'yyyyyyyyyyyy'], 8))
    expect(lines).toEqual<LineItem[]>([E.right('ok'), E.left(12), E.right('fine'), E.left(12)])
  })
})

describe('records from lines', () => {
  it('decodes the dirty CSV fixture: reasons with line numbers, features inferred from the header', async () => {
    const rs = await recordsFromReadable(createReadStream(fixture('blobs.csv')), { label: 'species' })
    expect(rs.format).toBe('csv')
    expect(rs.features).toEqual(['f1', 'f2', 'f3', 'f4'])
    const s = summary(await collect(rs.records))
    expect(s.bad).toEqual([
      [11, 'non-numeric feature'],
      [21, 'wrong field count'],
      [31, 'invalid csv'],
      [41, 'missing field'],
      [51, 'non-finite feature'],
      [61, 'missing label'],
      [71, 'non-finite feature'],
    ])
    expect(s.ok.length).toBe(600)
    expect(s.ok[0]).toEqual([2, [Math.fround(-0.016), Math.fround(3.471), Math.fround(2.649), Math.fround(2.107)], 0])
    expect(rs.classes()).toEqual(['c', 'b', 'a']) // order of first appearance
  })

  it('decodes the dirty NDJSON fixture; __proto__ and constructor keys pollute nothing', async () => {
    const rs = await recordsFromReadable(createReadStream(fixture('blobs.ndjson'), { highWaterMark: 256 }), { label: 'species' })
    expect(rs.format).toBe('ndjson')
    expect(rs.features).toEqual(['f1', 'f2', 'f3', 'f4'])
    const s = summary(await collect(rs.records))
    expect(s.bad).toEqual([
      [5, 'invalid json'],
      [15, 'not an object'],
      [25, 'missing field'],
      [55, 'non-numeric feature'],
      [65, 'missing label'],
      [75, 'invalid label'], // a number where the labels are names
      [95, 'missing field'],
    ])
    expect(s.ok.length).toBe(602)
    expect(s.ok.find((r) => r[0] === 35)).toEqual([35, [0.1, 0.2, 0.1, 0].map(Math.fround), rs.classes().indexOf('a')])
    expect(s.ok.find((r) => r[0] === 45)).toEqual([45, [3.1, 2.9, 0.2, -0.1].map(Math.fround), rs.classes().indexOf('b')])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty('polluted')
    expect((Object.prototype.constructor as unknown as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('maps labels: names by first appearance, a fixed list, integer indices, and a class cap', async () => {
    const csv = ['x,y', '1,cat', '2,dog', '3,cat', '4,bird', '5,7']
    const names = summary(await collect((await recordsFromLines(csv, { label: 'y' })).records))
    expect(names.ok.map((r) => r[2])).toEqual([0, 1, 0, 2, 3]) // "7" after names is a name
    const fixed = await recordsFromLines(csv, { label: 'y', classes: ['dog', 'cat'] })
    expect(summary(await collect(fixed.records)).bad).toEqual([
      [5, 'unknown class'],
      [6, 'unknown class'],
    ])
    expect(fixed.classCount).toBe(2)
    const capped = await recordsFromLines(csv, { label: 'y', numClasses: 2 })
    expect(summary(await collect(capped.records)).bad).toEqual([
      [5, 'too many classes'],
      [6, 'too many classes'],
    ])
    // Digits in the first label: class indices; a name later is not aliased to an index.
    const ints = summary(await collect((await recordsFromLines(['x,y', '1,3', '2,0', '3,cat', '4,12'], { label: 'y', numClasses: 10 })).records))
    expect(ints.ok.map((r) => r[2])).toEqual([3, 0])
    expect(ints.bad).toEqual([
      [4, 'invalid label'],
      [5, 'too many classes'],
    ])
    const json = summary(await collect((await recordsFromLines(['{"x":1,"y":2}', '{"x":1,"y":"two"}', '{"x":1,"y":1.5}'], { label: 'y' })).records))
    expect(json.ok.map((r) => r[2])).toEqual([2])
    expect(json.bad).toEqual([
      [2, 'invalid label'],
      [3, 'invalid label'],
    ])
  })

  it('uses named feature columns in the given order and rejects records that lack them', async () => {
    const rs = await recordsFromLines(['{"b":2,"a":1,"id":"u1","y":"p"}', '{"a":3,"y":"q"}', '{"a":"4","b":"5","y":"p"}'], { label: 'y', features: ['a', 'b'] })
    const s = summary(await collect(rs.records))
    expect(s.ok).toEqual([
      [1, [1, 2], 0],
      [3, [4, 5], 0],
    ])
    expect(s.bad).toEqual([[2, 'missing field']])
  })

  it('infers features from the first usable record, skipping bad ones before it (they are still reported)', async () => {
    const rs = await recordsFromLines(['', 'not json', '{"x":1}', '{"x":1,"z":"id","w":2,"y":"a"}', '{"x":2,"w":3,"y":"b"}'], { label: 'y', format: 'ndjson' })
    expect(rs.features).toEqual(['x', 'w'])
    const s = summary(await collect(rs.records))
    expect(s.bad).toEqual([
      [2, 'invalid json'],
      [3, 'missing field'], // no "w" (features are checked before the label)
    ])
    expect(s.ok.map((r) => r[0])).toEqual([4, 5])
  })

  it('fails with a one-line error for a missing label column, a missing header or no usable record', async () => {
    await expect(recordsFromLines(['a,b', '1,2'], { label: 'y' })).rejects.toThrow('records: expected a label column named "y", got columns a, b')
    await expect(recordsFromLines([], { label: 'y', format: 'csv' })).rejects.toThrow('expected a CSV header row')
    await expect(recordsFromLines(['{"a":1}', '{"a":2}'], { label: 'y', lookahead: 2 })).rejects.toThrow(/label field "y" within 2 lines/)
    await expect(recordsFromLines(['y,name', 'a,bob'], { label: 'y' })).rejects.toThrow(/at least one numeric feature/)
    await expect(recordsFromLines(['a,y'], { label: '__proto__' })).rejects.toThrow(/ordinary column name/)
    await expect(recordsFromLines(['a,y'], { label: 'y', features: ['constructor'] })).rejects.toThrow(/ordinary column name/)
  })

  it('rejects an over-long line without keeping it, and goes on', async () => {
    const rs = await recordsFromReadable(Readable.from(['x,y\n1,a\n', `${'9'.repeat(5000)},b\n2,a\n`]), { label: 'y', maxLineLength: 1000 })
    const s = summary(await collect(rs.records))
    expect(s.bad).toEqual([[3, 'line too long']])
    expect(s.ok.map((r) => r[0])).toEqual([2, 4])
  })

  it('decodes arrays of objects, with own-property reads only', async () => {
    const objs: unknown[] = [JSON.parse('{"__proto__":{"polluted":1},"a":1,"b":2,"y":"u"}'), { a: 3, y: 'v' }, 'text', { a: 5, b: 6, y: 'u' }]
    const rs = await recordsFromObjects(objs, { label: 'y' })
    expect(rs.features).toEqual(['a', 'b'])
    const s = summary(await collect(rs.records))
    expect(s.ok).toEqual([
      [1, [1, 2], 0],
      [4, [5, 6], 0],
    ])
    expect(s.bad).toEqual([
      [2, 'missing field'],
      [3, 'not an object'],
    ])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('backpressure from a Node Readable', () => {
  it('pauses a producer that pushes as fast as it is asked: lines in flight stay under the buffer bound', async () => {
    const TOTAL = 5000
    const HWM = 1024 // bytes
    let produced = 0
    const line = (i: number): string => `${(i % 7) / 7},${(i % 5) / 5},${i % 3 === 0 ? 'a' : i % 3 === 1 ? 'b' : 'c'}\n`
    // Each read() pushes lines until the stream's buffer is full (push returns false):
    // the producer is as fast as the stream lets it be, far faster than learning.
    const readable = new Readable({
      highWaterMark: HWM,
      read() {
        if (produced === 0) this.push('x,z,label\n')
        for (;;) {
          if (produced === TOTAL) {
            this.push(null)
            return
          }
          if (!this.push(line(produced++))) return
        }
      },
    })
    const rs = await recordsFromReadable(readable, { label: 'label', features: ['x', 'z'], numClasses: 3 })
    const objective = supervised(sequential(dense(32), relu(), dense(3)), softmaxCrossEntropy(), [2]) as AnyObjective
    let maxInFlight = 0
    let flowing = false
    const events = await lastValueFrom(
      online(objective, sgd(0.05), rs.records, { snapshotEvery: 1 }).pipe(
        onlineSnapshots(),
        tap((e) => {
          maxInFlight = Math.max(maxInFlight, produced - e.metrics.seen)
          flowing ||= readable.readableFlowing === true
        }),
        toArray(),
      ),
    )
    expect(events[events.length - 1].metrics.learned).toBe(TOTAL)
    // In flight: the stream's buffer (HWM bytes) plus the chunk being split, each at
    // most HWM / shortest line (10 bytes) lines, and the record being learned.
    expect(maxInFlight).toBeGreaterThan(10) // the stream did buffer ahead...
    expect(maxInFlight).toBeLessThanOrEqual(2 * Math.ceil(HWM / 10) + 2) // ...but only that far
    expect(flowing).toBe(false)
  })
})
