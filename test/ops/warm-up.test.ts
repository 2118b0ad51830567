// Kernel warm-up is an explicit call (src/ops/warm-up.ts): it covers every code path of
// every kernel, importing the library does not run it, and the entry points that compute
// (train, the online learner, evaluate, worker threads) do.

import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { lastValueFrom } from 'rxjs'
import { describe, expect, it } from 'vitest'
import * as api from '../../src/index.ts'
import { KERNEL_WARM_UPS, kernelsWarmedUp } from '../../src/ops/warm-up.ts'

const OPS = resolve(import.meta.dirname, '../../src/ops')
const PROBE = resolve(import.meta.dirname, 'deopt-probe.ts')
const KERNELS = /<JSFunction (gemm\w*|microKernel|storeTile|pack\w+|conv2d\w*|\w+Images|effectiveKernel|\w*Tile\w*)[ >]/

/** Kernel functions V8 deoptimised after the warm-up, with the reason. */
const deoptsAfterWarmUp = (mode: 'warm' | 'cold'): string[] => {
  const out = execFileSync(process.execPath, ['--trace-deopt', '--import', 'tsx', PROBE, mode], { encoding: 'utf8', maxBuffer: 64 << 20 })
  const during = out.slice(out.indexOf('== warm'), out.indexOf('== done'))
  return during
    .split('\n')
    .filter((l) => /deoptimiz|bailout/i.test(l) && KERNELS.test(l))
    .map((l) => `${KERNELS.exec(l)?.[1]}: ${/reason: ([^)]*)/.exec(l)?.[1] ?? l}`)
}

describe('kernel warm-up', () => {
  it('is not run by importing the library (gradstream --help does not pay for it)', () => {
    expect(typeof api.kernels.warmUpKernels).toBe('function')
    expect(kernelsWarmedUp()).toBe(false)
  })

  it('is run by train before the first step', async () => {
    const data = { x: { shape: [4, 2], data: Float32Array.of(1, 0, 0, 1, 1, 1, 0, 0) }, labels: Int32Array.of(0, 1, 1, 0) }
    await lastValueFrom(api.train(api.sequential(api.dense(2)), api.softmaxCrossEntropy(), api.sgd(0.1), { data: api.arraySource(data, { batchSize: 2 }) }))
    expect(kernelsWarmedUp()).toBe(true)
  })

  it('lists the warm-up of every kernel module, and no module warms itself up at import', () => {
    for (const file of readdirSync(OPS).filter((f) => f.endsWith('.ts') && f !== 'warm-up.ts')) {
      const src = readFileSync(resolve(OPS, file), 'utf8')
      for (const [, name] of src.matchAll(/export const (warmUp\w+)/g))
        expect(Object.values(KERNEL_WARM_UPS).map((f) => f.name), `${file}: ${name} is not in KERNEL_WARM_UPS`).toContain(name)
      expect(src, `${file} calls a warm-up at import`).not.toMatch(/^warmUp\w*\(\)/m)
    }
  })

  it('covers every kernel path: no kernel is deoptimised when a rare path is first taken', () => {
    // Without the warm-up the same run does deoptimise the kernels (the probe has teeth).
    const cold = deoptsAfterWarmUp('cold').join('\n')
    expect(cold).toMatch(/^microKernel/m)
    expect(cold).toMatch(/^conv2dForward/m)
    expect(deoptsAfterWarmUp('warm')).toEqual([])
  }, 120_000)
})
