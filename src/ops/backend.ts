// Which kernels run: 'simd' (hand-written WebAssembly SIMD128, src/ops/wasm/) or 'ts' (the
// plain TypeScript loops, the readable reference and the fallback).
//
// The backend is part of a run's numerics: the TypeScript kernels sum every product in
// double precision and round once; the SIMD kernels sum in float32 in a fixed order
// (gemm-simd.ts), so the two agree to ~1e-6 relative but not bit for bit. Either is
// deterministic: same seed, data, config and backend give the same bits on any thread
// count and machine. A run records its backend (run config, checkpoint metadata) and
// resume, replay and fork set the recorded one.
//
// The choice is per thread (module state), set once before a run starts; pool workers
// are told the main thread's choice when they start. Float64 operands (gradient checks)
// always take the TypeScript path.

import { GradstreamError } from '../core/errors.ts'
import { kernelBytes, wasmApi } from './wasm/instance.ts'

export type KernelBackend = 'simd' | 'ts'

export const KERNEL_BACKENDS: readonly KernelBackend[] = ['simd', 'ts']

let simd: boolean | null = null

/** Whether this engine accepts the SIMD module (WebAssembly with SIMD128: Node 16.4+, current browsers). */
export function simdSupported(): boolean {
  if (simd === null) {
    const api = wasmApi()
    simd = api !== undefined && api.validate(kernelBytes())
  }
  return simd
}

/** 'simd' where the engine validates the SIMD module, else 'ts'. */
export const defaultBackend = (): KernelBackend => (simdSupported() ? 'simd' : 'ts')

let current: KernelBackend | null = null

/** The backend the kernels of this thread use now. */
export const kernelBackend = (): KernelBackend => {
  if (current === null) current = defaultBackend()
  return current
}

/** Checks a backend name (from a flag, a config or a checkpoint); throws one line naming what was expected. */
export function parseBackend(name: unknown): KernelBackend {
  if (name === 'simd' || name === 'ts') return name
  throw new GradstreamError(`backend: expected simd or ts, got ${JSON.stringify(name)}`)
}

/** Selects the backend of this thread; 'simd' where the engine lacks SIMD is an error. */
export function setKernelBackend(name: KernelBackend | string): KernelBackend {
  const b = parseBackend(name)
  if (b === 'simd' && !simdSupported())
    throw new GradstreamError('backend: expected ts on this engine (it does not accept WebAssembly SIMD128), got simd')
  current = b
  return b
}

/** Runs f with the backend set to b, then restores the previous one (tests, benchmarks). */
export function withKernelBackend<T>(b: KernelBackend, f: () => T): T {
  const before = kernelBackend()
  setKernelBackend(b)
  try {
    return f()
  } finally {
    current = before
  }
}
