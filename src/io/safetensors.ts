// safetensors: the checkpoint format (DESIGN.md, "Checkpoints and interop").
//
//   [8 bytes]  N, the header length, unsigned 64-bit little-endian
//   [N bytes]  a UTF-8 JSON object: per tensor {"dtype", "shape", "data_offsets": [begin, end]},
//              plus an optional "__metadata__" object of string values only; it starts
//              with '{' and may be padded with spaces (we pad to a multiple of 8 so the
//              data starts 8-byte aligned, as the reference writer does)
//   [rest]     the byte buffer: every tensor's little-endian, row-major data; offsets are
//              relative to its start, and the tensors tile it exactly (no gaps, no
//              overlap, nothing after the last one)
//
// (huggingface/safetensors, README "Format" and Metadata::validate in tensor.rs.)
//
// The loader treats every file as untrusted and checks everything before it reads a
// byte of data: the header length (at most 100 MB, and within the file), the JSON (a
// strict reader of its own: duplicate keys, which JSON.parse silently keeps the last of,
// are an error; objects have no prototype and keys like "__proto__" are refused, so
// nothing read from a file can reach Object.prototype; nesting is bounded), every
// dtype (known ones only), every shape (non-negative safe integers, element counts
// computed without overflow), every offset pair (in range, matching dtype x shape),
// and the tiling. Any violation is a SafetensorsError naming the file and the problem,
// on one line: never a crash, a hang, or an allocation the file's size does not justify.

import { FileError, GradstreamError } from '../core/errors.ts'
import type { JsonValue } from '../core/json.ts'

/** The dtypes of the format, with their sizes in bytes. */
export const SAFETENSORS_DTYPES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
} as const

export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPES

/**
 * Tensor data as a typed array. F16, BF16 and the F8 types have no JavaScript array:
 * they come back as their raw bits (Uint16Array, Uint8Array).
 */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array

export interface SafetensorsTensor {
  readonly name: string
  readonly dtype: SafetensorsDType
  readonly shape: readonly number[]
  readonly data: TensorData
}

/** A tensor to write; dtype defaults to the one of its typed array (F32, F64, I32, ...). */
export interface SafetensorsInput {
  readonly name: string
  readonly shape: readonly number[]
  readonly data: TensorData
  readonly dtype?: SafetensorsDType
}

/** Where a tensor lives, as the header says. */
export interface SafetensorsHeaderEntry {
  readonly name: string
  readonly dtype: SafetensorsDType
  readonly shape: readonly number[]
  /** [begin, end) relative to the start of the byte buffer. */
  readonly offsets: readonly [number, number]
}

export interface SafetensorsHeader {
  /** Tensors in data order (by offset; JSON object order is not kept by every writer or reader). */
  readonly tensors: readonly SafetensorsHeaderEntry[]
  /** __metadata__ (a prototype-less, frozen record of strings; empty when absent). */
  readonly metadata: Readonly<Record<string, string>>
  /** Bytes of the JSON header (N) and of the byte buffer. */
  readonly headerBytes: number
  readonly dataBytes: number
}

export interface SafetensorsFile extends SafetensorsHeader {
  readonly tensors: readonly (SafetensorsHeaderEntry & { readonly data: TensorData })[]
}

export interface DecodeOptions {
  /** Largest header accepted, in bytes (default 100 MB, the reference implementation's bound). */
  readonly maxHeaderBytes?: number
}

export const MAX_HEADER_BYTES = 100_000_000

/** A file the loader refused (or could not read): names the file and the problem. */
export class SafetensorsError extends FileError {
  override readonly name = 'SafetensorsError'
}

// ---------------------------------------------------------------------------------------
// A strict JSON reader (RFC 8259). Objects are created without a prototype, keys are
// unique, and "__proto__" / "constructor" / "prototype" are refused outright, so a value
// read here can be handed to any code without reaching Object.prototype.

export type { JsonValue } from '../core/json.ts'
export type JsonObject = { readonly [key: string]: JsonValue }

/** Keys refused in any JSON object read from a file. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

/** Nesting bound: a safetensors header needs 3 levels; this keeps recursion shallow. */
export const MAX_JSON_DEPTH = 64

export class JsonSyntaxError extends GradstreamError {
  override readonly name = 'JsonSyntaxError'
}

/** Parses `text` strictly; throws JsonSyntaxError with the offset of the problem. */
export const parseJsonStrict = (text: string, maxDepth = MAX_JSON_DEPTH): JsonValue => {
  let i = 0
  const n = text.length
  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at offset ${i}`)
  }
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i)
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++
      else break
    }
  }
  const str = (): string => {
    i++ // opening quote
    let out = ''
    let run = i
    for (;;) {
      if (i >= n) fail('unterminated string')
      const c = text.charCodeAt(i)
      if (c === 0x22) {
        out += text.slice(run, i)
        i++
        return out
      }
      if (c < 0x20) fail('control character in a string')
      if (c === 0x5c) {
        out += text.slice(run, i)
        const e = text.charCodeAt(i + 1)
        i += 2
        switch (e) {
          case 0x22: out += '"'; break
          case 0x5c: out += '\\'; break
          case 0x2f: out += '/'; break
          case 0x62: out += '\b'; break
          case 0x66: out += '\f'; break
          case 0x6e: out += '\n'; break
          case 0x72: out += '\r'; break
          case 0x74: out += '\t'; break
          case 0x75: {
            const hex = text.slice(i, i + 4)
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape')
            out += String.fromCharCode(parseInt(hex, 16))
            i += 4
            break
          }
          default:
            i -= 2
            fail('bad escape')
        }
        run = i
      } else i++
    }
  }
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
  const num = (): number => {
    NUMBER.lastIndex = i
    const m = NUMBER.exec(text)
    if (m === null || m[0] === '' || m[0] === '-') fail('bad number')
    i += m![0].length
    return Number(m![0])
  }
  const lit = (word: string, v: JsonValue): JsonValue => {
    if (text.startsWith(word, i)) {
      i += word.length
      return v
    }
    return fail('unexpected character')
  }
  const value = (depth: number): JsonValue => {
    ws()
    if (i >= n) fail('unexpected end of JSON')
    const c = text.charCodeAt(i)
    if (c === 0x7b || c === 0x5b) {
      if (depth >= maxDepth) fail(`nesting deeper than ${maxDepth}`)
      return c === 0x7b ? obj(depth + 1) : arr(depth + 1)
    }
    if (c === 0x22) return str()
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return num()
    if (c === 0x74) return lit('true', true)
    if (c === 0x66) return lit('false', false)
    if (c === 0x6e) return lit('null', null)
    return fail('unexpected character')
  }
  const obj = (depth: number): JsonObject => {
    i++
    const out: Record<string, JsonValue> = Object.create(null) as Record<string, JsonValue>
    ws()
    if (text.charCodeAt(i) === 0x7d) {
      i++
      return out
    }
    for (;;) {
      ws()
      if (text.charCodeAt(i) !== 0x22) fail('expected a string key')
      const at = i
      const k = str()
      if (FORBIDDEN_KEYS.has(k)) {
        i = at
        fail(`forbidden key ${JSON.stringify(k)}`)
      }
      if (Object.hasOwn(out, k)) {
        i = at
        fail(`duplicate key ${JSON.stringify(k.length > 80 ? `${k.slice(0, 80)}...` : k)}`)
      }
      ws()
      if (text.charCodeAt(i) !== 0x3a) fail("expected ':'")
      i++
      out[k] = value(depth)
      ws()
      const c = text.charCodeAt(i)
      if (c === 0x2c) i++
      else if (c === 0x7d) {
        i++
        return out
      } else fail("expected ',' or '}'")
    }
  }
  const arr = (depth: number): JsonValue[] => {
    i++
    const out: JsonValue[] = []
    ws()
    if (text.charCodeAt(i) === 0x5d) {
      i++
      return out
    }
    for (;;) {
      out.push(value(depth))
      ws()
      const c = text.charCodeAt(i)
      if (c === 0x2c) i++
      else if (c === 0x5d) {
        i++
        return out
      } else fail("expected ',' or ']'")
    }
  }
  const v = value(0)
  ws()
  if (i < n) fail('unexpected text after the JSON value')
  return v
}

const isJsonObject = (v: JsonValue): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v)

// ---------------------------------------------------------------------------------------
// Header validation

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v)
  return s.length > 60 ? `${s.slice(0, 60)}...` : s
}

const isDType = (v: unknown): v is SafetensorsDType => typeof v === 'string' && Object.hasOwn(SAFETENSORS_DTYPES, v)

const isCount = (v: JsonValue): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/**
 * Checks a header text against the format and a byte buffer of `dataBytes` bytes.
 * Throws SafetensorsError (naming `file`) on the first problem.
 */
export const parseHeader = (file: string, text: string, dataBytes: number): Omit<SafetensorsHeader, 'headerBytes' | 'dataBytes'> => {
  const bad: (problem: string) => never = (problem) => {
    throw new SafetensorsError(file, problem)
  }
  if (text.charCodeAt(0) !== 0x7b) bad(`header must start with '{', got ${show(text.slice(0, 1))}`)
  let root: JsonValue
  try {
    root = parseJsonStrict(text)
  } catch (e) {
    return bad(`header is not valid JSON: ${(e as Error).message}`)
  }
  if (!isJsonObject(root)) return bad('header must be a JSON object')
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>
  const tensors: SafetensorsHeaderEntry[] = []
  for (const name of Object.keys(root)) {
    const v = root[name]
    if (name === '__metadata__') {
      if (!isJsonObject(v)) bad('__metadata__ must be an object of strings')
      for (const k of Object.keys(v as JsonObject)) {
        const s = (v as JsonObject)[k]
        if (typeof s !== 'string') bad(`__metadata__ ${show(k)} must be a string, got ${show(s)}`)
        metadata[k] = s as string
      }
      continue
    }
    const where = `tensor ${show(name)}`
    if (!isJsonObject(v)) return bad(`${where}: expected {dtype, shape, data_offsets}, got ${show(v)}`)
    for (const k of Object.keys(v)) if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') bad(`${where}: unknown field ${show(k)}`)
    const { dtype, shape, data_offsets: offsets } = v
    if (!isDType(dtype))
      bad(`${where}: unknown dtype ${show(dtype)} (expected one of ${Object.keys(SAFETENSORS_DTYPES).join(', ')})`)
    if (!Array.isArray(shape) || !shape.every(isCount)) return bad(`${where}: shape must be an array of non-negative integers, got ${show(shape)}`)
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount))
      return bad(`${where}: data_offsets must be [begin, end] non-negative integers, got ${show(offsets)}`)
    const [begin, end] = offsets as [number, number]
    if (begin > end) bad(`${where}: data_offsets [${begin}, ${end}] end before they begin`)
    if (end > dataBytes) bad(`${where}: data_offsets [${begin}, ${end}] run past the ${dataBytes}-byte data buffer`)
    // Element count without overflow: every partial product stays below the buffer size
    // (or a zero dimension makes it 0), so it is always an exact safe integer.
    const width = SAFETENSORS_DTYPES[dtype as SafetensorsDType]
    let count = (shape as number[]).includes(0) ? 0 : 1
    for (const d of count === 0 ? [] : (shape as number[])) {
      count *= d
      if (count * width > dataBytes) bad(`${where}: shape ${show(shape)} needs more bytes than the ${dataBytes}-byte data buffer holds`)
    }
    if (end - begin !== count * width)
      bad(`${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${dtype} x ${show(shape)} needs ${count * width}`)
    tensors.push({ name, dtype: dtype as SafetensorsDType, shape: Object.freeze([...(shape as number[])]), offsets: [begin, end] })
  }
  // The tensors must tile the buffer exactly, in offset order.
  const sorted = [...tensors].sort((a, b) => a.offsets[0] - b.offsets[0] || a.offsets[1] - b.offsets[1])
  let at = 0
  for (const t of sorted) {
    if (t.offsets[0] < at) bad(`tensor ${show(t.name)}: data_offsets [${t.offsets[0]}, ${t.offsets[1]}] overlap the previous tensor (ends at ${at})`)
    if (t.offsets[0] > at) bad(`tensor ${show(t.name)}: data_offsets [${t.offsets[0]}, ${t.offsets[1]}] leave a gap after byte ${at}`)
    at = t.offsets[1]
  }
  if (at !== dataBytes) bad(`the tensors cover ${at} bytes of data, but the file holds ${dataBytes} after the header`)
  return { tensors: sorted, metadata: Object.freeze(metadata) }
}

// ---------------------------------------------------------------------------------------
// Byte order: the format is little-endian. Typed arrays use the machine's order, so on a
// big-endian machine every element is swapped on the way in and out.

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

const swapInPlace = (bytes: Uint8Array, width: number): void => {
  if (width === 1) return
  for (let i = 0; i < bytes.length; i += width)
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a]
      bytes[a] = bytes[b]
      bytes[b] = t
    }
}

const viewAs = (dtype: SafetensorsDType, buf: ArrayBuffer): TensorData => {
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf)
    case 'F64':
      return new Float64Array(buf)
    case 'I32':
      return new Int32Array(buf)
    case 'U32':
      return new Uint32Array(buf)
    case 'I16':
      return new Int16Array(buf)
    case 'U16':
    case 'F16':
    case 'BF16':
      return new Uint16Array(buf)
    case 'I8':
      return new Int8Array(buf)
    case 'I64':
      return new BigInt64Array(buf)
    case 'U64':
      return new BigUint64Array(buf)
    default:
      return new Uint8Array(buf) // U8, BOOL, F8_*
  }
}

const dtypeOfData = (data: TensorData): SafetensorsDType => {
  if (data instanceof Float32Array) return 'F32'
  if (data instanceof Float64Array) return 'F64'
  if (data instanceof Int32Array) return 'I32'
  if (data instanceof Uint32Array) return 'U32'
  if (data instanceof Int16Array) return 'I16'
  if (data instanceof Uint16Array) return 'U16'
  if (data instanceof Int8Array) return 'I8'
  if (data instanceof BigInt64Array) return 'I64'
  if (data instanceof BigUint64Array) return 'U64'
  return 'U8'
}

/** The typed-array class each dtype is read into (what a written array must be). */
const ARRAY_OF: { readonly [d in SafetensorsDType]: abstract new (...args: never[]) => TensorData } = {
  BOOL: Uint8Array,
  U8: Uint8Array,
  I8: Int8Array,
  F8_E5M2: Uint8Array,
  F8_E4M3: Uint8Array,
  I16: Int16Array,
  U16: Uint16Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I32: Int32Array,
  U32: Uint32Array,
  F32: Float32Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
  F64: Float64Array,
}

// ---------------------------------------------------------------------------------------
// Encoding

const encoder = new TextEncoder()

/**
 * A safetensors file in memory: tensors in the order given, data packed in that order,
 * the header padded with spaces to a multiple of 8 bytes.
 */
export const encodeSafetensors = (
  tensors: readonly SafetensorsInput[],
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array => {
  const file = 'safetensors writer'
  const bad: (problem: string) => never = (problem) => {
    throw new SafetensorsError(file, problem)
  }
  const names = new Set<string>()
  const entries: string[] = []
  const metaKeys = Object.keys(metadata)
  if (metaKeys.length > 0) {
    const parts = metaKeys.map((k) => {
      if (FORBIDDEN_KEYS.has(k)) bad(`metadata key ${show(k)} is not allowed`)
      const v = metadata[k]
      if (typeof v !== 'string') bad(`metadata ${show(k)} must be a string, got ${show(v)}`)
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`
    })
    entries.push(`"__metadata__":{${parts.join(',')}}`)
  }
  let offset = 0
  const placed: { data: TensorData; begin: number; width: number }[] = []
  for (const t of tensors) {
    if (t.name === '__metadata__' || FORBIDDEN_KEYS.has(t.name)) bad(`tensor name ${show(t.name)} is not allowed`)
    if (names.has(t.name)) bad(`duplicate tensor name ${show(t.name)}`)
    names.add(t.name)
    const dtype = t.dtype ?? dtypeOfData(t.data)
    if (!isDType(dtype)) bad(`tensor ${show(t.name)}: unknown dtype ${show(dtype)}`)
    if (!(t.data instanceof ARRAY_OF[dtype]))
      bad(`tensor ${show(t.name)}: dtype ${dtype} needs a ${ARRAY_OF[dtype].name}, got a ${t.data.constructor.name}`)
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`tensor ${show(t.name)}: bad shape ${show(t.shape)}`)
    const count = t.shape.reduce((a, b) => a * b, 1)
    if (count !== t.data.length) bad(`tensor ${show(t.name)}: shape ${show(t.shape)} has ${count} elements, data has ${t.data.length}`)
    const width = SAFETENSORS_DTYPES[dtype]
    const end = offset + t.data.length * width
    entries.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype, shape: t.shape, data_offsets: [offset, end] })}`)
    placed.push({ data: t.data, begin: offset, width })
    offset = end
  }
  const json = encoder.encode(`{${entries.join(',')}}`)
  const headerBytes = Math.ceil(json.length / 8) * 8
  const out = new Uint8Array(8 + headerBytes + offset)
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes), true)
  out.set(json, 8)
  out.fill(0x20, 8 + json.length, 8 + headerBytes)
  const base = 8 + headerBytes
  for (const p of placed) {
    const bytes = new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength)
    out.set(bytes, base + p.begin)
    if (!LITTLE_ENDIAN) swapInPlace(out.subarray(base + p.begin, base + p.begin + bytes.length), p.width)
  }
  return out
}

// ---------------------------------------------------------------------------------------
// Decoding

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Reads and checks the 8-byte length against the bound and the file size. */
export const headerLength = (file: string, prefix: Uint8Array, fileBytes: number, max: number): number => {
  if (fileBytes < 8) throw new SafetensorsError(file, `truncated: ${fileBytes} bytes, but a safetensors file starts with an 8-byte header length`)
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true)
  if (n > BigInt(max)) throw new SafetensorsError(file, `header length ${n} exceeds the ${max}-byte limit`)
  const len = Number(n)
  if (8 + len > fileBytes)
    throw new SafetensorsError(file, `truncated: header length ${len} needs ${8 + len} bytes, but the file has ${fileBytes}`)
  if (len < 2) throw new SafetensorsError(file, `header length ${len} is too small for a JSON object`)
  return len
}

/** The header's JSON text, or an error naming the file when it is not UTF-8. */
export const headerText = (file: string, bytes: Uint8Array): string => {
  try {
    return utf8.decode(bytes)
  } catch {
    throw new SafetensorsError(file, 'header is not valid UTF-8')
  }
}

/** The header's tensors as aligned little-endian copies out of the data section. */
export const tensorsFrom = (header: Omit<SafetensorsHeader, 'headerBytes' | 'dataBytes'>, data: Uint8Array): SafetensorsFile['tensors'] =>
  header.tensors.map((t) => {
    // A copy: aligned for the typed array, and independent of the file's buffer.
    const copy = data.slice(t.offsets[0], t.offsets[1])
    if (!LITTLE_ENDIAN) swapInPlace(copy, SAFETENSORS_DTYPES[t.dtype])
    return { ...t, data: viewAs(t.dtype, copy.buffer) }
  })

/** Only the header of a file in memory (checked against the buffer's size). */
export const decodeSafetensorsHeader = (bytes: Uint8Array, file = '<buffer>', options: DecodeOptions = {}): SafetensorsHeader => {
  const len = headerLength(file, bytes, bytes.length, options.maxHeaderBytes ?? MAX_HEADER_BYTES)
  const dataBytes = bytes.length - 8 - len
  return { ...parseHeader(file, headerText(file, bytes.subarray(8, 8 + len)), dataBytes), headerBytes: len, dataBytes }
}

/** Decodes a whole file held in memory. */
export const decodeSafetensors = (bytes: Uint8Array, file = '<buffer>', options: DecodeOptions = {}): SafetensorsFile => {
  const header = decodeSafetensorsHeader(bytes, file, options)
  return { ...header, tensors: tensorsFrom(header, bytes.subarray(8 + header.headerBytes)) }
}
