// The SIMD kernels' module instance and its memory, one per thread: each thread that
// imports this (the main thread, every pool worker) compiles and instantiates its own copy
// on first use, from the bytes in kernels.wasm.ts (no file read, no fetch).
//
// Memory holds scratch only: a call lays out its operands (copies of the inputs, packed
// panels, index tables, the result) from byte BASE on, runs the kernels, and copies the
// result out before returning. Nothing handed to a caller is ever a view into this
// memory. It grows to the largest call seen and stays there (WebAssembly memory never
// shrinks), so a training run's memory is fixed after its first step.

import { KERNELS_WASM_BASE64 } from './kernels.wasm.ts'

export interface KernelExports {
  /** kernels.wat `mm`: one slab of a gathered matrix product (pointers in bytes). */
  mm(c: number, ldc: number, src: number, rs: number, cs: number, bp: number, ldb: number, pstride: number, M: number, N: number, kc: number, acc: number, packed?: number): void
  /** kernels.wat `pack8`: whole 8-column panels of a row-major B slab, for mm's packed Bp. */
  pack8(dst: number, src: number, ldb: number, panels: number, kc: number): void
  /** kernels.wat `dense_row`: y[O] = sum over the listed rows of u[t] W[rows[t], :] (double sums), then + b. */
  dense_row(y: number, u: number, rows: number, count: number, W: number, b: number, O: number): void
  /** kernels.wat `pack4`: A(i, k) for one slab in row blocks of 4, for mm's packed form; returns the all-zero blocks. */
  pack4(ap: number, src: number, rs: number, cs: number, M: number, kc: number): number
  /** kernels.wat `scatter`: col2im, dst[rs[r] + cs[t]] += D[r, t]. */
  scatter(dst: number, d: number, rs: number, cs: number, M: number, K: number): void
  /** kernels.wat `wadd`: out = (first ? 0 : out) + fl32(w g) over n floats; 0, or NaN if a term is not finite. */
  wadd(out: number, g: number, n: number, w: number, first: number): number
  /** kernels.wat `wadd2`: wadd of ga then of gb in one pass; 0, or NaN if a term is not finite. */
  wadd2(out: number, ga: number, gb: number, n: number, wa: number, wb: number, first: number): number
  /** kernels.wat `sgd`: p = fl32(p - lr (g + wd p)) in place over n floats; 0, or NaN if a stored value is not finite. */
  sgd(p: number, g: number, n: number, lr: number, wd: number): number
  /** kernels.wat `bias_rows`: c[r, o] = fl32(c[r, o] + b[o]) for r < M, o < O. */
  bias_rows(c: number, b: number, M: number, O: number): void
  /** kernels.wat `probe`: sum of x[i] * 0 over n floats: 0 when all are finite, else NaN. */
  probe(x: number, n: number): number
  /** kernels.wat `maxpool_grad`: dx[am[r]] += dy[r], r ascending (dx zeroed by the caller). */
  maxpool_grad(dx: number, dy: number, am: number, ny: number, base: number): void
  /** kernels.wat `relu`: y = ReLU(x) over n floats (n a multiple of 4). */
  relu(y: number, x: number, n: number): void
  /** kernels.wat `relu_grad`: dx = dy where y > 0, else 0 (n a multiple of 4). */
  relu_grad(dx: number, dy: number, y: number, n: number): void
  /** kernels.wat `maxpool`: NHWC max pooling with first-maximum indices (C a multiple of 4). */
  maxpool(y: number, am: number, x: number, B: number, H: number, W: number, C: number, ph: number, pw: number, sh: number, sw: number, Ho: number, Wo: number, base: number): void
}

/** Bytes below this belong to the module (its edge tile). */
export const BASE = 256
const PAGE = 65536

// The slice of the WebAssembly JS API used here, typed locally: the project's lib is ES2022
// without DOM, whose typings carry the full API.
interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean
  Module: new (bytes: Uint8Array) => object
  Instance: new (mod: object, imports: object) => { readonly exports: Record<string, unknown> }
}

/** The engine's WebAssembly API, or undefined where there is none. */
export const wasmApi = (): WasmApi | undefined => (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly

let bytesCache: Uint8Array | null = null

/** The module's bytes, decoded once per thread. */
export function kernelBytes(): Uint8Array {
  if (bytesCache === null) {
    const s = atob(KERNELS_WASM_BASE64)
    const b = new Uint8Array(s.length)
    for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i)
    bytesCache = b
  }
  return bytesCache
}

interface Instance {
  readonly k: KernelExports
  readonly memory: WasmMemory
  f32: Float32Array
  i32: Int32Array
}

let instance: Instance | null = null

function instantiate(): Instance {
  const api = wasmApi()
  if (api === undefined) throw new Error('the SIMD kernels need WebAssembly, which this engine lacks')
  const inst = new api.Instance(new api.Module(kernelBytes()), {})
  const memory = inst.exports['mem'] as WasmMemory
  const k = inst.exports as unknown as KernelExports
  return { k, memory, f32: new Float32Array(memory.buffer), i32: new Int32Array(memory.buffer) }
}

/** A call's view of the memory: the kernels, and float / int views valid until the next workspace(). */
export interface Workspace {
  readonly k: KernelExports
  readonly f32: Float32Array
  readonly i32: Int32Array
}

/** Makes sure memory reaches `end` bytes (growing it if needed) and returns fresh views. */
export function workspace(end: number): Workspace {
  if (instance === null) instance = instantiate()
  const it = instance
  const have = it.memory.buffer.byteLength
  if (end > have) {
    it.memory.grow(Math.ceil((end - have) / PAGE))
    it.f32 = new Float32Array(it.memory.buffer)
    it.i32 = new Int32Array(it.memory.buffer)
  }
  return it
}

/** Current size of this thread's kernel memory in bytes (0 before first use): for the bench's memory report. */
export const wasmMemoryBytes = (): number => (instance === null ? 0 : instance.memory.buffer.byteLength)

/**
 * Elementwise kernels (ReLU, the gradient sum, the finiteness probe, pooling) stream long
 * vectors through the kernel memory in chunks of this many floats (256 KB), so they never
 * grow it beyond what the matrix products need.
 */
export const CHUNK = 65536

/** Byte offsets for one call's operands, each 16-byte aligned, from BASE. */
export class Layout {
  private top = BASE
  /** Reserves `bytes` and returns its byte address. */
  take(bytes: number): number {
    const at = this.top
    this.top += (bytes + 15) & ~15
    return at
  }
  get end(): number {
    return this.top
  }
}

/**
 * An in-place elementwise kernel over n-float operands, streamed CHUNK floats at a time:
 * each chunk of `a` (unless `skipA`: the kernel only writes it) and of every one of `ins`
 * copied into the kernel memory, `run(k, aAt, insAt, m)`, and `a`'s chunk copied out to
 * `out`. Returns the sum of what `run` returned (the kernels' finiteness probes).
 */
export function streamThrough(
  out: Float32Array,
  a: Float32Array,
  ins: readonly Float32Array[],
  n: number,
  skipA: boolean,
  run: (k: KernelExports, aAt: number, insAt: readonly number[], m: number) => number,
): number {
  const L = new Layout()
  const aAt = L.take(Math.min(n, CHUNK) * 4)
  const insAt = ins.map(() => L.take(Math.min(n, CHUNK) * 4))
  const { k, f32 } = workspace(L.end)
  let probe = 0
  for (let i0 = 0; i0 < n; i0 += CHUNK) {
    const m = Math.min(CHUNK, n - i0)
    if (!skipA) f32.set(a.subarray(i0, i0 + m), aAt >> 2)
    ins.forEach((b, j) => f32.set(b.subarray(i0, i0 + m), insAt[j] >> 2))
    probe += run(k, aAt, insAt, m)
    out.set(f32.subarray(aAt >> 2, (aAt >> 2) + m), i0)
  }
  return probe
}

/** streamThrough with one other operand `b`: `run(k, aAt, bAt, m)`. */
export const streamPair = (
  out: Float32Array,
  a: Float32Array,
  b: Float32Array,
  n: number,
  skipA: boolean,
  run: (k: KernelExports, aAt: number, bAt: number, m: number) => number,
): number => streamThrough(out, a, [b], n, skipA, (k, aAt, [bAt], m) => run(k, aAt, bAt, m))
