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
//
// Reduced steps (pool.ts, runReduced) post once (TASK_STEPS): the worker then serves one
// step per GEN bump, claiming its tasks (below), until LEAVE; the pool waits for it to
// leave (STATE := DONE) before it posts anything else.

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
/** Task t's claim in the current reduced step (slot t): 2 G unclaimed, 2 G + 1 claimed (stepTag). */
export const CLAIM = 26

// Step-wide fields of a reduced step (pool.ts, runReduced) live in slot 0 (the main
// thread's slot, which no worker serves). Shards and reduction ranges are tasks fixed by
// the config; any thread may compute a task (the main thread any shard, worker t shard
// t, every thread any range), the first to claim it, so a late worker never holds up a
// step. A step is generation GEN; claims carry it, so a worker waking after its step
// ended (or was failed) claims nothing and writes nothing.
/** Shards of the step done (counted up with Atomics.add, failed or not). */
export const SHARDS_IN = 1
/** 0, or 1 + the index of a shard that failed: the threads then skip the reduction. */
export const ABORTED = 2
/** The current reduced step's generation (bumped, with a notify, to start one). */
export const GEN = 3
/** 1 when the workers are to leave their loop of reduced steps (before a GEMM, run, exit). */
export const LEAVE = 4
/** Next reduction range to claim, tagged with the generation (rangeTag). */
export const RANGE_NEXT = 5
/** Reduction ranges done. */
export const RANGES_DONE = 6
/** 1 when a reduced range had a non-finite term (its probe was not 0). */
export const NONFINITE = 7
/** Shards in the step (its thread count). */
export const SHARDS = 8

// Step-wide fields of a split GEMM (pool.ts, WorkerPool.gemm), also in slot 0.
/** The unclaimed units of rows [lo, hi) as lo | hi << 16 (gemm-split.ts). */
export const GEMM_CLAIMS = 9
/** 1 once A and B are in shared memory (the workers are woken before: their wake-up overlaps the copy). */
export const GEMM_STAGED = 10

/** Generation tag of a shard claim: 2 tag (unclaimed), 2 tag + 1 (claimed); fits an Int32. */
export const stepTag = (g: number): number => 2 * (g & 0x3fffffff)
/** Generation tag of RANGE_NEXT, whose low 6 bits count the ranges claimed. */
export const rangeTag = (g: number): number => (g & 0x1ffffff) * 64

/**
 * Reduction ranges of a step of S shards: more than threads, so a thread that comes late
 * finds the others have taken its share; at most 63 (RANGE_NEXT's count bits).
 */
export const reductionRanges = (S: number): number => Math.min(63, Math.max(8, 2 * S))

/** Claims shard t for step g (true when this thread is to compute it). */
export const claimShard = (ctrl: Int32Array, t: number, g: number): boolean =>
  Atomics.compareExchange(ctrl, t * SLOT + CLAIM, stepTag(g), stepTag(g) + 1) === stepTag(g)

/** Counts a shard of the step in (whoever computed it, failed or not) and wakes the waiters. */
export const shardDone = (ctrl: Int32Array): void => {
  Atomics.add(ctrl, SHARDS_IN, 1)
  Atomics.notify(ctrl, SHARDS_IN)
}

/**
 * Claims and reduces ranges of step g until none is left: `reduce(r, R)` reduces range r
 * of R and returns its finiteness probe. Each range's arithmetic does not depend on who
 * reduces it, so neither do the bits.
 */
export const claimRanges = (ctrl: Int32Array, g: number, R: number, reduce: (r: number, R: number) => number): void => {
  const tag = rangeTag(g)
  for (;;) {
    const v = Atomics.load(ctrl, RANGE_NEXT)
    const r = v & 63
    if (v - r !== tag || r >= R) return
    if (Atomics.compareExchange(ctrl, RANGE_NEXT, v, v + 1) !== v) continue
    if (reduce(r, R) !== 0) Atomics.store(ctrl, NONFINITE, 1)
    if (Atomics.add(ctrl, RANGES_DONE, 1) + 1 === R) Atomics.notify(ctrl, RANGES_DONE)
  }
}

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
/** Serve reduced steps (each a new GEN) until LEAVE. */
export const TASK_STEPS = 4

// GEMM task arguments reuse the slot: the product's M, N, K and the thread count.
export const GEMM_THREADS = 2
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
 * The parameters [r0, r1) of reduction range s of S in a reduced step: S near-equal
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
  /** For tests: the worker sleeps this long (ms) on waking for a reduced step, as a descheduled one would. */
  readonly lateMs: number
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
