// Feature scaling fitted on training rows: known results, exact JSON round trip, checks.

import { describe, expect, it } from 'vitest'
import { applyScaling, fitScaling, scalingFromJson } from '../../src/io/standardize.ts'

// Three rows of two features: column 0 = 1, 2, 6; column 1 = 5, 5, 5 (constant).
const x = { shape: [3, 2], data: Float32Array.from([1, 5, 2, 5, 6, 5]) }

describe('feature scaling', () => {
  it("'standard': mean and population standard deviation; a constant feature keeps scale 1", () => {
    const s = fitScaling(x, 'standard')
    expect(s.offset[0]).toBeCloseTo(3, 14)
    expect(s.scale[0]).toBeCloseTo(Math.sqrt((4 + 1 + 9) / 3), 14)
    expect(s.offset[1]).toBeCloseTo(5, 14)
    expect(s.scale[1]).toBe(1)
    const y = applyScaling(x, s)
    expect(Array.from(y.data)).toEqual(Array.from([1, 5, 2, 5, 6, 5], (v, i) => Math.fround((v - s.offset[i % 2]) / s.scale[i % 2])))
    expect(x.data[0]).toBe(1) // the input is not touched
  })

  it("'minmax' per feature and 'range' over all features map the training rows into [0, 1]", () => {
    const m = fitScaling(x, 'minmax')
    expect(m.offset).toEqual([1, 5])
    expect(m.scale).toEqual([5, 1])
    const r = fitScaling(x, 'range')
    expect(r.offset).toEqual([1, 1])
    expect(r.scale).toEqual([5, 5])
    expect(Array.from(applyScaling(x, r).data)).toEqual([0, 0.8, 0.2, 0.8, 1, 0.8].map(Math.fround))
  })

  it('survives JSON exactly and rejects malformed or mismatched scalings', () => {
    const s = fitScaling({ shape: [3, 1], data: Float32Array.from([0.1, 0.7, 0.3]) }, 'standard')
    expect(scalingFromJson(JSON.parse(JSON.stringify(s)), 'x')).toEqual(s)
    expect(() => scalingFromJson({ kind: 'zscore', offset: [0], scale: [1] }, 'config')).toThrow(/config: expected "kind" to be one of standard, minmax, range/)
    expect(() => scalingFromJson({ kind: 'standard', offset: [0], scale: [0] }, 'config')).toThrow(/"scale" to be a non-empty array of finite numbers > 0/)
    expect(() => scalingFromJson({ kind: 'standard', offset: [0, 1], scale: [1] }, 'config')).toThrow(/"offset" and "scale" of the same length/)
    expect(() => applyScaling({ shape: [1, 3], data: new Float32Array(3) }, s)).toThrow(/expected rows of 1 features \(as fitted\), got 3/)
  })
})
