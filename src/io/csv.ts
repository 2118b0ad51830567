// One CSV record per line (RFC 4180 fields: separated by commas, optionally quoted with
// "", a doubled "" inside quotes is a quote). Records spanning lines are not supported:
// a line whose quotes do not close is reported as invalid, never guessed at.

import * as E from 'fp-ts/lib/Either.js'

export const parseCsvLine = (line: string): E.Either<string, string[]> => {
  const out: string[] = []
  let i = 0
  const n = line.length
  // A trailing \r (CRLF files) is not part of the last field.
  const end = n > 0 && line.charCodeAt(n - 1) === 13 ? n - 1 : n
  for (;;) {
    if (i < end && line[i] === '"') {
      let field = ''
      i++
      for (;;) {
        if (i >= end) return E.left('unterminated quoted field')
        const c = line[i]
        if (c === '"') {
          if (line[i + 1] === '"') {
            field += '"'
            i += 2
          } else {
            i++
            break
          }
        } else {
          field += c
          i++
        }
      }
      out.push(field)
      if (i < end && line[i] !== ',') return E.left(`unexpected character after a quoted field at column ${i + 1}`)
    } else {
      let j = line.indexOf(',', i)
      if (j < 0 || j > end) j = end
      const field = line.slice(i, j)
      if (field.includes('"')) return E.left(`stray quote in an unquoted field at column ${i + 1}`)
      out.push(field)
      i = j
    }
    if (i >= end) return E.right(out)
    i++ // the comma
    if (i === end) {
      out.push('')
      return E.right(out)
    }
  }
}
