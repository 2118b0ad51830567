// The serving side of a pool worker, whatever runs it (a Node worker thread: worker.ts; a
// Web Worker: web-worker.ts): rebuilds the run's objective from its spec, then serves
// tasks posted in shared memory (protocol.ts). It computes exactly what the main thread
// would (computeShard, gemm), so a result does not depend on who computed it.

import * as E from 'fp-ts/lib/Either.js'
import { StepArena } from '../core/arena.ts'
import type { ModelSpec } from '../models/objective.ts'
import { objectiveFromSpec } from '../models/objective-spec.ts'
import { gemmRowBlocks } from '../ops/gemm.ts'
import { warmUpKernels } from '../ops/warm-up.ts'
import { setKernelBackend } from '../ops/backend.ts'
import type { ShardState } from '../streams/shards.ts'
import { computeShard, reduceRangeInto } from '../streams/shards.ts'
import type { Layout } from '../core/tree.ts'
import type { Arenas, WorkerInit, WorkerMessage } from './protocol.ts'
import * as P from './protocol.ts'
import { claimUnits, maxClaimRows, rowUnits, unitRow } from './gemm-split.ts'

export interface TaskServer {
  /** Takes new arenas, GEMM buffers or model state posted by the pool. */
  apply(message: WorkerMessage): void
  /** Tells the pool this worker is ready (after its objective is built). */
  ready(): void
  /**
   * Serves posted tasks, blocking between them (Atomics.wait), until told to exit
   * ('exit') or until a task needs messages that `drain` says have not arrived ('wait':
   * call serve again once they have). `drain` takes what messages it can and returns
   * true when all the pool posted are in.
   */
  serve(drain: () => boolean): 'exit' | 'wait'
}

/** Sets up the worker of `init` (kernels, user layer modules, objective). */
export const taskServer = async (init: WorkerInit): Promise<TaskServer> => {
  // Same kernels as the main thread; this thread instantiates its own copy of the wasm module.
  setKernelBackend(init.backend)
  const ctrl = new Int32Array(init.control)
  const base = init.index * P.SLOT
  const params = new Float32Array(init.params)
  const layout = init.layout as Layout
  // Every thread's shard gradient (ours at [index P, (index + 1) P)), their sum, the weights.
  const grads = new Float32Array(init.reduction.grads)
  const mine = grads.subarray(init.index * layout.size, (init.index + 1) * layout.size)
  const sum = new Float32Array(init.reduction.sum)
  const weights = new Float64Array(init.reduction.weights)
  let arenas: Arenas = init.arenas
  let state: ShardState | null = null
  let gemmA = init.gemm ? new Float32Array(init.gemm.a) : new Float32Array(0)
  let gemmB = init.gemm ? new Float32Array(init.gemm.b) : new Float32Array(0)
  let gemmC = init.gemm ? new Float32Array(init.gemm.c) : new Float32Array(0)

  warmUpKernels()
  // A user's layer types exist here once the modules declaring them are loaded (define.ts),
  // unless this worker's own entry already declared them (a browser bundle of
  // web-worker.js with the user's layers: the declaration's import.meta.url is then the
  // training bundle's, not a module to load here).
  const build = () => (init.spec === null ? null : objectiveFromSpec(init.spec as ModelSpec))
  let built = build()
  if (built !== null && E.isLeft(built) && init.modules.length > 0) {
    for (const m of init.modules) await import(m)
    built = build()
    // Imported, yet unknown: the module registered its types in another copy of the
    // library (a browser bundle names itself as the module). Say how a browser does it.
    if (built !== null && E.isLeft(built) && typeof (globalThis as { importScripts?: unknown }).importScripts === 'function')
      throw new Error(
        `${built.left.message}; in a browser, bundle the module declaring the layer with gradstream/web-worker as the shard worker and pass its URL: webWorkers({ url })`,
      )
  }
  if (built !== null && E.isLeft(built)) throw built.left
  const objective = built === null ? null : built.right

  // This worker's shard memory, reused shard after shard (core/arena.ts).
  const arena = new StepArena()
  const shardTask = (): void => {
    if (objective === null) throw new Error('this pool has no objective')
    const rows = ctrl[base + P.ROWS]
    const sample = objective.inShape
    const per = sample.reduce((a, d) => a * d, 1)
    const x = { shape: [rows, ...sample], data: arenas.x.subarray(0, rows * per) }
    let y = x
    if (ctrl[base + P.Y_IS_X] === 0) {
      const dims = Array.from({ length: ctrl[base + P.Y_RANK] }, (_, i) => ctrl[base + P.Y_DIMS + i])
      const yPer = dims.reduce((a, d) => a * d, 1)
      y = { shape: [rows, ...dims], data: arenas.y.subarray(0, rows * yPer) }
    }
    const r = computeShard(
      objective,
      params,
      layout,
      { shard: 0, batch: { x, y, epoch: 0, position: 0 }, key: { k0: ctrl[base + P.KEY0] >>> 0, k1: ctrl[base + P.KEY1] >>> 0 } },
      // The gradient straight into our slice of the shared gradients, which the threads
      // reduce from: no fresh 1 MB array per shard (page faults) and no copy.
      mine,
      ctrl[base + P.HAS_STATE] === 1 ? state : null,
      arena,
    )
    if (r.state !== undefined) arenas.state.set(r.state)
    if (arenas.outputs.length < r.outputs.data.length) throw new Error('output arena too small')
    arenas.outputs.set(r.outputs.data)
    const outDims = r.outputs.shape.slice(1)
    ctrl[base + P.OUT_RANK] = outDims.length
    outDims.forEach((d, i) => (ctrl[base + P.OUT_DIMS + i] = d))
    arenas.scalars[0] = r.loss
  }

  /**
   * Our part of reduced step g (pool.ts, runReduced): our shard t = index, unless a
   * thread claimed it first (the main thread, when we woke late), then, once every shard
   * of the step is in, whatever reduction ranges are left. A step that has ended, or
   * failed, leaves nothing to claim: a late worker does nothing.
   */
  const step = (g: number): void => {
    if (init.lateMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, init.lateMs)
    const S = Atomics.load(ctrl, P.SHARDS)
    if (P.claimShard(ctrl, init.index, g)) {
      try {
        shardTask()
      } catch (e) {
        writeError(e)
        Atomics.compareExchange(ctrl, P.ABORTED, 0, init.index + 1)
      }
      P.shardDone(ctrl)
    }
    for (;;) {
      if (Atomics.load(ctrl, P.GEN) !== g) return
      const got = P.spinUntil(ctrl, P.SHARDS_IN, S)
      if (got >= S) break
      Atomics.wait(ctrl, P.SHARDS_IN, got, 50)
    }
    if (Atomics.load(ctrl, P.ABORTED) !== 0) return
    P.claimRanges(ctrl, g, P.reductionRanges(S), (r, R) => {
      const [r0, r1] = P.reduceRange(layout.size, R, r)
      return reduceRangeInto(sum, grads, layout.size, weights, S, r0, r1)
    })
  }

  /**
   * Serves reduced steps, each a new GEN, until LEAVE ('leave') or until messages the
   * pool posted have not arrived ('wait'; the step's shard is then left to the others).
   */
  const steps = (drain: () => boolean): 'leave' | 'wait' => {
    for (;;) {
      const g = Atomics.load(ctrl, P.GEN)
      if (Atomics.load(ctrl, P.LEAVE) !== 0) return 'leave'
      // Cleared before draining: a message posted meanwhile sets it again.
      if (Atomics.load(ctrl, base + P.RESIZED) !== 0) {
        Atomics.store(ctrl, base + P.RESIZED, 0)
        if (!drain()) {
          Atomics.store(ctrl, base + P.RESIZED, 1)
          return 'wait'
        }
      }
      step(g)
      while (Atomics.load(ctrl, P.GEN) === g) Atomics.wait(ctrl, P.GEN, g)
    }
  }

  const gemmTask = (): void => {
    const threads = ctrl[base + P.GEMM_THREADS]
    const M = ctrl[base + P.GEMM_M]
    const N = ctrl[base + P.GEMM_N]
    const K = ctrl[base + P.GEMM_K]
    const units = rowUnits(M)
    // Woken before A and B are staged (pool.ts, WorkerPool.gemm): a short wait at most.
    while (Atomics.load(ctrl, P.GEMM_STAGED) === 0) Atomics.wait(ctrl, P.GEMM_STAGED, 0, 1)
    // Blocks of C = A B from the top (gemm-split.ts): the same per-element arithmetic as a
    // whole-matrix call, whoever computes the block.
    const product = gemmRowBlocks(gemmB.subarray(0, K * N), N, K, maxClaimRows(units, threads))
    for (let c = claimUnits(ctrl, threads, false); c !== null; c = claimUnits(ctrl, threads, false)) {
      const r0 = unitRow(c[0], units, M)
      const r1 = unitRow(c[1], units, M)
      product(gemmC.subarray(r0 * N, r1 * N), gemmA.subarray(r0 * K, r1 * K), r1 - r0)
    }
  }

  const writeError = (e: unknown): void => {
    const msg = new TextEncoder().encode(e instanceof Error ? e.message : String(e)).subarray(0, arenas.error.length)
    arenas.error.set(msg)
    ctrl[base + P.ERROR_LENGTH] = msg.length
  }

  const fail = (e: unknown): void => {
    writeError(e)
    Atomics.store(ctrl, base + P.STATE, P.ERROR)
    Atomics.notify(ctrl, base + P.STATE)
  }

  return {
    apply: (msg) => {
      if (msg.arenas) arenas = msg.arenas
      if (msg.state) state = { flat: new Float32Array(msg.state.flat), layout: msg.state.layout as Layout }
      if (msg.gemm) {
        gemmA = new Float32Array(msg.gemm.a)
        gemmB = new Float32Array(msg.gemm.b)
        gemmC = new Float32Array(msg.gemm.c)
      }
    },
    ready: () => {
      Atomics.store(ctrl, base + P.STATE, P.READY)
      Atomics.notify(ctrl, base + P.STATE)
    },
    serve: (drain) => {
      for (;;) {
        const s = Atomics.load(ctrl, base + P.STATE)
        if (s !== P.POSTED) {
          Atomics.wait(ctrl, base + P.STATE, s)
          continue
        }
        const task = ctrl[base + P.TASK]
        if (task === P.TASK_STEPS) {
          if (steps(drain) === 'wait') return 'wait'
          Atomics.store(ctrl, base + P.STATE, P.DONE)
          Atomics.notify(ctrl, base + P.STATE)
          continue
        }
        if (ctrl[base + P.RESIZED] !== 0) {
          if (!drain()) return 'wait'
          ctrl[base + P.RESIZED] = 0
        }
        if (task === P.TASK_EXIT) return 'exit'
        try {
          if (task === P.TASK_SHARD) shardTask()
          else if (task === P.TASK_GEMM) gemmTask()
          else throw new Error(`unknown task ${task}`)
          Atomics.store(ctrl, base + P.STATE, P.DONE)
          Atomics.notify(ctrl, base + P.STATE)
        } catch (e) {
          fail(e)
        }
      }
    },
  }
}
