// The lines of a file (Node only), through the one splitter of io/lines.ts.

import { closeSync, openSync, readSync } from 'node:fs'
import { fsError } from './fs-error.ts'
import type { LineItem } from './lines.ts'
import { LineSplitter, MAX_LINE_LENGTH } from './lines.ts'

/**
 * The lines of a file, read in chunks of `chunkBytes` (synchronously: the tabular loader
 * is synchronous). Memory is one chunk plus one line, whatever the file's size.
 */
export function* fileLines(path: string, maxBytes = MAX_LINE_LENGTH, chunkBytes = 1 << 16): Generator<LineItem, void, undefined> {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (e) {
    throw fsError(e, path, 'could not read')
  }
  try {
    const buf = new Uint8Array(chunkBytes)
    const splitter = new LineSplitter(maxBytes)
    const ready: LineItem[] = []
    const emit = (l: LineItem): void => void ready.push(l)
    for (;;) {
      let n: number
      try {
        n = readSync(fd, buf, 0, buf.length, null)
      } catch (e) {
        throw fsError(e, path, 'could not read')
      }
      if (n === 0) break
      splitter.push(buf.subarray(0, n), emit)
      yield* ready
      ready.length = 0
    }
    splitter.end(emit)
    yield* ready
  } finally {
    closeSync(fd)
  }
}
