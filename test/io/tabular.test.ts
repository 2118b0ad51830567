import * as E from 'fp-ts/lib/Either.js'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseCsvLine } from '../../src/io/csv.ts'
import { loadTabular } from '../../src/io/tabular.ts'

const fixture = (name: string) => join(import.meta.dirname, '..', 'fixtures', name)

describe('csv lines', () => {
  it('splits fields, honours quotes and doubled quotes, and rejects broken quoting', () => {
    expect(parseCsvLine('a,b,,c')).toEqual(E.right(['a', 'b', '', 'c']))
    expect(parseCsvLine('"x, y","say ""hi""",3\r')).toEqual(E.right(['x, y', 'say "hi"', '3']))
    expect(parseCsvLine('a,')).toEqual(E.right(['a', '']))
    expect(E.isLeft(parseCsvLine('"open,1'))).toBe(true)
    expect(E.isLeft(parseCsvLine('a"b,1'))).toBe(true)
    expect(E.isLeft(parseCsvLine('"a"b,1'))).toBe(true)
  })
})

describe('tabular data', () => {
  it('loads a CSV: reports bad rows by line and reason, splits 80/20 with a seed, standardises', () => {
    const t = loadTabular(fixture('flowers.csv'), { label: 'species', seed: 1 })
    expect(t.features).toEqual(['a', 'b', 'c'])
    expect(t.classes).toEqual(['setosa', 'versicolor', 'virginica'])
    expect(t.rejected.map((r) => [r.line, r.reason])).toEqual([
      [10, 'non-numeric feature'],
      [20, 'wrong field count'],
      [30, 'invalid csv'],
      [40, 'non-finite feature'], // "inf", as numpy writes it
      [50, 'missing label'],
    ])
    expect(t.train.x.shape).toEqual([120, 3])
    expect(t.test.x.shape).toEqual([30, 3])
    // Standardised with the train split's statistics: train mean 0, variance 1.
    for (let f = 0; f < 3; f++) {
      let s = 0, s2 = 0
      for (let i = 0; i < 120; i++) {
        const v = t.train.x.data[i * 3 + f]
        s += v
        s2 += v * v
      }
      expect(Math.abs(s / 120)).toBeLessThan(1e-5)
      expect(s2 / 120).toBeCloseTo(1, 4)
    }
    // Another seed, another split; the same seed, the same split.
    expect(loadTabular(fixture('flowers.csv'), { label: 'species', seed: 1 }).test.labels).toEqual(t.test.labels)
    expect(loadTabular(fixture('flowers.csv'), { label: 'species', seed: 2 }).test.labels).not.toEqual(t.test.labels)
  })

  it('loads NDJSON, rejects bad lines, and a __proto__ key pollutes nothing', () => {
    const t = loadTabular(fixture('flowers.ndjson'), { label: 'species', standardize: false, testFraction: 0 })
    expect(t.rejected.map((r) => [r.line, r.reason])).toEqual([
      [8, 'invalid json'],
      [10, 'missing field'],
    ])
    expect(t.train.x.shape).toEqual([61, 3])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty('polluted')
  })

  it('rejects labels outside a fixed class list', () => {
    const t = loadTabular(fixture('flowers.csv'), { label: 'species', classes: ['setosa', 'virginica'] })
    expect(t.rejected.filter((r) => r.reason === 'unknown class').length).toBe(50)
  })

  it('names a missing label column and a missing file', () => {
    expect(() => loadTabular(fixture('flowers.csv'), { label: 'kind' })).toThrow(
      `tabular: ${fixture('flowers.csv')}: expected a label column named "kind", got columns a, b, c, species`,
    )
    expect(() => loadTabular(fixture('nope.csv'), { label: 'x' })).toThrow(/could not read .*nope.csv: no such file or directory \(ENOENT\)/)
    expect(() => loadTabular(fixture('flowers.csv'), { label: '__proto__' })).toThrow(/ordinary column name/)
  })
})
