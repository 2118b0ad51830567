// The shared-memory protocol between the pool (main thread) and its workers.
//
// Each worker owns a slot of SLOT Int32s in the control array. The main thread writes a
// task's arguments, then STATE := POSTED and notifies; the worker computes, writes its
// results into its arenas, then STATE := DONE (or ERROR with a message) and notifies.
// Arenas (SharedArrayBuffers) grow on demand: the main thread posts the new buffers to
// the worker (Spawned.post) and sets RESIZED; the worker takes them before reading the
// task: a Node worker with receiveMessageOnPort (synchronous, no event loop needed), a
// Web Worker by returning to its event loop until MESSAGES messages have arrived
// (web-worker.ts; browsers have no synchronous receive).

export const SLOT = 32

// control slot fields
export const STATE = 0
export const TASK = 1
export const ROWS = 2
export const KEY0 = 3
export const KEY1 = 4
export const RESIZED = 5
export const ERROR_LENGTH = 6
/** Target: 1 when y is the input itself (autoencoders). */
export const Y_IS_X = 7
/** Rank and dims of one target row (up to 6 dims). */
export const Y_RANK = 8
export const Y_DIMS = 9
/** Rank and dims of one output row, written by the worker. */
export const OUT_RANK = 16
export const OUT_DIMS = 17
/** 1 when the task carries model state (the worker reads its shared StateIn, writes arenas.state). */
export const HAS_STATE = 24
/** Messages posted to the worker so far (Web Workers count them; web-workers.ts). */
export const MESSAGES = 25
/**
 * Shards of a reduced step (pool.ts, runReduced), or 0: after its shard the worker waits
 * for every shard of the step, then reduces its range of the parameters (reduceRange).
 */
export const REDUCE = 26

// Step-wide fields live in slot 0 (the main thread's slot, which no worker serves).
/** Threads whose shard of a reduced step is in (counted up with Atomics.add). */
export const SHARDS_IN = 1
/** Set to 1 by a thread whose shard failed: the others skip their reduction. */
export const ABORTED = 2

// states
export const IDLE = 0
export const POSTED = 1
export const DONE = 2
export const ERROR = 3
export const READY = 4

// tasks
export const TASK_SHARD = 1
export const TASK_GEMM = 2
export const TASK_EXIT = 3

// GEMM task arguments reuse the slot: rows [ROWS, ROWS+1) of C, and M, N, K.
export const GEMM_ROW0 = 2
export const GEMM_ROW1 = 3
export const GEMM_M = 4
export const GEMM_N = 9
export const GEMM_K = 10

/** The model state a worker reads (shared, written by the main thread before each step). */
export interface StateIn {
  readonly flat: SharedArrayBuffer
  readonly layout: { readonly names: readonly string[]; readonly shapes: readonly (readonly number[])[]; readonly offsets: readonly number[]; readonly size: number }
}

/** Buffers one worker reads and writes (all SharedArrayBuffer-backed). */
export interface Arenas {
  readonly x: Float32Array
  readonly y: Float32Array
  readonly outputs: Float32Array
  /** The shard's next model state, flat (empty when the model has none). */
  readonly state: Float32Array
  /** [loss, finiteness probe of its reduced range (0, or NaN)] */
  readonly scalars: Float64Array
  readonly error: Uint8Array
}

export const sharedF32 = (n: number): Float32Array => new Float32Array(new SharedArrayBuffer(Math.max(1, n) * 4))
export const sharedF64 = (n: number): Float64Array => new Float64Array(new SharedArrayBuffer(Math.max(1, n) * 8))

/**
 * How long a thread spins on a shared value before it sleeps (Atomics.wait), in ms: the
 * waits inside a step (the other thread's shard, its half of the reduction) are usually
 * shorter than waking from a futex, which costs tens of microseconds on a virtual machine
 * and may preempt the thread that notifies. Never longer: a longer spin would take the
 * core from the garbage collector's helper threads.
 */
export const SPIN_MS = 0.1

/**
 * Spins until ctrl[at] >= target or SPIN_MS have passed; returns the last value read
 * (the caller sleeps on it with Atomics.wait when it is still short of the target).
 */
export const spinUntil = (ctrl: Int32Array, at: number, target: number): number => {
  let v = Atomics.load(ctrl, at)
  if (v >= target) return v
  const end = performance.now() + SPIN_MS
  while (v < target && performance.now() < end) v = Atomics.load(ctrl, at)
  return v
}

/**
 * The parameters [r0, r1) that thread s of S reduces in a reduced step: S near-equal
 * ranges, cut at multiples of 16 floats (64 bytes: whole SIMD vectors and cache lines).
 * Any cut gives the same bits (the reduction is elementwise); this one only balances it.
 */
export const reduceRange = (size: number, S: number, s: number): readonly [number, number] => {
  const cut = (t: number): number => (t >= S ? size : Math.min(size, Math.round((size * t) / S / 16) * 16))
  return [cut(s), cut(s + 1)]
}

/**
 * Memory every thread of a pool shares (all SharedArrayBuffer-backed): thread t's shard
 * gradient is grads[t P, (t + 1) P) (P parameters), which every thread reads when it
 * reduces its range into `sum` with the shard weights in `weights`.
 */
export interface Reduction {
  readonly grads: SharedArrayBuffer
  readonly sum: SharedArrayBuffer
  readonly weights: SharedArrayBuffer
}

/** What a worker starts from, whatever starts it (Node worker thread or Web Worker). */
export interface WorkerInit {
  readonly index: number
  readonly control: SharedArrayBuffer
  readonly params: SharedArrayBuffer
  /** Gradients of every thread's shard, their sum and its weights. */
  readonly reduction: Reduction
  readonly gemm: { readonly a: SharedArrayBuffer; readonly b: SharedArrayBuffer; readonly c: SharedArrayBuffer } | null
  readonly arenas: Arenas
  readonly spec: unknown
  /** Modules declaring the spec's non-built-in layer types (define.ts), imported first. */
  readonly modules: readonly string[]
  readonly layout: { readonly names: readonly string[]; readonly shapes: readonly (readonly number[])[]; readonly offsets: readonly number[]; readonly size: number }
  /** The main thread's kernel backend: every thread computes with the same kernels. */
  readonly backend: 'simd' | 'ts'
}

/** A message the pool posts to a worker: new arenas, GEMM buffers or model state. */
export interface WorkerMessage {
  readonly arenas?: Arenas
  readonly gemm?: { readonly a: SharedArrayBuffer; readonly b: SharedArrayBuffer; readonly c: SharedArrayBuffer }
  readonly state?: StateIn
}

/** A started worker as the pool sees it: a message channel and a way to stop it. */
export interface Spawned {
  post(message: WorkerMessage): void
  terminate(): Promise<void>
}

/**
 * Starts worker `init.index` (Node worker thread, Web Worker); `fail` marks the pool
 * broken when the worker errs or exits (pool.ts).
 */
export type Spawn = (init: WorkerInit, fail: (why: string) => void) => Spawned
