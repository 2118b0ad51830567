// The examples stay runnable: each runs as a user would run it (npx tsx examples/<name>.ts).

import { execFileSync } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const tsx = join(root, 'node_modules', '.bin', 'tsx')
const runExample = (name: string, env: Record<string, string> = {}): string =>
  execFileSync(tsx, [join(root, 'examples', name)], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 })

describe('examples', () => {
  it('quickstart (the README example) builds, runs forward and vjp, and passes gradCheck', () => {
    const out = runExample('quickstart.ts')
    expect(out).toMatch(/output shape \[ 10 \]/)
    const loss = Number(/loss (\d+\.\d+)/.exec(out)?.[1])
    expect(loss).toBeGreaterThan(1.5)
    expect(loss).toBeLessThan(4)
    expect(out).toMatch(/grad of fc1.W \[ 36, 10 \]/)
    const worst = Number(/worst relative error (\S+)/.exec(out)?.[1])
    expect(worst).toBeLessThan(1e-6)
  })
})
