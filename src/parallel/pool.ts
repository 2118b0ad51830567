// A pool of worker threads sharing memory with the main thread (worker_threads +
// SharedArrayBuffer + Atomics). Workers start once per pool and are reused for every
// step. The main thread computes its share of the work itself, then waits (Atomics.wait,
// no event-loop turn) for the workers' shares; results are assembled in a fixed order,
// so they do not depend on how many threads computed them.
// In a reduced step (runReduced) the tasks are claimed, not assigned: a worker slow to
// wake leaves its shard to this thread, and the step does not wait for it.
//
// A worker that throws reports the error in shared memory and the step fails with it.
// A worker that dies outright cannot report: the wait gives up after `timeoutMs` (and the
// pool is marked broken as soon as Node delivers the worker's exit event), so a crash
// is an error, never a hang.
//
// The pool does not know how its workers start (PoolOptions.spawn): Node worker threads
// by default (node-spawn.ts), Web Workers in a browser (web-workers.ts).

import { GradstreamError } from '../core/errors.ts'
import { StepArena } from '../core/arena.ts'
import type { AnyObjective } from '../models/objective.ts'
import { modulesOf } from '../models/define.ts'
import { gemm, gemmRowBlocks } from '../ops/gemm.ts'
import { claimedFromTop, claimUnits, maxClaimRows, openClaims, rowUnits, unitRow } from './gemm-split.ts'
import { kernelBackend } from '../ops/backend.ts'
import type { ReducedGrads, ShardExecutor, ShardResult, ShardState, ShardTask } from '../streams/shards.ts'
import { computeShard, reduceRangeInto } from '../streams/shards.ts'
import type { Tensor } from '../core/tensor.ts'
import { size } from '../core/tensor.ts'
import type { Layout } from '../core/tree.ts'
import { unravel } from '../core/tree.ts'
import type { Arenas, Spawn, Spawned, StateIn, WorkerInit } from './protocol.ts'
import * as P from './protocol.ts'
import { nodeWorkerThreads } from './node-spawn.ts'

export interface PoolOptions {
  /** Threads in all, the main thread included (>= 1). */
  readonly threads: number
  /** The objective workers rebuild (its spec), or null for a GEMM-only pool. */
  readonly objective: AnyObjective | null
  /** Layout of the flat parameters. */
  readonly layout: Layout | null
  /** Give up waiting for a worker after this long (default 120 s). */
  readonly timeoutMs?: number
  /**
   * Give up on workers that have not started after this long (default 60 s): a machine
   * out of memory or threads never starts them, and a run must fail saying so, not hang.
   */
  readonly startTimeoutMs?: number
  /** Starts one worker (default: a Node worker thread). */
  readonly spawn?: Spawn
  /** For tests: workers sleep this long (ms) on waking for a reduced step, as descheduled ones would. */
  readonly lateMs?: number
}

interface Member {
  readonly worker: Spawned
  arenas: Arenas
}

const newArenas = (x: number, y: number, out: number, S0 = 0): Arenas => ({
  state: P.sharedF32(S0),
  x: P.sharedF32(x),
  y: P.sharedF32(y),
  outputs: P.sharedF32(out),
  scalars: P.sharedF64(2),
  error: new Uint8Array(new SharedArrayBuffer(2048)),
})

export class WorkerPool implements ShardExecutor {
  private readonly ctrl: Int32Array
  private readonly params: Float32Array
  /** Thread t's shard gradient at [t P, (t + 1) P) (workers write theirs in place). */
  private readonly grads: Float32Array
  /** The reduced gradient of runReduced, and the shard weights it reads. */
  private readonly sum: Float32Array
  private readonly weights: Float64Array
  private readonly members: Member[] = []
  private gemmA = P.sharedF32(0)
  private gemmB = P.sharedF32(0)
  private gemmC = P.sharedF32(0)
  private broken: string | null = null
  private closed = false
  /** Scalars per output row, found once by a one-row prediction. */
  private outPer = 0
  /** Reduced steps started (their generation, protocol.ts GEN). */
  private gen = 0
  /** True while the workers serve reduced steps (TASK_STEPS), until settle(). */
  private stepping = false
  /** This thread's shard memory, reused shard after shard (core/arena.ts). */
  private readonly arena = new StepArena()
  /** The model state workers read (shared), posted to them when its layout changes. */
  private stateIn: { flat: Float32Array; layout: Layout } | null = null

  private constructor(
    readonly threads: number,
    private readonly options: PoolOptions,
  ) {
    this.ctrl = new Int32Array(new SharedArrayBuffer(Math.max(1, threads) * P.SLOT * 4))
    const size = options.layout?.size ?? 0
    this.params = P.sharedF32(size)
    this.grads = P.sharedF32(Math.max(1, threads) * size)
    this.sum = P.sharedF32(size)
    this.weights = P.sharedF64(Math.max(1, threads))
  }

  /** Starts threads - 1 workers and resolves once every one is ready. */
  static async create(options: PoolOptions): Promise<WorkerPool> {
    const threads = options.threads
    if (!(Number.isInteger(threads) && threads >= 1))
      throw new GradstreamError(`threads: expected a positive integer, got ${threads}`)
    const pool = new WorkerPool(threads, options)
    for (let w = 1; w < threads; w++) pool.start(w)
    try {
      await pool.ready()
    } catch (e) {
      await pool.terminate()
      throw e
    }
    return pool
  }

  private start(index: number): void {
    const arenas = newArenas(0, 0, 0)
    const init: WorkerInit = {
      index,
      control: this.ctrl.buffer as SharedArrayBuffer,
      params: this.params.buffer as SharedArrayBuffer,
      reduction: {
        grads: this.grads.buffer as SharedArrayBuffer,
        sum: this.sum.buffer as SharedArrayBuffer,
        weights: this.weights.buffer as SharedArrayBuffer,
      },
      gemm: null,
      arenas,
      spec: this.options.objective?.spec ?? null,
      modules: this.options.objective ? modulesOf(this.options.objective.spec) : [],
      layout: this.options.layout ?? { names: [], shapes: [], offsets: [], size: 0 },
      backend: kernelBackend(),
      lateMs: this.options.lateMs ?? 0,
    }
    const fail = (why: string): void => {
      if (!this.closed && this.broken === null) this.broken = why
    }
    const worker = (this.options.spawn ?? nodeWorkerThreads)(init, fail)
    this.members[index] = { worker, arenas }
  }

  private async ready(): Promise<void> {
    const limit = this.options.startTimeoutMs ?? 60_000
    const deadline = performance.now() + limit
    for (;;) {
      if (this.broken !== null) throw new GradstreamError(this.broken)
      let waiting = 0
      for (let w = 1; w < this.threads; w++) if (Atomics.load(this.ctrl, w * P.SLOT + P.STATE) !== P.READY) waiting++
      if (waiting === 0) break
      if (performance.now() > deadline)
        throw new GradstreamError(
          `worker pool: ${waiting} of ${this.threads - 1} worker threads did not start within ${limit / 1000} s ` +
            '(out of memory or threads? try fewer --threads)',
        )
      await new Promise((r) => setTimeout(r, 5))
    }
    for (let w = 1; w < this.threads; w++) Atomics.store(this.ctrl, w * P.SLOT + P.STATE, P.IDLE)
  }

  private post(w: number): void {
    Atomics.store(this.ctrl, w * P.SLOT + P.STATE, P.POSTED)
    Atomics.notify(this.ctrl, w * P.SLOT + P.STATE)
  }

  /** Waits for worker w's result; throws its error, a crash, or a timeout. */
  private await(w: number): void {
    const at = w * P.SLOT + P.STATE
    const deadline = performance.now() + (this.options.timeoutMs ?? 120_000)
    for (;;) {
      // DONE and ERROR are the states >= DONE a step can reach.
      const s = P.spinUntil(this.ctrl, at, P.DONE)
      if (s === P.DONE) break
      if (s === P.ERROR) {
        const m = this.members[w].arenas
        const msg = new TextDecoder().decode(m.error.slice(0, this.ctrl[w * P.SLOT + P.ERROR_LENGTH]))
        Atomics.store(this.ctrl, at, P.IDLE)
        throw new GradstreamError(`worker ${w}: ${msg}`)
      }
      if (this.broken !== null) throw new GradstreamError(this.broken)
      if (performance.now() > deadline) {
        this.broken = `worker ${w} stopped responding`
        throw new GradstreamError(`worker pool: worker ${w} did not answer within ${this.options.timeoutMs ?? 120_000} ms`)
      }
      Atomics.wait(this.ctrl, at, s, 50)
    }
    Atomics.store(this.ctrl, at, P.IDLE)
  }

  /** False once terminated or broken (a worker died or timed out): nothing more can run on it. */
  get usable(): boolean {
    return !this.closed && this.broken === null
  }

  private check(): void {
    if (this.closed) throw new GradstreamError('worker pool: used after terminate()')
    if (this.broken !== null) throw new GradstreamError(this.broken)
  }

  /** Gives worker w arenas large enough for this task (posting new buffers if needed). */
  private fit(w: number, x: number, y: number, out: number): void {
    const m = this.members[w]
    const a = m.arenas
    const S0 = this.stateIn?.layout.size ?? 0
    if (a.x.length >= x && a.y.length >= y && a.outputs.length >= out && a.state.length >= S0) return
    const grow = (have: number, need: number): number => (have >= need ? have : Math.max(need, 2 * have))
    m.arenas = newArenas(grow(a.x.length, x), grow(a.y.length, y), grow(a.outputs.length, out), S0)
    m.worker.post({ arenas: m.arenas })
    this.ctrl[w * P.SLOT + P.RESIZED] = 1
  }

  private postShard(w: number, task: ShardTask, outPer: number): void {
    this.stage(w, task, outPer)
    this.ctrl[w * P.SLOT + P.TASK] = P.TASK_SHARD
    this.post(w)
  }

  /** Writes shard task `task` where worker w reads it (arenas and slot w). */
  private stage(w: number, task: ShardTask, outPer: number): void {
    const { x, y } = task.batch
    const rows = x.shape[0]
    const yIsX = y === x || y.data === x.data
    this.fit(w, x.data.length, yIsX ? 0 : y.data.length, rows * outPer)
    const a = this.members[w].arenas
    const base = w * P.SLOT
    a.x.set(x.data)
    this.ctrl[base + P.Y_IS_X] = yIsX ? 1 : 0
    if (!yIsX) {
      a.y.set(y.data)
      const dims = y.shape.slice(1)
      if (dims.length > 6) throw new GradstreamError(`worker pool: targets of rank > 7 are not supported, got ${dims.length + 1}`)
      this.ctrl[base + P.Y_RANK] = dims.length
      dims.forEach((d, i) => (this.ctrl[base + P.Y_DIMS + i] = d))
    }
    this.ctrl[base + P.HAS_STATE] = this.stateIn === null ? 0 : 1
    this.ctrl[base + P.ROWS] = rows
    this.ctrl[base + P.KEY0] = task.key.k0 | 0
    this.ctrl[base + P.KEY1] = task.key.k1 | 0
  }

  /**
   * Takes the workers out of their loop of reduced steps (TASK_STEPS) and waits until each
   * has left it, so their slots are free for a GEMM, a run or exit.
   */
  private settle(): void {
    if (!this.stepping) return
    this.stepping = false
    Atomics.store(this.ctrl, P.LEAVE, 1)
    Atomics.add(this.ctrl, P.GEN, 1)
    Atomics.notify(this.ctrl, P.GEN)
    let failure: unknown = null
    for (let w = 1; w < this.threads; w++) {
      try {
        this.await(w)
      } catch (e) {
        failure ??= e
      }
    }
    Atomics.store(this.ctrl, P.LEAVE, 0)
    if (failure !== null) throw failure
  }

  private collectShard(w: number, rows: number): ShardResult {
    const a = this.members[w].arenas
    const base = w * P.SLOT
    const dims = Array.from({ length: this.ctrl[base + P.OUT_RANK] }, (_, i) => this.ctrl[base + P.OUT_DIMS + i])
    // Views of the worker's arenas, valid until its next task: the caller reduces them
    // within this step (ShardExecutor contract), which spares two copies per shard.
    const outputs: Tensor = { shape: [rows, ...dims], data: a.outputs.subarray(0, rows * size(dims)) }
    const state = this.stateIn === null ? {} : { state: a.state.subarray(0, this.stateIn.layout.size) }
    const n = this.params.length
    return { loss: a.scalars[0], grads: this.grads.subarray(w * n, (w + 1) * n), outputs, ...state }
  }

  /** Puts the step's model state where workers read it (posting a new buffer when its layout changes). */
  private shareState(state: ShardState | null | undefined): void {
    if (state == null) {
      this.stateIn = null
      return
    }
    const cur = this.stateIn
    const same =
      cur !== null && cur.layout.size === state.layout.size && cur.layout.names.every((n, i) => n === state.layout.names[i])
    const target = same && cur !== null ? cur : { flat: P.sharedF32(state.layout.size), layout: state.layout }
    if (target !== cur) {
      this.stateIn = target
      const msg: StateIn = { flat: target.flat.buffer as SharedArrayBuffer, layout: state.layout }
      for (let w = 1; w < this.threads; w++) {
        this.members[w].worker.post({ state: msg })
        this.ctrl[w * P.SLOT + P.RESIZED] = 1
      }
    }
    target.flat.set(state.flat)
  }

  /** What every step does first: parameters and state where workers read them; outputs' width. */
  private begin(objective: AnyObjective, flat: Float32Array, layout: Layout, tasks: readonly ShardTask[], state: ShardState | null | undefined): void {
    this.check()
    if (layout.size !== this.params.length)
      throw new GradstreamError(`worker pool: expected ${this.params.length} parameters, got ${layout.size}`)
    this.params.set(flat)
    this.shareState(state)
    if (this.outPer === 0) {
      const one = tasks[0].batch.x
      const row = { shape: [1, ...one.shape.slice(1)], data: one.data.subarray(0, size(one.shape.slice(1))) }
      const s0 = state == null ? null : unravel(state.layout, state.flat)
      this.outPer = Math.max(1, size(objective.predict(unravel(layout, this.params), row, s0).shape.slice(1)))
    }
  }

  /**
   * ShardExecutor: task i goes to thread i mod threads (thread 0 is this one); results
   * are consumed in task order. While the next result due is a worker's, this thread
   * computes its own next task, if it has one, before blocking.
   */
  run(
    objective: AnyObjective,
    flat: Float32Array,
    layout: Layout,
    tasks: readonly ShardTask[],
    consume: (index: number, result: ShardResult) => void,
    state?: ShardState | null,
  ): void {
    this.begin(objective, flat, layout, tasks, state)
    this.settle()
    const T = this.threads
    for (let w = 1; w < T && w < tasks.length; w++) this.postShard(w, tasks[w], this.outPer)
    const own = new Map<number, ShardResult>()
    // Our own shard's gradient goes into our slice of the shared gradients when it is
    // consumed at once, a fresh buffer when it must wait its turn.
    const computeOwn = (i: number, now: boolean): ShardResult =>
      computeShard(objective, this.params, layout, tasks[i], now ? this.grads.subarray(0, layout.size) : undefined, state, this.arena)
    for (let i = 0; i < tasks.length; i++) {
      const w = i % T
      if (w === 0) {
        const r = own.get(i) ?? computeOwn(i, true)
        own.delete(i)
        consume(i, r)
        continue
      }
      // Overlap: our next task while worker w finishes task i.
      const mine = Math.ceil(i / T) * T
      if (mine < tasks.length && !own.has(mine)) own.set(mine, computeOwn(mine, false))
      this.await(w)
      consume(i, this.collectShard(w, tasks[i].batch.x.shape[0]))
      if (i + T < tasks.length) this.postShard(w, tasks[i + T], this.outPer)
    }
  }

  /**
   * ShardExecutor.runReduced, for one task per thread. The tasks are fixed by the config,
   * never by who computes them: this thread computes task 0, then claims (protocol.ts,
   * claimShard) and computes any of tasks 1.. that its worker t has not claimed yet (a
   * worker slow to wake is not waited for); each shard's gradient goes into its slice of
   * the shared gradients. Once every shard is in, all threads claim the reduction's
   * ranges (more ranges than threads: reductionRanges) and reduce each over all the shards
   * into the shared sum (shards.ts, reduceRangeInto: each entry is the same chain of
   * roundings as WeightedSum's), so the bits are run's, whoever computed what. The step
   * ends when every task is done, not when every worker has answered. Other task counts:
   * null (run).
   */
  runReduced(
    objective: AnyObjective,
    flat: Float32Array,
    layout: Layout,
    tasks: readonly ShardTask[],
    weights: readonly number[],
    consume: (index: number, result: ShardResult) => void,
    state?: ShardState | null,
  ): ReducedGrads | null {
    const S = this.threads
    if (S < 2 || tasks.length !== S) return null
    this.begin(objective, flat, layout, tasks, state)
    const n = layout.size
    const ctrl = this.ctrl
    this.weights.set(weights)
    for (let w = 1; w < S; w++) this.stage(w, tasks[w], this.outPer)
    // A new generation: every claim of an older step (a late worker's) now fails.
    const g = (this.gen = (this.gen + 1) | 0)
    for (let t = 1; t < S; t++) Atomics.store(ctrl, t * P.SLOT + P.CLAIM, P.stepTag(g))
    Atomics.store(ctrl, P.SHARDS, S)
    Atomics.store(ctrl, P.SHARDS_IN, 0)
    Atomics.store(ctrl, P.ABORTED, 0)
    Atomics.store(ctrl, P.RANGES_DONE, 0)
    Atomics.store(ctrl, P.NONFINITE, 0)
    Atomics.store(ctrl, P.RANGE_NEXT, P.rangeTag(g))
    Atomics.store(ctrl, P.GEN, g)
    if (this.stepping) Atomics.notify(ctrl, P.GEN)
    else {
      this.stepping = true
      for (let w = 1; w < S; w++) {
        ctrl[w * P.SLOT + P.TASK] = P.TASK_STEPS
        this.post(w)
      }
    }
    const mine: Array<ShardResult | null> = tasks.map(() => null)
    let failure: unknown = null
    const compute = (t: number): void => {
      // After a failure the step is lost: the tasks left are counted in, not computed.
      if (failure === null)
        try {
          mine[t] = computeShard(objective, this.params, layout, tasks[t], this.grads.subarray(t * n, (t + 1) * n), state, this.arena)
        } catch (e) {
          failure = t === 0 || !(e instanceof Error) ? e : new GradstreamError(`shard ${t}: ${e.message}`)
          Atomics.compareExchange(ctrl, P.ABORTED, 0, t + 1)
        }
      P.shardDone(ctrl)
    }
    compute(0)
    for (let t = 1; t < S; t++) if (P.claimShard(ctrl, t, g)) compute(t)
    // Every shard must be in before anything is thrown: no thread still writes this step.
    const ok = this.awaitCount(P.SHARDS_IN, S, "a worker's shard")
    if (!ok) {
      if (failure !== null) throw failure
      const t = Atomics.load(ctrl, P.ABORTED) - 1
      const msg = new TextDecoder().decode(this.members[t].arenas.error.slice(0, ctrl[t * P.SLOT + P.ERROR_LENGTH]))
      throw new GradstreamError(`shard ${t}: ${msg}`)
    }
    const R = P.reductionRanges(S)
    P.claimRanges(ctrl, g, R, (r) => {
      const [r0, r1] = P.reduceRange(n, R, r)
      return reduceRangeInto(this.sum, this.grads, n, weights, S, r0, r1)
    })
    this.awaitCount(P.RANGES_DONE, R, "a worker's reduction range")
    for (let t = 0; t < S; t++) consume(t, mine[t] ?? this.collectShard(t, tasks[t].batch.x.shape[0]))
    return { grads: this.sum.subarray(0, n), probe: Atomics.load(ctrl, P.NONFINITE) === 0 ? 0 : NaN }
  }

  /**
   * Waits until ctrl[at] >= target (a count of the step's tasks done); false when a shard
   * failed (ABORTED). A worker that died holding a claim: the broken pool, or the timeout.
   */
  private awaitCount(at: number, target: number, what: string): boolean {
    const deadline = performance.now() + (this.options.timeoutMs ?? 120_000)
    for (;;) {
      const got = P.spinUntil(this.ctrl, at, target)
      if (got >= target) return Atomics.load(this.ctrl, P.ABORTED) === 0
      if (this.broken !== null) throw new GradstreamError(this.broken)
      if (performance.now() > deadline) {
        this.broken = 'a worker stopped responding'
        throw new GradstreamError(`worker pool: ${what} did not arrive within ${this.options.timeoutMs ?? 120_000} ms`)
      }
      Atomics.wait(this.ctrl, at, got, 50)
    }
  }

  /**
   * C[M,N] = A[M,K] B[K,N] with the rows of C shared among the threads as gemm-split.ts
   * describes: blocks claimed from both ends, each computed exactly as one call computes
   * those rows (gemmRowBlocks), so the result has one call's bits whoever did which block.
   * The workers are woken first and read A and B from shared memory once this thread has
   * copied them there (their wake-up overlaps the copy); this thread reads A and B in
   * place and writes its blocks of C directly.
   */
  gemm(C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number): void {
    this.check()
    this.settle()
    const units = rowUnits(M)
    if (this.threads === 1 || units.count <= 1) return gemm(C, A, B, M, N, K)
    if (this.gemmA.length < M * K || this.gemmB.length < K * N || this.gemmC.length < M * N) {
      this.gemmA = P.sharedF32(M * K)
      this.gemmB = P.sharedF32(K * N)
      this.gemmC = P.sharedF32(M * N)
      for (let w = 1; w < this.threads; w++) {
        this.members[w].worker.post({ gemm: { a: this.gemmA.buffer as SharedArrayBuffer, b: this.gemmB.buffer as SharedArrayBuffer, c: this.gemmC.buffer as SharedArrayBuffer } })
        this.ctrl[w * P.SLOT + P.RESIZED] = 1
      }
    }
    openClaims(this.ctrl, units.count)
    Atomics.store(this.ctrl, P.GEMM_STAGED, 0)
    for (let w = 1; w < this.threads; w++) {
      const base = w * P.SLOT
      this.ctrl[base + P.TASK] = P.TASK_GEMM
      this.ctrl[base + P.GEMM_THREADS] = this.threads
      this.ctrl[base + P.GEMM_M] = M
      this.ctrl[base + P.GEMM_N] = N
      this.ctrl[base + P.GEMM_K] = K
      this.post(w)
    }
    this.gemmB.set(B.subarray(0, K * N))
    this.gemmA.set(A.subarray(0, M * K))
    Atomics.store(this.ctrl, P.GEMM_STAGED, 1)
    Atomics.notify(this.ctrl, P.GEMM_STAGED)
    const product = gemmRowBlocks(B, N, K, maxClaimRows(units, this.threads))
    for (let c = claimUnits(this.ctrl, this.threads, true); c !== null; c = claimUnits(this.ctrl, this.threads, true)) {
      const r0 = unitRow(c[0], units, M)
      const r1 = unitRow(c[1], units, M)
      product(C.subarray(r0 * N, r1 * N), A.subarray(r0 * K, r1 * K), r1 - r0)
    }
    for (let w = 1; w < this.threads; w++) this.await(w)
    const met = unitRow(claimedFromTop(this.ctrl), units, M)
    C.set(this.gemmC.subarray(0, met * N))
  }

  /** Stops every worker. */
  async terminate(): Promise<void> {
    if (this.closed) return
    try {
      if (this.broken === null) this.settle()
    } catch {
      // A worker that does not leave its steps is stopped below all the same.
    }
    this.closed = true
    for (let w = 1; w < this.threads; w++) {
      if (!this.members[w]) continue
      this.ctrl[w * P.SLOT + P.TASK] = P.TASK_EXIT
      this.post(w)
    }
    await Promise.all(this.members.filter(Boolean).map((m) => m.worker.terminate()))
  }
}
