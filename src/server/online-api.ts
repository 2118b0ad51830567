// The dashboard's routes for online runs (online-run.ts); the run is named by its id as
// everywhere else, positions by record number:
//
//   GET /api/runs/{id}/metrics        { kind: 'online', record, step, entryId, accuracy, loss, windowAccuracy, windowLoss }
//   GET /api/runs/{id}/records/{n}    the exact state after record n: { record, step, entryId?, hash,
//                                     tensors, from, replayed, ms } (hash and norms as `gradstream
//                                     replay DIR --entry ID --json` for Redis runs)
//
// Positions are computed once each (concurrent requests share the promise) and one replay
// per run at a time runs (two cores, not one per request); their views (a few kB, not
// the snapshots) are kept in a bounded LRU.

import { GradstreamError } from '../core/errors.ts'
import { HttpError } from './http-error.ts'
import { ByteLru } from './byte-lru.ts'
import type { OnlineRun } from './online-run.ts'
import type { StepView } from './step-view.ts'
import { stepView } from './step-view.ts'

/** GET /api/runs/{id}/records/{n}. */
export interface PositionView extends Omit<StepView, 'epoch' | 'lr' | 'loss'> {
  readonly record: number
  readonly entryId?: string
  readonly from: number
  readonly replayed: number
  readonly ms: number
}

const parseRecord = (s: string): number => {
  if (!/^\d{1,15}$/.test(s)) throw new HttpError(400, `records: expected a record number (an integer >= 1), got ${JSON.stringify(s)}`)
  return Number(s)
}

export class OnlineRoutes {
  private readonly views = new ByteLru<string, Promise<PositionView>>(256)
  private readonly queues = new Map<string, Promise<unknown>>()

  /** The answer to `rest` (the path after /api/runs/{id}/), or undefined when no route matches. */
  async handle(run: OnlineRun, rest: readonly string[], method: string): Promise<unknown> {
    if (rest.length === 1 && rest[0] === 'metrics') {
      this.wantGet(method, rest)
      return { kind: 'online', ...run.metrics() }
    }
    if (rest.length === 2 && rest[0] === 'records') {
      this.wantGet(method, rest)
      const n = parseRecord(rest[1])
      const last = run.lastRecord()
      if (n < 1 || n > last) throw new HttpError(400, `record ${n} is outside run ${run.id} (${run.name}): valid records are 1 to ${last}`)
      const why = run.notReplayable()
      if (why !== undefined) throw new HttpError(409, why)
      return this.position(run, n)
    }
    throw new HttpError(404, `no such API path for the online run ${run.id}: /metrics and /records/{n} (training routes do not apply)`)
  }

  private wantGet(method: string, rest: readonly string[]): void {
    if (method !== 'GET') throw new HttpError(405, `${rest.join('/')}: expected GET, got ${method}`)
  }

  private position(run: OnlineRun, n: number): Promise<PositionView> {
    const k = `${run.id}:${n}`
    const hit = this.views.get(k)
    if (hit !== undefined) return hit.then((v) => ({ ...v, from: n, replayed: 0, ms: 0 }))
    const prev = this.queues.get(run.id) ?? Promise.resolve()
    const job = async (): Promise<PositionView> => {
      const t0 = performance.now()
      const p = await run.at(n)
      const { epoch: _e, lr: _l, loss: _s, ...view } = stepView(p.snapshot)
      return {
        record: n,
        ...view,
        ...(p.entryId !== undefined ? { entryId: p.entryId } : {}),
        from: p.from,
        replayed: p.replayed,
        ms: Math.round(performance.now() - t0),
      }
    }
    const next = prev.then(job, job)
    this.queues.set(
      run.id,
      next.then(
        () => undefined,
        () => undefined,
      ),
    )
    this.views.set(k, next, 1)
    // A failed replay (Redis down, input changed) is not kept: the next request tries again.
    next.catch(() => this.views.delete(k))
    return next.catch((e: unknown) => {
      throw e instanceof GradstreamError && !(e instanceof HttpError) ? new HttpError(422, e.message) : e
    })
  }
}
