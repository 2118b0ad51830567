// mergedLog's rule: entries of two logs in id order (a record before a label at an equal
// id), an entry handed on only when the other log has a later one or its horizon is past
// it, positions as "<records id>|<labels id>".

import { describe, expect, it } from 'vitest'
import type { LogConsumer } from '../../src/streams/log-source.ts'
import { mergedLog, positionParts } from '../../src/streams/merged-log.ts'
import { memoryLog } from './memory-log.ts'

const log = (ids: string[], horizon?: string): LogConsumer => {
  const c = memoryLog(ids.map((id) => JSON.stringify({ id })), 'x', ids).consumer()
  const { horizon: _all, ...rest } = c
  return horizon === undefined ? rest : { ...rest, horizon: async () => horizon }
}
const origins = (es: readonly { readonly fields: readonly string[]; readonly kind?: string }[]): string[] =>
  es.map((e) => `${e.kind === 'label' ? 'L' : 'R'}${(JSON.parse(e.fields[1]) as { id: string }).id}`)

describe('mergedLog', () => {
  it('hands entries on in id order, a record first at an equal id, with the merged position as id', async () => {
    const m = mergedLog(log(['1000-0', '3000-0', '4000-0']), log(['2500-0', '3000-0', '3000-1'], '1-0'))
    await m.open(undefined)
    const got = await m.read(100, 1)
    // 4000-0 waits: the labels log is empty after 3000-1 and its horizon (1-0) is not past it
    expect(origins(got)).toEqual(['R1000-0', 'L2500-0', 'R3000-0', 'L3000-0', 'L3000-1'])
    expect(got.map((e) => e.id)).toEqual(['1000-0|', '1000-0|2500-0', '3000-0|2500-0', '3000-0|3000-0', '3000-0|3000-1'])
    expect(positionParts('3000-0|')).toEqual(['3000-0', undefined])
    expect(m.compare('3000-0|2500-0', '3000-0|3000-0')).toBeLessThan(0)
  })

  it('hands a log\'s entries on past an empty log only up to that log\'s horizon; without one it waits', async () => {
    const ids = ['1000-0', '2000-0', '5000-0', '6000-0']
    const m = mergedLog(log(ids), log([], '5000-0'))
    await m.open(undefined)
    expect(origins(await m.read(100, 1))).toEqual(['R1000-0', 'R2000-0'])
    expect(await m.read(100, 1)).toEqual([]) // 5000-0 may still be preceded by a label appended at 5000-0
    const w = mergedLog(log(ids), log([]))
    await w.open(undefined)
    expect(await w.read(100, 1)).toEqual([])
  })

  it('reopens each log from its part of a position, and refuses a position that is not a pair', async () => {
    const m = mergedLog(log(['1000-0', '3000-0'], '9000-0'), log(['2000-0', '4000-0'], '9-0'))
    await m.open('1000-0|2000-0')
    // the labels log's 4000-0 goes once the records log, read again, is found empty before its horizon
    expect(origins(await m.read(100, 1))).toEqual(['R3000-0'])
    expect(origins(await m.read(100, 1))).toEqual(['L4000-0'])
    expect(() => positionParts('1000-0')).toThrow('merged log: expected a position "<records id>|<labels id>", got "1000-0"')
  })
})
