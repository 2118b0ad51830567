// The committed kernel bytes are exactly what kernels.wat assembles to, and the backend
// switch: SIMD by default where the engine accepts the module, names checked.

import { describe, expect, it } from 'vitest'
import { defaultBackend, kernelBackend, parseBackend, setKernelBackend, simdSupported, withKernelBackend } from '../../src/ops/backend.ts'
import { assembleKernels, moduleSource } from '../../src/ops/wasm/assemble.ts'
import { kernelBytes } from '../../src/ops/wasm/instance.ts'
import { readFileSync } from 'node:fs'
import { MODULE_PATH, WAT_PATH } from '../../src/ops/wasm/assemble.ts'
import wabtFactory from 'wabt'

describe('the WebAssembly kernels', () => {
  it('ship as exactly the bytes kernels.wat assembles to', async () => {
    const fresh = await assembleKernels()
    expect(Buffer.from(kernelBytes()).equals(Buffer.from(fresh))).toBe(true)
    expect(readFileSync(MODULE_PATH, 'utf8')).toBe(moduleSource(fresh))
  })

  it('need SIMD128 and nothing newer: the text assembles with SIMD on, not without it', async () => {
    // assembleKernels enables the SIMD feature alone (no relaxed-SIMD, no threads), so an
    // instruction from any other proposal would already fail the test above.
    const wabt = await wabtFactory()
    expect(() => wabt.parseWat('kernels.wat', readFileSync(WAT_PATH, 'utf8'), { simd: false }).validate()).toThrow()
    expect(simdSupported()).toBe(true) // Node 20 validates it: SIMD128 is on by default
  })
})

describe('the kernel backend switch', () => {
  it('defaults to simd where WebAssembly.validate accepts the module', () => {
    expect(defaultBackend()).toBe('simd')
    expect(kernelBackend()).toBe('simd')
  })

  it('rejects an unknown name in one line naming what was expected', () => {
    expect(() => parseBackend('gpu')).toThrow('backend: expected simd or ts, got "gpu"')
    expect(() => setKernelBackend('')).toThrow('backend: expected simd or ts, got ""')
    expect(kernelBackend()).toBe('simd')
  })

  it('switches and restores', () => {
    expect(withKernelBackend('ts', () => kernelBackend())).toBe('ts')
    expect(kernelBackend()).toBe('simd')
  })
})
