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

  it('compose prints every layer shape, the parameter tree and a Left for a bad model', () => {
    const out = runExample('compose.ts')
    expect(out).toMatch(/conv1\s+conv2d\s+\[28, 28, 1\] -> \[24, 24, 8\]/)
    expect(out).toMatch(/head\s+dense\s+\[64\] -> \[10\]/)
    // 5*5*8+8 + 1152*64+64 + 64*10+10
    expect(out).toMatch(new RegExp(`parameters: ${208 + 1152 * 64 + 64 + 650}`))
    expect(out).toMatch(/bad model: conv2 \(conv2d\): expected the kernel height 5 to fit in the input height, got 3/)
    expect(out).toMatch(/lenet5 stored parameters: 61750/)
  })

  it('train-mnist learns on a small subset and evaluates every epoch', () => {
    const out = runExample('train-mnist.ts', { EPOCHS: '2', TRAIN_SAMPLES: '1000' })
    const accs = [...out.matchAll(/test accuracy (\d+\.\d+)%/g)].map((m) => Number(m[1]))
    expect(accs.length).toBe(3) // two epochs and the final line
    expect(accs[1]).toBeGreaterThan(60)
    expect(out).toMatch(/done: step 64,/)
  })
})
