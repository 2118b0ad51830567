// Lines of UTF-8 text from byte chunks, with a length limit and strict decoding: the one
// line splitter behind the online reader (streams/record-source.ts textLines) and the
// tabular loader (io/file-lines.ts fileLines). No Node import: the browser core uses it.
//
//   - Lines are split on the byte 0x0A, which never occurs inside a multi-byte UTF-8
//     character, so a character cut between two chunks is simply joined.
//   - A line longer than `maxBytes` is not kept: its bytes are dropped as they arrive and
//     Left(its length in bytes) stands in for it, so one endless line (a 200 MB file
//     without a newline) costs at most one chunk of memory.
//   - Each line is decoded on its own with a fatal decoder: a line that is not valid UTF-8
//     is Left('invalid utf-8') instead of text with U+FFFD in it, so a record can never
//     create a class named '\ufffd\ufffdq' (issue 12).
//   - A trailing \r (CRLF files) is removed; the text after the last newline is a line
//     if it is not empty. A UTF-8 byte-order mark at the start is skipped.

import * as E from 'fp-ts/lib/Either.js'

/** A line's text, or why it has none: its length when too long, or invalid UTF-8. */
export type LineItem = E.Either<number | 'invalid utf-8', string>

/** Default limit on a line's length in bytes (a record of 100,000 numbers fits). */
export const MAX_LINE_LENGTH = 4 * 1024 * 1024

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const encoder = new TextEncoder()

/** Splits byte chunks into LineItems (see the header). */
export class LineSplitter {
  private parts: Uint8Array[] = []
  private held = 0
  /** Bytes of the over-long line being dropped, or -1. */
  private dropped = -1
  private first = true

  constructor(readonly maxBytes: number = MAX_LINE_LENGTH) {}

  private line(bytes: Uint8Array): LineItem {
    let end = bytes.length
    if (end > 0 && bytes[end - 1] === 13) end--
    let start = 0
    if (this.first) {
      this.first = false
      if (end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3
    }
    try {
      return E.right(decoder.decode(bytes.subarray(start, end)))
    } catch {
      return E.left('invalid utf-8')
    }
  }

  private joined(tail: Uint8Array): Uint8Array {
    if (this.parts.length === 0) return tail
    const all = new Uint8Array(this.held + tail.length)
    let o = 0
    for (const p of this.parts) {
      all.set(p, o)
      o += p.length
    }
    all.set(tail, o)
    this.parts = []
    this.held = 0
    return all
  }

  /** Adds a chunk; calls `emit` for each line it completes. */
  push(chunk: Uint8Array | string, emit: (item: LineItem) => void): void {
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk
    let start = 0
    for (;;) {
      const nl = bytes.indexOf(10, start)
      if (nl < 0) break
      const piece = bytes.subarray(start, nl)
      start = nl + 1
      if (this.dropped >= 0) {
        const n = this.dropped + piece.length
        this.dropped = -1
        this.first = false
        emit(E.left(n))
        continue
      }
      const total = this.held + piece.length
      if (total > this.maxBytes) {
        this.parts = []
        this.held = 0
        this.first = false
        emit(E.left(total))
        continue
      }
      emit(this.line(this.joined(piece)))
    }
    const rest = bytes.subarray(start)
    if (rest.length === 0) return
    if (this.dropped >= 0) this.dropped += rest.length
    else if (this.held + rest.length > this.maxBytes) {
      this.dropped = this.held + rest.length
      this.parts = []
      this.held = 0
    } else {
      // Copied: the caller may reuse its buffer (fileLines does).
      this.parts.push(rest.slice())
      this.held += rest.length
    }
  }

  /** The last line, if the input did not end with a newline. */
  end(emit: (item: LineItem) => void): void {
    if (this.dropped >= 0) {
      emit(E.left(this.dropped))
      this.dropped = -1
    } else if (this.held > 0) emit(this.line(this.joined(new Uint8Array(0))))
  }
}
