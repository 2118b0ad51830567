// Resident parameters: a float buffer that lives in the memory of its own instance of the
// SIMD kernel module (wasm/kernels.wat), so that a batch-1 kernel reads and writes the
// parameters in place instead of copying them in and out on every call. A learner keeps
// its private working copy of the parameters here (streams/learner.ts) on the SIMD
// backend; nothing else does.
//
// Each buffer has an instance of its own whose memory is sized once, when the buffer is
// made, and never grows, so the views stay valid for the buffer's life (growing a
// WebAssembly memory detaches every view of it). Above the parameters is a scratch area
// for one call's small operands (row lists, input values, a gradient row), sized for the
// largest tensor the buffer holds. A kernel that finds its operand resident uses this
// memory; otherwise it runs its TypeScript twin, which gives the same bits (tested), so
// where the parameters live changes the speed only.

import type { F } from '../core/tensor.ts'
import { BASE, kernelBytes, wasmApi } from './wasm/instance.ts'

/** The exports of kernels.wat's batch-1 section (pointers in bytes). */
interface ResidentExports {
  sgd_outer(p: number, u: number, v: number, rows: number, count: number, O: number, lr: number): number
  dense_row(y: number, u: number, rows: number, count: number, W: number, b: number, O: number): void
}

interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}

export interface Resident {
  readonly k: ResidentExports
  readonly f32: Float32Array
  readonly i32: Int32Array
  /** Byte address of the scratch area, and its size in 4-byte elements. */
  readonly scratch: number
  readonly scratchElements: number
}

const PAGE = 65536
const registry = new WeakMap<ArrayBuffer, Resident>()
// The compiled module, once per thread; each resident buffer instantiates it.
let compiled: object | undefined

/**
 * n floats (zeros) in a fresh instance's memory, with scratch for operands of up to
 * `scratchElements` 4-byte elements; undefined where the engine has no WebAssembly.
 */
export function residentFloats(n: number, scratchElements: number): Float32Array | undefined {
  const api = wasmApi()
  if (api === undefined) return undefined
  const inst = new api.Instance((compiled ??= new api.Module(kernelBytes())), {})
  const memory = inst.exports['mem'] as WasmMemory
  const scratch = BASE + ((4 * n + 15) & ~15)
  const end = scratch + 4 * scratchElements
  if (end > memory.buffer.byteLength) memory.grow(Math.ceil((end - memory.buffer.byteLength) / PAGE))
  const buffer = memory.buffer
  registry.set(buffer, {
    k: inst.exports as unknown as ResidentExports,
    f32: new Float32Array(buffer),
    i32: new Int32Array(buffer),
    scratch,
    scratchElements,
  })
  return new Float32Array(buffer, BASE, n)
}

/** The instance whose memory holds `a`, if `a` is (a view of) a resident buffer. */
export const residentOf = (a: F): Resident | undefined => (a instanceof Float32Array ? registry.get(a.buffer as ArrayBuffer) : undefined)

/**
 * sgdOuterRowsInPlace (ops/optim.ts) on resident p, in the kernel: returns 1 / 0 as the
 * twin does, or -1 when the operands do not fit the scratch (the caller runs the twin).
 */
export function residentSgdOuter(r: Resident, p: Float32Array, u: F, v: F, rows: Int32Array, rowLen: number, lr: number): number {
  const count = rows.length
  if (2 * count + rowLen > r.scratchElements) return -1
  const at = r.scratch >> 2
  r.i32.set(rows, at)
  r.f32.set(u, at + count)
  r.f32.set(v, at + 2 * count)
  // rows, then u, then v
  return r.k.sgd_outer(p.byteOffset, r.scratch + 4 * count, r.scratch + 8 * count, r.scratch, count, rowLen, lr)
}

/**
 * denseForwardRows (ops/dense.ts) with resident W and b, in the kernel: y[O] from the
 * listed inputs of x. Returns false when the operands do not fit the scratch (the caller
 * runs the twin).
 */
export function residentDenseRow(r: Resident, y: F, x: F, W: Float32Array, b: Float32Array, O: number, rows: Int32Array, count: number): boolean {
  if (2 * count + O > r.scratchElements) return false
  const at = r.scratch >> 2
  const { f32, i32 } = r
  for (let t = 0; t < count; t++) {
    const i = rows[t]
    i32[at + t] = i
    f32[at + count + t] = x[i]
  }
  const yAt = r.scratch + 8 * count
  r.k.dense_row(yAt, r.scratch + 4 * count, r.scratch, count, W.byteOffset, b.byteOffset, O)
  y.set(f32.subarray(yAt >> 2, (yAt >> 2) + O))
  return true
}
