// Forks started from the dashboard: `gradstream fork DIR --step N --out DIR2 ...` in a
// child process (the server never trains in its own event loop), into a new directory
// beside the original. The new run is served at once and its files are read as the child
// writes them; the original is only read. Because a fork is a pure function of the
// parent's snapshot and the changes, the same fork made twice gives the same hashes.
//
// On shutdown the server stops its forks after their next checkpoint, so each can be
// continued with `gradstream resume DIR2` from where it stopped with nothing recomputed
// but the steps since that checkpoint.

import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GradstreamError } from '../core/errors.ts'
import type { RunConfig } from '../cli/run-config.ts'
import type { ForkState, Run, RunRegistry } from './runs.ts'

const OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'adam'] as const

export interface ForkRequest {
  readonly step: number
  readonly lr?: number
  readonly optimizer?: (typeof OPTIMIZERS)[number]
  readonly batch?: number
  readonly epochs?: number
}

const bad = (what: string, got: unknown): never => {
  throw new GradstreamError(`fork: expected ${what}, got ${JSON.stringify(got) ?? String(got)}`)
}

/** Checks a POST /api/runs/{id}/fork body; the step must lie in firstStep..lastStep. */
export const parseForkRequest = (body: unknown, firstStep: number, lastStep: number): ForkRequest => {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) bad('a JSON object { step, lr?, optimizer?, batch?, epochs? }', body)
  const o = body as Record<string, unknown>
  for (const k of Object.keys(o)) if (!['step', 'lr', 'optimizer', 'batch', 'epochs'].includes(k)) bad('only step, lr, optimizer, batch and epochs', k)
  const { step, lr, optimizer, batch, epochs } = o
  if (!Number.isSafeInteger(step) || (step as number) < firstStep || (step as number) > lastStep)
    bad(`step to be an integer from ${firstStep} to ${lastStep}`, step)
  if (lr !== undefined && !(typeof lr === 'number' && Number.isFinite(lr) && lr > 0)) bad('lr to be a positive number', lr)
  if (optimizer !== undefined && !(OPTIMIZERS as readonly unknown[]).includes(optimizer)) bad(`optimizer to be one of ${OPTIMIZERS.join(', ')}`, optimizer)
  for (const [k, v] of [['batch', batch], ['epochs', epochs]] as const)
    if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) >= 1)) bad(`${k} to be an integer >= 1`, v)
  return o as unknown as ForkRequest
}

/** The `gradstream` command of this package. */
const BIN = fileURLToPath(new URL('../../bin/gradstream.js', import.meta.url))

/**
 * A new directory name beside `dir`: NAME-fork-STEP, then -2, -3, ... Names of forks this
 * server started count as taken before their child has created them.
 */
const forkDir = (dir: string, step: number, taken: (dir: string) => boolean): string => {
  const base = join(dirname(dir), `${basename(dir)}-fork-${step}`)
  let out = base
  for (let i = 2; existsSync(out) || taken(out); i++) out = `${base}-${i}`
  return out
}

export class Forks {
  private readonly children = new Map<ChildProcess, Run>()

  get running(): number {
    return this.children.size
  }

  /** Starts the fork and returns its run (already served, status running). */
  start(registry: RunRegistry, parent: Run, req: ForkRequest): Run {
    const pc = parent.runConfig()
    const out = forkDir(parent.dir, req.step, (d) => registry.atDir(d) !== undefined)
    const config: RunConfig = {
      ...pc,
      lr: req.lr ?? pc.lr,
      optimizer: req.optimizer ?? pc.optimizer,
      batch: req.batch ?? pc.batch,
      epochs: req.epochs ?? pc.epochs,
      parent: { dir: parent.dir, step: req.step },
    }
    const state: ForkState = {}
    const run = registry.add(out, { state, config })
    const args = [BIN, 'fork', parent.dir, '--step', String(req.step), '--out', out]
    if (req.lr !== undefined) args.push('--lr', String(req.lr))
    if (req.optimizer !== undefined) args.push('--optimizer', req.optimizer)
    if (req.batch !== undefined) args.push('--batch', String(req.batch))
    if (req.epochs !== undefined) args.push('--epochs', String(req.epochs))
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr?.on('data', (b: Buffer) => {
      err = (err + b.toString('utf8')).slice(-4000)
    })
    this.children.set(child, run)
    child.on('exit', (code) => {
      this.children.delete(child)
      state.exit = code
      const last = err.trim().split('\n').pop()
      if (code !== 0) state.error = last !== undefined && last !== '' ? last : `gradstream fork stopped (exit code ${code ?? 'none: killed'})`
    })
    child.on('error', (e) => {
      state.exit = null
      state.error = `gradstream fork could not start: ${e.message}`
    })
    return run
  }

  /** Stops every running fork once it has written its next checkpoint; resolves when all have exited. */
  stopAll(pollMs = 100): Promise<void> {
    return Promise.all(
      [...this.children].map(
        ([child, run]) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            const seen = run.checkpoints().length
            const timer = setInterval(() => {
              if (run.checkpoints().length > seen) child.kill('SIGTERM')
            }, pollMs)
            child.once('exit', () => {
              clearInterval(timer)
              resolve()
            })
          }),
      ),
    ).then(() => undefined)
  }

  /** Stops every running fork now (a second interrupt). */
  killAll(): void {
    for (const child of this.children.keys()) child.kill('SIGTERM')
  }
}
