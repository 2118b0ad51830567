import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { decodeSafetensors, encodeSafetensors, parseJsonStrict, SafetensorsError } from '../../src/io/safetensors.ts'
import { loadSafetensors, readSafetensorsHeader, saveSafetensors } from '../../src/io/safetensors-file.ts'

const dir = mkdtempSync(join(tmpdir(), 'gs-safetensors-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A file from a header text and a data buffer, with the length field given or correct. */
const craft = (header: string | Uint8Array, data: Uint8Array = new Uint8Array(0), length?: bigint): Uint8Array => {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header
  const out = new Uint8Array(8 + h.length + data.length)
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(h.length), true)
  out.set(h, 8)
  out.set(data, 8 + h.length)
  return out
}

const t = (dtype: string, shape: unknown, offsets: unknown): string => JSON.stringify({ dtype, shape, data_offsets: offsets })

describe('safetensors encode/decode', () => {
  it('round-trips every array dtype, with metadata, bit for bit', () => {
    const tensors = [
      { name: 'w', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, NaN, Infinity, -0]) },
      { name: 'd', shape: [2], data: Float64Array.from([Math.PI, -1e-300]) },
      { name: 'i', shape: [3], data: Int32Array.from([-1, 0, 2 ** 31 - 1]) },
      { name: 'b', shape: [2, 2], data: Uint8Array.from([0, 1, 254, 255]) },
      { name: 'h', shape: [1], data: Uint16Array.from([0x3c00]), dtype: 'F16' as const },
      { name: 'l', shape: [2], data: BigInt64Array.from([-5n, 2n ** 62n]) },
      { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
      { name: '0', shape: [], data: Float32Array.from([7]) }, // an integer-like name: JS objects would list it first
    ]
    const bytes = encodeSafetensors(tensors, { note: 'hé "quoted"', step: '12' })
    const f = decodeSafetensors(bytes)
    expect(f.tensors.map((x) => x.name)).toEqual(tensors.map((x) => x.name))
    expect(f.tensors.map((x) => x.dtype)).toEqual(['F32', 'F64', 'I32', 'U8', 'F16', 'I64', 'F32', 'F32'])
    f.tensors.forEach((x, i) => {
      expect(x.shape).toEqual(tensors[i].shape)
      expect(new Uint8Array(x.data.buffer)).toEqual(new Uint8Array(tensors[i].data.buffer, tensors[i].data.byteOffset, tensors[i].data.byteLength))
    })
    expect({ ...f.metadata }).toEqual({ note: 'hé "quoted"', step: '12' })
    expect((8 + f.headerBytes) % 8).toBe(0)
  })

  it('writes the format byte for byte: LE length, JSON header padded with spaces, packed data', () => {
    const bytes = encodeSafetensors(
      [
        { name: 'a', shape: [2], data: Float32Array.from([1, 2]) },
        { name: 'b', shape: [1], data: Int32Array.from([7]) },
      ],
      { k: 'v' },
    )
    const json =
      '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}}'
    const padded = json + ' '.repeat((8 - (json.length % 8)) % 8)
    const expected = [
      ...[padded.length, 0, 0, 0, 0, 0, 0, 0],
      ...new TextEncoder().encode(padded),
      ...[0x00, 0x00, 0x80, 0x3f], // 1.0f little-endian
      ...[0x00, 0x00, 0x00, 0x40], // 2.0f
      ...[0x07, 0x00, 0x00, 0x00], // int32 7
    ]
    expect(padded.length).toBeLessThan(256)
    expect(Array.from(bytes)).toEqual(expected)
  })

  it('saves atomically and loads from disk; reads a header without the data', () => {
    const path = join(dir, 'w.safetensors')
    const n = saveSafetensors(path, [{ name: 'x', shape: [3], data: Float32Array.from([1, 2, 3]) }], { a: 'b' })
    expect(readFileSync(path).length).toBe(n)
    expect(Array.from(loadSafetensors(path).tensors[0].data as Float32Array)).toEqual([1, 2, 3])
    const h = readSafetensorsHeader(path)
    expect(h.tensors[0]).toEqual({ name: 'x', dtype: 'F32', shape: [3], offsets: [0, 12] })
    expect(h.dataBytes).toBe(12)
  })

  it('is read by an independent reader: Python (safetensors or torch if installed, else numpy; skipped without either)', () => {
    const path = join(dir, 'py.safetensors')
    const w = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i) * 10)
    const d = Float64Array.from([Math.E, -1 / 3])
    const k = Int32Array.from([3, -4, 5, 6])
    saveSafetensors(
      path,
      [
        { name: 'layer.W', shape: [3, 4], data: w },
        { name: 'd', shape: [2], data: d },
        { name: 'k', shape: [2, 2], data: k },
      ],
      { step: '42' },
    )
    const script = `
import json, struct, sys
path = sys.argv[1]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header.pop("__metadata__", {})
try:
    import torch
    try:
        from safetensors import safe_open
        out = {}
        with safe_open(path, framework="pt") as f:
            meta = f.metadata()
            for name in f.keys():
                out[name] = f.get_tensor(name).flatten().tolist()
        reader = "safetensors"
    except ImportError:
        types = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32}
        out = {}
        for name, info in header.items():
            b, e = info["data_offsets"]
            t = torch.frombuffer(bytearray(raw[8 + n + b: 8 + n + e]), dtype=types[info["dtype"]]).reshape(info["shape"])
            out[name] = t.flatten().tolist()
        reader = "torch"
except ImportError:
    import numpy as np
    types = {"F32": "<f4", "F64": "<f8", "I32": "<i4"}
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + b: 8 + n + e], dtype=types[info["dtype"]]).reshape(info["shape"]).flatten().tolist()
    reader = "numpy"
print(json.dumps({"reader": reader, "meta": meta, "tensors": out}))
`
    const has = (module: string): boolean => {
      try {
        execFileSync('python3', ['-c', `import ${module}`], { stdio: 'ignore' })
        return true
      } catch {
        return false
      }
    }
    if (!has('torch') && !has('numpy')) {
      console.warn('python3 with torch or numpy not available: skipping the Python read')
      return
    }
    const stdout = execFileSync('python3', ['-c', script, path], { encoding: 'utf8' })
    const r = JSON.parse(stdout) as { reader: string; meta: Record<string, string>; tensors: Record<string, number[]> }
    console.log(`read back in Python with ${r.reader}`)
    expect(['safetensors', 'torch', 'numpy']).toContain(r.reader)
    expect(r.meta).toEqual({ step: '42' })
    // float32 -> Python float is exact, so compare the float32 values themselves.
    expect(r.tensors['layer.W']).toEqual(Array.from(w))
    expect(r.tensors.d).toEqual(Array.from(d))
    expect(r.tensors.k).toEqual([3, -4, 5, 6])
  })

  it('refuses to write what it could not read back', () => {
    const x = Float32Array.from([1, 2])
    expect(() => encodeSafetensors([{ name: 'a', shape: [3], data: x }])).toThrow(/shape \[3\] has 3 elements, data has 2/)
    expect(() => encodeSafetensors([{ name: 'a', shape: [2], data: x }, { name: 'a', shape: [2], data: x }])).toThrow(/duplicate tensor name "a"/)
    expect(() => encodeSafetensors([{ name: '__metadata__', shape: [2], data: x }])).toThrow(/not allowed/)
    expect(() => encodeSafetensors([{ name: 'a', shape: [2], data: x, dtype: 'F64' }])).toThrow(/F64 needs a Float64Array, got a Float32Array/)
    expect(() => encodeSafetensors([], { __proto__: 'x' } as unknown as Record<string, string>)).not.toThrow() // an object literal's __proto__ sets its prototype: no key
    expect(() => encodeSafetensors([], JSON.parse('{"__proto__":"x"}') as Record<string, string>)).toThrow(/not allowed/)
  })
})

describe('strict JSON', () => {
  it('parses JSON exactly, without prototypes, and refuses duplicates and prototype keys', () => {
    const v = parseJsonStrict('{"a":[1,-2.5e3,true,null,"x\\u00e9\\n"],"b":{"c":{}}}') as Record<string, unknown>
    expect(JSON.stringify(v)).toBe('{"a":[1,-2500,true,null,"xé\\n"],"b":{"c":{}}}')
    expect(Object.getPrototypeOf(v)).toBe(null)
    expect(() => parseJsonStrict('{"a":1,"a":2}')).toThrow(/duplicate key "a"/)
    expect(() => parseJsonStrict('{"__proto__":{"polluted":1}}')).toThrow(/forbidden key "__proto__"/)
    expect(() => parseJsonStrict('{"x":{"constructor":{"prototype":1}}}')).toThrow(/forbidden key "constructor"/)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    for (const bad of ['', '{', '{"a"}', '[1,]', '01', '1.', '.5', 'NaN', "{'a':1}", '"\t"', '"\\x"', '{} {}', 'tru'])
      expect(() => parseJsonStrict(bad), bad).toThrow(/at offset \d+/)
  })
})

// ---------------------------------------------------------------------------------------
// Hostile files: every one must be refused with a SafetensorsError that names the file
// and the problem, quickly, without a crash or a large allocation.

const F32_8 = new Uint8Array(8)

const HOSTILE: ReadonlyArray<readonly [string, Uint8Array, RegExp]> = [
  ['empty file', new Uint8Array(0), /truncated: 0 bytes/],
  ['7 bytes', new Uint8Array(7), /truncated: 7 bytes/],
  ['header length 2^64-1', craft('{}', F32_8, 2n ** 64n - 1n), /header length 18446744073709551615 exceeds the 100000000-byte limit/],
  ['header length 100 MB + 1', craft('{}', F32_8, 100_000_001n), /exceeds the 100000000-byte limit/],
  ['header length past the end of the file', craft('{}', F32_8, 5000n), /truncated: header length 5000 needs 5008 bytes, but the file has 18/],
  ['header length 0', craft('', F32_8, 0n), /header length 0 is too small/],
  ['header length 1', craft('{', F32_8), /header length 1 is too small/],
  ['header not starting with {', craft('  {}'), /header must start with '\{'/],
  ['header is an array', craft('[]'), /header must start with '\{'/],
  ['header with a byte-order mark', craft(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])), /header must start with '\{'/],
  ['header is not UTF-8', craft(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), /header is not valid UTF-8/],
  ['header JSON cut short', craft('{"a":'), /header is not valid JSON: unexpected end of JSON/],
  ['text after the JSON', craft('{} x'), /header is not valid JSON: unexpected text after the JSON value/],
  ['NaN in the header', craft(`{"a":{"dtype":"F32","shape":[NaN],"data_offsets":[0,0]}}`), /not valid JSON/],
  ['control character in a name', craft('{"a\u0001":{}}'), /control character in a string/],
  ['bad escape', craft('{"\\q":{}}'), /bad escape/],
  ['duplicate tensor name', craft(`{"a":${t('F32', [1], [0, 4])},"a":${t('F32', [1], [4, 8])}}`, F32_8), /duplicate key "a"/],
  ['duplicate metadata key', craft('{"__metadata__":{"k":"1","k":"2"}}'), /duplicate key "k"/],
  ['__proto__ tensor', craft(`{"__proto__":${t('F32', [2], [0, 8])}}`, F32_8), /forbidden key "__proto__"/],
  ['constructor in metadata', craft('{"__metadata__":{"constructor":"x"}}'), /forbidden key "constructor"/],
  ['__proto__ inside a tensor entry', craft(`{"a":{"__proto__":{"dtype":"F32"},"shape":[],"data_offsets":[0,4]}}`, new Uint8Array(4)), /forbidden key "__proto__"/],
  ['nesting 100,000 deep', craft(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), /nesting deeper than 64/],
  ['metadata is not an object', craft('{"__metadata__":["a"]}'), /__metadata__ must be an object of strings/],
  ['metadata value is a number', craft('{"__metadata__":{"step":12}}'), /__metadata__ "step" must be a string, got 12/],
  ['tensor entry is not an object', craft('{"a":[1,2]}'), /tensor "a": expected \{dtype, shape, data_offsets\}/],
  ['unknown dtype', craft(`{"a":${t('F128', [1], [0, 16])}}`, new Uint8Array(16)), /tensor "a": unknown dtype "F128"/],
  ['lower-case dtype', craft(`{"a":${t('f32', [2], [0, 8])}}`, F32_8), /unknown dtype "f32"/],
  ['missing dtype', craft('{"a":{"shape":[2],"data_offsets":[0,8]}}', F32_8), /unknown dtype undefined/],
  ['unknown field', craft('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}', F32_8), /tensor "a": unknown field "extra"/],
  ['negative dimension', craft(`{"a":${t('F32', [-2], [0, 8])}}`, F32_8), /shape must be an array of non-negative integers, got \[-2\]/],
  ['fractional dimension', craft(`{"a":${t('F32', [1.5], [0, 6])}}`, new Uint8Array(6)), /shape must be an array of non-negative integers/],
  ['shape is a string', craft(`{"a":${t('F32', '2', [0, 8])}}`, F32_8), /shape must be an array/],
  ['shape overflowing 2^64 elements', craft(`{"a":${t('F32', [2 ** 40, 2 ** 40, 2 ** 40], [0, 8])}}`, F32_8), /needs more bytes than the 8-byte data buffer holds/],
  ['shape of 10^15 elements', craft(`{"a":${t('F64', [1e15], [0, 8])}}`, F32_8), /needs more bytes than the 8-byte data buffer holds/],
  ['data_offsets with one entry', craft(`{"a":${t('F32', [2], [8])}}`, F32_8), /data_offsets must be \[begin, end\]/],
  ['negative offset', craft(`{"a":${t('F32', [2], [-8, 0])}}`, F32_8), /data_offsets must be \[begin, end\] non-negative integers/],
  ['offset beyond 2^53', craft(`{"a":${t('F32', [2], [0, 1e20])}}`, F32_8), /data_offsets must be \[begin, end\] non-negative integers/],
  ['offsets reversed', craft(`{"a":${t('F32', [2], [8, 0])}}`, F32_8), /data_offsets \[8, 0\] end before they begin/],
  ['offsets past the data', craft(`{"a":${t('F32', [4], [0, 16])}}`, F32_8), /data_offsets \[0, 16\] run past the 8-byte data buffer/],
  ['offsets not matching dtype x shape', craft(`{"a":${t('F32', [3], [0, 8])},"b":${t('U8', [8], [8, 16])}}`, new Uint8Array(16)), /span 8 bytes, but F32 x \[3\] needs 12/],
  ['overlapping tensors', craft(`{"a":${t('F32', [2], [0, 8])},"b":${t('F32', [1], [4, 8])}}`, F32_8), /tensor "b": data_offsets \[4, 8\] overlap the previous tensor/],
  ['a gap between tensors', craft(`{"a":${t('F32', [1], [0, 4])},"b":${t('U8', [2], [6, 8])}}`, F32_8), /tensor "b": data_offsets \[6, 8\] leave a gap after byte 4/],
  ['data not starting at 0', craft(`{"a":${t('F32', [1], [4, 8])}}`, F32_8), /leave a gap after byte 0/],
  ['bytes after the last tensor', craft(`{"a":${t('F32', [1], [0, 4])}}`, F32_8), /the tensors cover 4 bytes of data, but the file holds 8 after the header/],
  ['data cut short', craft(`{"a":${t('F32', [4], [0, 16])}}`, F32_8), /run past the 8-byte data buffer/],
]

describe('the loader refuses hostile files cleanly', () => {
  it(`${HOSTILE.length} hand-crafted files: each a SafetensorsError naming the file and the problem`, () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(40)
    for (const [what, bytes, problem] of HOSTILE) {
      const path = join(dir, `hostile-${what.replace(/\W+/g, '-')}.safetensors`)
      writeFileSync(path, bytes)
      for (const load of [() => decodeSafetensors(bytes, path), () => loadSafetensors(path)]) {
        const t0 = performance.now()
        let err: unknown
        try {
          load()
        } catch (e) {
          err = e
        }
        expect(err, what).toBeInstanceOf(SafetensorsError)
        const msg = (err as Error).message
        expect(msg, what).toMatch(problem)
        expect(msg.startsWith(`${path}: `), what).toBe(true)
        expect(msg.includes('\n'), what).toBe(false)
        expect(performance.now() - t0, what).toBeLessThan(1000)
      }
    }
  })

  it('refuses a file that is not there, a folder, and reads no data past a lying header', () => {
    expect(() => loadSafetensors(join(dir, 'missing.safetensors'))).toThrow(/missing.safetensors: cannot open: ENOENT/)
    const sub = join(dir, 'folder.safetensors')
    mkdirSync(sub, { recursive: true })
    expect(() => loadSafetensors(sub)).toThrow(/folder.safetensors: (not a regular file|cannot read: EISDIR)/)
    // A header that claims 99 MB in a 100-byte file is refused before anything is allocated.
    const liar = join(dir, 'liar.safetensors')
    writeFileSync(liar, craft('{}', new Uint8Array(90), 99_000_000n))
    const before = process.memoryUsage().arrayBuffers
    expect(() => loadSafetensors(liar)).toThrow(/truncated: header length 99000000 needs 99000008 bytes, but the file has 100/)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(10_000_000)
  })

  it('every truncation of a valid file is refused', () => {
    const good = encodeSafetensors(
      [
        { name: 'a', shape: [4, 4], data: Float32Array.from({ length: 16 }, (_, i) => i) },
        { name: 'b', shape: [3], data: Float64Array.from([1, 2, 3]) },
      ],
      { k: 'v' },
    )
    let refused = 0
    for (let n = 0; n < good.length; n++) {
      expect(() => decodeSafetensors(good.subarray(0, n), 'cut.safetensors'), `cut at ${n}`).toThrow(SafetensorsError)
      refused++
    }
    expect(refused).toBe(good.length)
    expect(() => decodeSafetensors(good)).not.toThrow()
  })

  it('bit flips in the length and the header: refused cleanly, or read as a still-valid file', () => {
    const good = encodeSafetensors([{ name: 'weights', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }], { step: '7' })
    const headerEnd = 8 + Number(new DataView(good.buffer).getBigUint64(0, true))
    let refused = 0
    let accepted = 0
    for (let bit = 0; bit < headerEnd * 8; bit++) {
      const bad = good.slice()
      bad[bit >> 3] ^= 1 << (bit & 7)
      try {
        const f = decodeSafetensors(bad, 'flipped.safetensors')
        // Accepted only if the file still follows the format: same data, consistent header.
        expect(f.dataBytes).toBe(24)
        accepted++
      } catch (e) {
        expect(e, `bit ${bit}`).toBeInstanceOf(SafetensorsError)
        expect((e as Error).message).toMatch(/^flipped\.safetensors: /)
        refused++
      }
    }
    expect(refused + accepted).toBe(headerEnd * 8)
    // Every flip of the length field is caught; most header flips break the JSON.
    expect(refused).toBeGreaterThan(headerEnd * 8 * 0.7)
    console.log(`bit flips in the first ${headerEnd} bytes: ${refused} refused, ${accepted} still valid (metadata/name characters)`)
  })
})
