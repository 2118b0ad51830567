// The dashboard's JSON API (issue 14). Every route names a run by the id the server gave
// it; a path segment that is not a known id is a 404, so nothing a request says is ever
// used as a file path.
//
//   GET  /api/runs                                 runs, with status and checkpoints
//   GET  /api/runs/{id}/metrics                    per-step loss and lr, per-epoch test figures
//   GET  /api/runs/{id}/steps/{n}                  the exact snapshot at n: hash, tensor stats
//   GET  /api/runs/{id}/steps/{n}/filters.png      first-layer filters (image models)
//   GET  /api/runs/{id}/steps/{n}/predictions      first 20 test samples and probabilities
//   GET  /api/runs/{id}/steps/{n}/confusion        test-set confusion matrix
//   GET  /api/runs/{id}/diff?from=a&to=b[&run=id2] per-tensor change from a to b (of run id2)
//   POST /api/runs/{id}/fork  {step, lr?, optimizer?, batch?, epochs?}  -> {id}
//
// Online runs (gradstream online --checkpoint-dir) have their own routes: online-api.ts.

import type { IncomingMessage, ServerResponse } from 'node:http'
import { GradstreamError } from '../core/errors.ts'
import { encodePng } from '../io/png.ts'
import { diffSnapshots } from '../streams/history.ts'
import type { Forks } from './forks.ts'
import { parseForkRequest } from './forks.ts'
import type { ReplayCache, Replayed } from './replay-cache.ts'
import type { Run, RunRegistry, ServedRun } from './runs.ts'
import type { ConfusionView } from './step-view.ts'
import { confusion, filtersPicture, notClassifier, predictions, stepView } from './step-view.ts'
import { ByteLru } from './byte-lru.ts'
import { HttpError } from './http-error.ts'
import { OnlineRoutes } from './online-api.ts'

export { HttpError } from './http-error.ts'

export interface ApiContext {
  readonly registry: RunRegistry
  readonly cache: ReplayCache
  readonly forks: Forks
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

export const sendError = (res: ServerResponse, status: number, message: string): void => json(res, status, { error: message })

const MAX_BODY = 4096

const readBody = (req: IncomingMessage): Promise<unknown> =>
  new Promise((resolve, reject) => {
    let text = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      text += chunk
      if (text.length > MAX_BODY) {
        reject(new HttpError(413, `fork: expected a JSON body of at most ${MAX_BODY} bytes`))
        req.destroy()
      }
    })
    req.on('end', () => {
      try {
        resolve(text === '' ? {} : JSON.parse(text))
      } catch {
        reject(new HttpError(400, `fork: expected a JSON body, got ${JSON.stringify(text.slice(0, 40))}`))
      }
    })
    req.on('error', reject)
  })

const parseStep = (s: string | null, what: string): number => {
  if (s === null || !/^\d{1,15}$/.test(s)) throw new HttpError(400, `${what}: expected a step (an integer >= 0), got ${JSON.stringify(s)}`)
  return Number(s)
}

const inRange = (run: Run, step: number): number => {
  const first = run.firstStep()
  const last = run.lastStep()
  if (step < first || step > last)
    throw new HttpError(400, `step ${step} is outside run ${run.id} (${run.name}): valid steps are ${first} to ${last}`)
  return step
}

export const createApi = (ctx: ApiContext) => {
  const { registry, cache, forks } = ctx
  // The confusion matrix evaluates the whole test set: cache a few, compute each once.
  const confusions = new ByteLru<string, Promise<ConfusionView>>(64)

  const online = new OnlineRoutes()

  const servedOf = (id: string): ServedRun => {
    const run = /^r\d{1,9}$/.test(id) ? registry.get(id) : undefined
    if (run === undefined) throw new HttpError(404, `no run ${JSON.stringify(id)} (GET /api/runs lists them)`)
    return run
  }

  const runOf = (id: string): Run => {
    const run = servedOf(id)
    if (run.kind === 'online') throw new HttpError(400, `run ${id} (${run.name}) is an online run: its positions are records (/api/runs/${id}/records/N)`)
    return run
  }

  const snapshot = (run: Run, step: number): Promise<Replayed> => cache.at(run, inRange(run, step))

  const parentId = (dir: string): string | undefined => registry.atDir(dir)?.id

  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const parts = url.pathname.split('/').slice(1)
    const method = req.method ?? 'GET'
    // parts: ['api', 'runs', id?, ...]
    if (parts[0] !== 'api' || parts[1] !== 'runs') throw new HttpError(404, `no such API path ${url.pathname}`)
    const wantGet = (): void => {
      if (method !== 'GET') throw new HttpError(405, `${url.pathname}: expected GET, got ${method}`)
    }
    if (parts.length === 2) {
      wantGet()
      const now = Date.now()
      // A run whose config.json is unreadable is left out until it is fixed.
      const rows = registry.list().flatMap((r) => {
        try {
          return [r.kind === 'online' ? r.info(now) : r.info(parentId, now)]
        } catch (e) {
          if (e instanceof GradstreamError) return []
          throw e
        }
      })
      return json(res, 200, rows)
    }
    const served = servedOf(parts[2])
    const rest = parts.slice(3)
    if (served.kind === 'online') return json(res, 200, await online.handle(served, rest, method))
    const run = served
    if (rest.length === 1 && rest[0] === 'metrics') {
      wantGet()
      return json(res, 200, { ...run.metrics(), epochs: run.epochs() })
    }
    if (rest.length === 1 && rest[0] === 'fork') {
      if (method !== 'POST') throw new HttpError(405, `${url.pathname}: expected POST, got ${method}`)
      const body = await readBody(req)
      let request
      try {
        request = parseForkRequest(body, run.firstStep(), run.lastStep())
      } catch (e) {
        throw e instanceof GradstreamError ? new HttpError(400, e.message) : e
      }
      const fork = forks.start(registry, run, request)
      return json(res, 201, { id: fork.id, name: fork.name })
    }
    if (rest.length === 1 && rest[0] === 'diff') {
      wantGet()
      const a = parseStep(url.searchParams.get('from'), 'diff from')
      const b = parseStep(url.searchParams.get('to'), 'diff to')
      const other = url.searchParams.has('run') ? runOf(url.searchParams.get('run') ?? '') : run
      const [sa, sb] = [await snapshot(run, a), await snapshot(other, b)]
      let tensors
      try {
        tensors = diffSnapshots(sa.snapshot, sb.snapshot)
      } catch (e) {
        throw e instanceof GradstreamError ? new HttpError(400, e.message) : e
      }
      return json(res, 200, { from: { run: run.id, step: a }, to: { run: other.id, step: b }, tensors })
    }
    if (rest[0] === 'steps' && rest.length >= 2 && rest.length <= 3) {
      wantGet()
      const step = parseStep(rest[1], 'steps')
      const view = rest[2]
      if (view === undefined) {
        const t0 = performance.now()
        const r = await snapshot(run, step)
        return json(res, 200, { ...stepView(r.snapshot), from: r.from, replayed: r.replayed, ms: Math.round(performance.now() - t0) })
      }
      if (view === 'filters.png') {
        const prepared = run.prepare()
        if (prepared.inShape.length !== 3) throw new HttpError(404, `model ${prepared.config.model} on ${prepared.config.data} has no image filters`)
        const picture = filtersPicture(prepared, (await snapshot(run, step)).snapshot)
        if (picture === undefined) throw new HttpError(404, `model ${prepared.config.model} has no image filters`)
        const png = encodePng(picture)
        res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store', 'content-length': png.length })
        res.end(png)
        return
      }
      if (view === 'predictions' || view === 'confusion') {
        const prepared = run.prepare()
        const why = notClassifier(prepared)
        if (why !== undefined) throw new HttpError(404, why)
        inRange(run, step)
        if (view === 'predictions') return json(res, 200, predictions(prepared, (await snapshot(run, step)).snapshot))
        const k = `${run.id}:${step}`
        let p = confusions.get(k)
        if (p === undefined) {
          p = snapshot(run, step).then((r) => confusion(prepared, r.snapshot))
          confusions.set(k, p, 1)
          p.catch(() => confusions.delete(k))
        }
        return json(res, 200, await p)
      }
    }
    throw new HttpError(404, `no such API path ${url.pathname}`)
  }
}
