// Command-line errors: a UsageError is printed as one line on stderr with exit code 2.

import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import { GradstreamError } from '../core/errors.ts'

export class UsageError extends GradstreamError {
  override readonly name = 'UsageError'
}

type Options = NonNullable<ParseArgsConfig['options']>

/**
 * `--lr -1` as `--lr=-1`: parseArgs reads a value that starts with '-' as a flag ("argument
 * is ambiguous"), so a negative number after a flag that takes a value is joined to it,
 * and the flag's own check then says what it expects ("expected a positive number").
 */
const joinNegativeValues = (args: readonly string[], options: Options): string[] => {
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    const next = args[i + 1]
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined
    if (name !== undefined && Object.hasOwn(options, name) && options[name].type === 'string' && next !== undefined && /^-(\d|\.\d|inf|nan)/i.test(next)) {
      out.push(`${a}=${next}`)
      i++
    } else out.push(a)
  }
  return out
}

/** parseArgs with its errors turned into UsageErrors that name the flag. */
export const parseFlags = <O extends Options>(
  args: readonly string[],
  options: O,
  positionals = false,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } => {
  try {
    const r = parseArgs({ args: joinNegativeValues(args, options), options, strict: true, allowPositionals: positionals })
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals }
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0]
    throw new UsageError(msg.replace(/^TypeError \[[A-Z_]+\]: /, ''))
  }
}

export const intFlag = (name: string, v: string | boolean | undefined, min = 1): number | undefined => {
  if (v === undefined) return undefined
  const n = Number(v)
  if (typeof v !== 'string' || !/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min)
    throw new UsageError(`--${name}: expected an integer >= ${min}, got ${JSON.stringify(v)}`)
  return n
}

export const numFlag = (name: string, v: string | boolean | undefined, ok: (n: number) => boolean, expected: string): number | undefined => {
  if (v === undefined) return undefined
  const n = Number(v)
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || !ok(n))
    throw new UsageError(`--${name}: expected ${expected}, got ${JSON.stringify(v)}`)
  return n
}

export const choiceFlag = <T extends string>(name: string, v: string | boolean | undefined, choices: readonly T[]): T | undefined => {
  if (v === undefined) return undefined
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v))
    throw new UsageError(`--${name}: expected one of ${choices.join(', ')}, got ${JSON.stringify(v)}`)
  return v as T
}

export const listFlag = (name: string, v: string | boolean | undefined): number[] | undefined => {
  if (v === undefined) return undefined
  const parts = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : []
  const nums = parts.map(Number)
  if (parts.length === 0 || !parts.every((p) => /^\d+$/.test(p)) || nums.some((n) => n < 1))
    throw new UsageError(`--${name}: expected comma-separated positive integers like 256,128, got ${JSON.stringify(v)}`)
  return nums
}
