// Data files written by an adversary (or a careless exporter): non-finite values anywhere,
// invalid UTF-8, byte-order marks, endless lines, deep nesting, many classes. Every bad
// record is one rejected record with its line number; nothing crashes, nothing is learned
// from a bad record, and no column silently disappears.

import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, describe, expect, it } from 'vitest'
import { key, uniform } from '../../src/core/rng.ts'
import { fileLines } from '../../src/io/file-lines.ts'
import { LineSplitter } from '../../src/io/lines.ts'
import type { LineItem } from '../../src/io/lines.ts'
import { nestedDeeper } from '../../src/io/records.ts'
import { loadTabular } from '../../src/io/tabular.ts'
import { dense } from '../../src/models/dense.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import { sequential } from '../../src/models/sequential.ts'
import { initialSnapshot } from '../../src/streams/train.ts'
import { sgd } from '../../src/models/optimizers.ts'
import { evaluate, MAX_CONFUSION_CLASSES } from '../../src/streams/evaluate.ts'
import { recordsFromReadable } from '../../src/streams/record-source.ts'

const tmp = mkdtempSync(join(tmpdir(), 'gs-hostile-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))
const file = (name: string, content: string | Uint8Array): string => {
  const p = join(tmp, name)
  writeFileSync(p, content)
  return p
}
/** n good rows "x,2x,label" with labels p/q alternating, from line `from` on. */
const goodRows = (n: number): string[] => Array.from({ length: n }, (_, i) => `${i},${2 * i},${i % 2 ? 'q' : 'p'}`)
const bad = (t: { rejected: readonly { line: number; reason: string }[] }) => t.rejected.map((r) => [r.line, r.reason])

describe('column types come from the whole file', () => {
  it.each([
    ['NaN', 'non-finite feature'],
    ['nan', 'non-finite feature'],
    ['Infinity', 'non-finite feature'],
    ['-inf', 'non-finite feature'],
    ['1e39', 'non-finite feature'], // beyond float32: Infinity once stored
    ['', 'missing field'],
  ])('a %j in the first row keeps its column and rejects that row (line 2)', (value, reason) => {
    const p = file(`first-${reason}.csv`, `a,b,y\n${value},0.5,p\n${goodRows(20).join('\n')}\n`)
    const t = loadTabular(p, { label: 'y', testFraction: 0, standardize: false })
    expect(t.features).toEqual(['a', 'b'])
    expect(bad(t)).toEqual([[2, reason]])
    expect(t.train.x.shape).toEqual([20, 2])
    expect(t.rows).toBe(21)
  })

  it('the same anywhere in the file, and in NDJSON; a stray word in a numeric column is a bad row, a text column is no feature', () => {
    const rows = goodRows(30).map((r, i) => (i === 12 ? `NaN,${r.split(',').slice(1).join(',')},tokyo` : i === 20 ? `abc,1,q,paris` : `${r},city${i}`))
    const t = loadTabular(file('mid.csv', `a,b,y,town\n${rows.join('\n')}\n`), { label: 'y', testFraction: 0, standardize: false })
    expect(t.features).toEqual(['a', 'b'])
    expect(bad(t)).toEqual([[14, 'non-finite feature'], [22, 'non-numeric feature']])
    const nd = [
      JSON.stringify({ a: 'NaN', b: 1, y: 'p', note: 'x' }),
      JSON.stringify({ a: null, b: 1, y: 'q', note: 'y' }),
      ...Array.from({ length: 10 }, (_, i) => JSON.stringify({ a: i, b: -i, y: i % 2 ? 'p' : 'q', note: `n${i}` })),
    ]
    const j = loadTabular(file('first.ndjson', `${nd.join('\n')}\n`), { label: 'y', testFraction: 0, standardize: false })
    expect(j.features).toEqual(['a', 'b'])
    expect(bad(j)).toEqual([[1, 'non-finite feature'], [2, 'missing field']])
  })

  it('a header but no rows, and rows that are all bad, are named as such', () => {
    expect(() => loadTabular(file('empty-rows.csv', 'a,b,y\n\n\n'), { label: 'y' })).toThrow(/empty-rows\.csv: the file has no data rows/)
    expect(() => loadTabular(file('all-bad.csv', 'a,b,y\nNaN,1,p\n2,inf,q\n'), { label: 'y' })).toThrow(
      /expected at least 2 usable rows in .*all-bad\.csv, got 0 of 2 \(2 rejected; the first, line 2: non-finite feature, column "a" is "NaN"\)/,
    )
  })

  it('an unknown label on a file with 100,000 columns: a short message listing a few', () => {
    const cols = Array.from({ length: 100_000 }, (_, i) => `column_${i}`)
    const p = file('wide.csv', `${cols.join(',')}\n${cols.map((_, i) => i).join(',')}\n`)
    let message = ''
    try {
      loadTabular(p, { label: 'nope' })
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toMatch(/expected a label column named "nope", got columns column_0, column_1, .*column_7, \.\.\. \(100,000 in all\)$/)
    expect(message.length).toBeLessThan(300)
  })
})

describe('text that is not valid UTF-8', () => {
  const bytes = (...parts: (string | number[])[]): Uint8Array =>
    Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))))

  it('a label with invalid bytes is a rejected row, never a class named with U+FFFD', async () => {
    const data = bytes('a,b,y\n', goodRows(6).join('\n'), '\n1,2,', [0xff, 0xfe], 'q\n3,4,', [0xc3], '\n5,6,\u00e9t\u00e9\n')
    const t = loadTabular(file('latin1.csv', data), { label: 'y', testFraction: 0, standardize: false })
    expect(bad(t)).toEqual([[8, 'invalid utf-8'], [9, 'invalid utf-8']])
    expect(t.classes).toEqual(['p', 'q', 'été'])
    expect(t.classes.some((c) => c.includes('\ufffd'))).toBe(false)
    // The online reader, fed the same bytes cut into 1-byte chunks.
    const chunks = Array.from(data, (b) => Uint8Array.of(b))
    const rs = await recordsFromReadable(Readable.from(chunks), { label: 'y' })
    const out: [number, string][] = []
    for await (const r of rs.records) if (E.isLeft(r)) out.push([r.left.line, r.left.reason])
    expect(out).toEqual([[8, 'invalid utf-8'], [9, 'invalid utf-8']])
    expect(rs.classes()).toEqual(['p', 'q', 'été'])
  })

  it('a byte-order mark does not become part of the first column name; split characters are joined', () => {
    const t = loadTabular(file('bom.csv', bytes([0xef, 0xbb, 0xbf], `a,b,y\n${goodRows(6).join('\n')}\n`)), { label: 'y' })
    expect(t.features).toEqual(['a', 'b'])
    const items: LineItem[] = []
    const s = new LineSplitter(100)
    const euro = Buffer.from('€1\n', 'utf8') // 3-byte character, fed a byte at a time
    for (const b of euro) s.push(Uint8Array.of(b), (l) => items.push(l))
    s.end((l) => items.push(l))
    expect(items).toEqual([E.right('€1')])
  })
})

describe('endless lines', () => {
  it('a line past the limit is rejected by its length in bytes and never held; the rows after it load', () => {
    const p = file('long.csv', `a,b,y\n${goodRows(3).join('\n')}\n${'9'.repeat(300_000)},1,p\n${goodRows(3).join('\n')}\n`)
    const t = loadTabular(p, { label: 'y', testFraction: 0, maxLineLength: 10_000 })
    expect(t.rejected).toEqual([{ line: 5, reason: 'line too long', detail: '300004 bytes, more than 10000' }])
    expect(t.train.x.shape[0]).toBe(6)
    // Read in 1 KB chunks, the splitter never holds more than the limit (plus one chunk).
    const lines = [...fileLines(p, 10_000, 1024)]
    expect(lines.map((l) => (E.isLeft(l) ? l.left : 'ok'))).toEqual(['ok', 'ok', 'ok', 'ok', 300_004, 'ok', 'ok', 'ok'])
  })

  it('a file that is one endless line (no newline): rejected as one record, a header error for CSV', () => {
    const p = file('one-line.ndjson', `{"a": 1, "y": "${'x'.repeat(200_000)}`)
    expect(() => loadTabular(p, { label: 'y', maxLineLength: 10_000 })).toThrow(/expected records with a label field "y", found none/)
    const c = file('one-line.csv', 'a,'.repeat(100_000))
    expect(() => loadTabular(c, { label: 'y', maxLineLength: 10_000 })).toThrow(/the header row is longer than 10000 bytes/)
  })
})

describe('deep nesting', () => {
  const deep = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`

  it('a field nested 5,000 (or 100,000) levels deep is one rejected record, in a file and in a stream', async () => {
    const lines = [
      JSON.stringify({ a: 1, b: 2, y: 'p' }),
      `{"a": 3, "b": 4, "y": "q", "junk": ${deep(5000)}}`,
      `{"a": ${deep(100_000)}, "b": 4, "y": "q"}`,
      `{"a": 5, "b": 6, "y": ${deep(5000)}}`,
      ...Array.from({ length: 6 }, (_, i) => JSON.stringify({ a: i, b: i + 1, y: i % 2 ? 'p' : 'q' })),
    ]
    const text = `${lines.join('\n')}\n`
    const t = loadTabular(file('deep.ndjson', text), { label: 'y', testFraction: 0, standardize: false })
    expect(bad(t)).toEqual([[2, 'too deeply nested'], [3, 'too deeply nested'], [4, 'too deeply nested']])
    expect(t.train.x.shape).toEqual([7, 2])
    const rs = await recordsFromReadable(Readable.from([text]), { label: 'y' })
    const out: [number, string][] = []
    for await (const r of rs.records) if (E.isLeft(r)) out.push([r.left.line, r.left.reason])
    expect(out).toEqual([[2, 'too deeply nested'], [3, 'too deeply nested'], [4, 'too deeply nested']])
    expect(nestedDeeper({ a: [[[1]]] }, 3)).toBe(true)
    expect(nestedDeeper({ a: [[1]] }, 3)).toBe(false)
  })
})

describe('many classes', () => {
  const model = (C: number, F: number): { objective: AnyObjective; params: Parameters<typeof evaluate>[1] } => {
    const objective = supervised(sequential(dense(C)), softmaxCrossEntropy(), [F]) as AnyObjective
    const s = initialSnapshot(objective, sgd(0.1), key(3))
    if (s._tag === 'Left') throw s.left
    return { objective, params: s.right.params }
  }

  it(`above ${MAX_CONFUSION_CLASSES} classes: exact accuracy, no confusion matrix, and the reason; below: a matrix that agrees`, () => {
    for (const C of [50, 10_000]) {
      const F = 3
      const N = 1200
      const { objective, params } = model(C, F)
      const x = uniform(key(C), N * F, 'float32', -1, 1) as Float32Array
      // Labels: the model's own prediction for every third row, so accuracy is not ~0.
      const logits = objective.predict(params, { shape: [N, F], data: x })
      const labels = new Int32Array(N)
      let hits = 0
      for (let i = 0; i < N; i++) {
        let best = 0
        for (let c = 1; c < C; c++) if (logits.data[i * C + c] > logits.data[i * C + best]) best = c
        labels[i] = i % 3 === 0 ? best : (i * 7919) % C
        if (labels[i] === best) hits++
      }
      const ev = evaluate(objective, params, { x: { shape: [N, F], data: x }, labels, classes: C }, 128)
      expect(ev.accuracy).toBe(hits / N)
      if (C > MAX_CONFUSION_CLASSES) {
        expect(ev.confusion).toBeUndefined()
        expect(ev.confusionSkipped).toMatch(/10000 classes: no confusion matrix above 1000/)
      } else {
        expect(ev.confusion!.counts.reduce((a, b) => a + b, 0)).toBe(N)
        let diag = 0
        for (let c = 0; c < C; c++) diag += ev.confusion!.counts[c * C + c]
        expect(diag).toBe(hits)
      }
    }
  })
})
