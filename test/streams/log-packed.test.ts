// The packed entry encoding (streams/log-source.ts): one field `f32` holding the feature
// vector as base64 of little-endian float32, beside the label field. The decoded floats
// are the producer's exact bits; every malformed field is a rejection with its reason.

import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { key, normal } from '../../src/core/rng.ts'
import { LabelMap } from '../../src/io/records.ts'
import { decodeEntry } from '../../src/streams/log-online.ts'
import { decodeF32, encodeF32, packedAt } from '../../src/streams/log-source.ts'
import { packedEntry } from '../../src/streams/redis-sink.ts'

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `p${i}`)

/** The little-endian bytes of float32 values, written byte by byte with a DataView (an independent path). */
const leBytes = (values: Float32Array): number[] => {
  const view = new DataView(new ArrayBuffer(4 * values.length))
  values.forEach((v, i) => view.setFloat32(4 * i, v, true))
  return [...new Uint8Array(view.buffer)]
}

describe('the f32 field', () => {
  it('is base64 of the little-endian float32 bytes, and decodes to the same bits', () => {
    const x = Float32Array.from(normal(key(3), 784, 'float64', 0, 1e3))
    x[0] = -0
    x[1] = 1.401298464324817e-45 // the smallest subnormal
    x[2] = 3.4028234663852886e38 // float32's largest
    const text = encodeF32(x)
    expect(text).toHaveLength(4184)
    expect([...Uint8Array.from(atob(text), (c) => c.charCodeAt(0))]).toEqual(leBytes(x))
    const back = decodeF32(text, names(784))
    expect(E.isRight(back)).toBe(true)
    if (E.isRight(back)) expect(new Uint32Array(back.right.buffer)).toEqual(new Uint32Array(x.buffer))
    // a known vector: 1.0f is 00 00 80 3f
    expect(encodeF32([1, -2])).toBe(btoa(String.fromCharCode(0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0)))
  })

  it('rejects a wrong length, bad base64 and non-finite values, naming which', () => {
    const f = names(5)
    const ok = encodeF32([1, 2, 3, 4, 5])
    const why = (text: string): [string, string] => {
      const r = decodeF32(text, f)
      return E.isLeft(r) ? [r.left.reason, r.left.detail] : ['accepted', '']
    }
    expect(why(encodeF32([1, 2, 3, 4]))).toEqual(['wrong field count', 'the f32 field holds 4 float32 values, expected 5'])
    expect(why(encodeF32([1, 2, 3, 4, 5, 6]))[0]).toBe('wrong field count')
    expect(why(ok.slice(0, -4))[0]).toBe('invalid f32') // 18 bytes: not whole floats
    expect(why(`${ok}A`)[0]).toBe('invalid f32')
    expect(why(ok.replace(/=$/, '')) [0]).toBe('invalid f32') // unpadded
    for (const c of ['!', ' ', '=', '\n', '*']) expect(why(`${ok.slice(0, 9)}${c}${ok.slice(10)}`)[0]).toBe('invalid f32')
    expect(why(encodeF32([1, 2, NaN, 4, 5]))).toEqual(['non-finite feature', 'feature "p2" (f32 value 2) is NaN'])
    expect(why(encodeF32([1, 2, 3, 4, -Infinity]))).toEqual(['non-finite feature', 'feature "p4" (f32 value 4) is -Infinity'])
    expect(why('')[0]).toBe('wrong field count')
  })
})

describe('a packed log entry', () => {
  const schema = { features: names(3), label: 'y' }
  const entry = (fields: string[]) => ({ id: '1-0', fields })

  it('is an example: its features from f32, its label from its own field, any field order', () => {
    const labels = new LabelMap(['a', 'b', 'c'])
    const r = decodeEntry(entry(['y', 'c', 'f32', encodeF32([0.5, -1, 2]), 'extra', 'ignored']), schema, labels, 7)
    expect(r).toEqual(E.right({ line: 7, features: Float32Array.from([0.5, -1, 2]), label: 2 }))
    expect(packedAt(['a', '1', 'f32', 'x'])).toBe(3)
    expect(packedAt(['json', '{}'])).toBe(-1)
    expect(packedAt(['f32', 'x', 'odd'])).toBe(-1)
  })

  it('is rejected with the reason for a bad label or a bad f32 field', () => {
    const labels = new LabelMap(['a', 'b', 'c'])
    const reason = (fields: string[]) => {
      const r = decodeEntry(entry(fields), schema, labels, 1)
      return E.isLeft(r) ? r.left.reason : 'accepted'
    }
    const f = encodeF32([1, 2, 3])
    expect(reason(['f32', f])).toBe('missing label')
    expect(reason(['f32', f, 'y', 'zebra'])).toBe('unknown class')
    expect(reason(['f32', f.slice(1), 'y', 'a'])).toBe('invalid f32')
    expect(reason(['f32', encodeF32([1, 2, Infinity]), 'y', 'a'])).toBe('non-finite feature')
    expect(reason(['f32', f, 'y', 'a'])).toBe('accepted')
  })

  it('is what the producer writes from a record, which it refuses to pack without its fields', () => {
    const rec: Record<string, unknown> = { p0: 1.5, p1: '2', p2: -3, y: 'b', other: 'x' }
    const got = packedEntry((k) => rec[k], schema)
    expect(got).toEqual(['f32', encodeF32([1.5, 2, -3]), 'y', 'b'])
    expect(packedEntry((k) => ({ ...rec, p1: 'x' })[k], schema)).toBe('non-numeric feature: field "p1" is "x"')
    expect(packedEntry((k) => ({ ...rec, p2: undefined })[k], schema)).toBe('missing field: field "p2" is undefined')
    expect(packedEntry((k) => ({ ...rec, p0: 1e300 })[k], schema)).toBe('non-finite feature: field "p0" is 1e+300')
    expect(packedEntry((k) => ({ ...rec, y: undefined })[k], schema)).toBe('no label field "y"')
    expect(packedEntry((k) => ({ ...rec, y: 3 })[k], schema)).toEqual(['f32', encodeF32([1.5, 2, -3]), 'y', '3'])
  })
})
