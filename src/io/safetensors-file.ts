// Safetensors files (Node only): reading a header or a whole file with bounded reads, and
// atomic writes. The format on bytes (encode, decode, header parsing) is io/safetensors.ts,
// which has no `node:` import so the browser-safe core can use it.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { GradstreamError } from '../core/errors.ts'
import { writeFileAtomic } from './atomic-write.ts'
import type { DecodeOptions, SafetensorsFile, SafetensorsHeader, SafetensorsInput } from './safetensors.ts'
import { encodeSafetensors, headerLength, headerText, MAX_HEADER_BYTES, parseHeader, SafetensorsError, tensorsFrom } from './safetensors.ts'

const readExactly = (file: string, fd: number, length: number, position: number): Uint8Array => {
  const out = new Uint8Array(length)
  let got = 0
  while (got < length) {
    const r = readSync(fd, out, got, length - got, position + got)
    if (r === 0) throw new SafetensorsError(file, `truncated while reading: got ${got} of ${length} bytes at offset ${position}`)
    got += r
  }
  return out
}

const withFile = <T>(file: string, f: (fd: number, size: number) => T): T => {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch (e) {
    throw new SafetensorsError(file, `cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  try {
    const st = fstatSync(fd)
    // A FIFO or a device could block or never end: only regular files are read.
    if (!st.isFile()) throw new SafetensorsError(file, 'not a regular file')
    return f(fd, st.size)
  } catch (e) {
    if (e instanceof GradstreamError) throw e
    throw new SafetensorsError(file, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  } finally {
    closeSync(fd)
  }
}

/** Reads and checks the header of a file without reading its data. */
export const readSafetensorsHeader = (file: string, options: DecodeOptions = {}): SafetensorsHeader =>
  withFile(file, (fd, size) => {
    const len = headerLength(file, size >= 8 ? readExactly(file, fd, 8, 0) : new Uint8Array(8), size, options.maxHeaderBytes ?? MAX_HEADER_BYTES)
    const dataBytes = size - 8 - len
    return { ...parseHeader(file, headerText(file, readExactly(file, fd, len, 8)), dataBytes), headerBytes: len, dataBytes }
  })

/**
 * Loads a file: the header is read and checked first, then exactly the data it
 * describes. Also returns the raw data buffer (for integrity hashes).
 */
export const loadSafetensorsWithData = (file: string, options: DecodeOptions = {}): { file: SafetensorsFile; data: Uint8Array } =>
  withFile(file, (fd, size) => {
    const len = headerLength(file, size >= 8 ? readExactly(file, fd, 8, 0) : new Uint8Array(8), size, options.maxHeaderBytes ?? MAX_HEADER_BYTES)
    const dataBytes = size - 8 - len
    const header = parseHeader(file, headerText(file, readExactly(file, fd, len, 8)), dataBytes)
    const data = readExactly(file, fd, dataBytes, 8 + len)
    return { file: { ...header, headerBytes: len, dataBytes, tensors: tensorsFrom(header, data) }, data }
  })

/** Loads and checks a safetensors file. */
export const loadSafetensors = (file: string, options: DecodeOptions = {}): SafetensorsFile => loadSafetensorsWithData(file, options).file

/** Writes a safetensors file atomically (temp file in the same folder, fsync, rename). */
export const saveSafetensors = (
  file: string,
  tensors: readonly SafetensorsInput[],
  metadata: Readonly<Record<string, string>> = {},
): number => {
  const bytes = encodeSafetensors(tensors, metadata)
  writeFileAtomic(file, bytes)
  return bytes.length
}
