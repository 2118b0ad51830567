// Command-line errors: a UsageError is printed as one line on stderr with exit code 2.

import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import { GradstreamError } from '../core/errors.ts'

export class UsageError extends GradstreamError {
  override readonly name = 'UsageError'
}

type Options = NonNullable<ParseArgsConfig['options']>

/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two names. */
export const editDistance = (a: string, b: string): number => {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  return d[a.length][b.length]
}

/**
 * The valid name closest to `given`, when it is close enough to be a likely typo: within
 * a third of its length (at least 1 edit), or a prefix of exactly one name (--epoch).
 */
export const closestName = (given: string, names: readonly string[]): string | undefined => {
  const prefixed = names.filter((n) => n.startsWith(given) || given.startsWith(n))
  let best: string | undefined
  let bestD = Infinity
  for (const n of names) {
    const dist = editDistance(given, n)
    if (dist < bestD) [best, bestD] = [n, dist]
  }
  if (best !== undefined && bestD <= Math.max(1, Math.floor(given.length / 3))) return best
  return prefixed.length === 1 ? prefixed[0] : undefined
}

/** The one line for an unknown flag: the closest valid one, or the list of valid ones. */
export const unknownFlagMessage = (flag: string, options: readonly string[]): string => {
  const name = flag.replace(/^-+/, '').split('=')[0]
  const near = closestName(name, options)
  if (near !== undefined) return `unknown flag ${flag}; did you mean --${near}?`
  return options.length === 0 ? `unknown flag ${flag}; this command takes no flags` : `unknown flag ${flag}; expected one of ${options.map((o) => `--${o}`).join(', ')}`
}

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

/** parseArgs with its errors turned into UsageErrors that name the flag (and the closest valid one). */
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
    const unknown = /^Unknown option '([^']+)'/.exec(msg)
    if ((e as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown !== null)
      throw new UsageError(unknownFlagMessage(unknown[1], Object.keys(options)))
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
