// What the dashboard reads of a run directory written by `gradstream train --out` (or
// `fork`, `resume`), while the run may still be writing it: config.json, metrics.ndjson
// (one line per step, appended at each epoch end and before each checkpoint),
// epochs.ndjson, summary.json (at the end), checkpoints/, and the writer's lock file.
//
// Files are only appended to or replaced atomically (resume cuts metrics back by writing a
// new file and renaming it), so a reader sees whole files; a torn last line is left for the
// next read. metrics.ndjson is read incrementally from the last offset, and from the start
// again when the file was replaced (another inode) or got shorter.

import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { listCheckpoints } from '../io/checkpoint-file.ts'
import { holderAlive, readRunLock } from '../io/run-lock.ts'
import { parseJsonStrict } from '../io/safetensors.ts'

export type RunStatus = 'running' | 'done' | 'interrupted'

export interface EpochLine {
  readonly epoch: number
  readonly trainLoss: number | null
  readonly testLoss: number | null
  readonly testAccuracy: number | null
}

/** The per-step log of a run, as columns. */
export interface MetricsColumns {
  readonly step: number[]
  readonly loss: (number | null)[]
  readonly lr: number[]
}

export const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

export const objectOf = (line: string): Record<string, unknown> | undefined => {
  try {
    const v = parseJsonStrict(line)
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/**
 * An NDJSON file read as it grows: each call reads what was appended since the last one
 * and folds its whole lines (objects) into `T`; a line without its newline yet is kept
 * for the next call, a line that is not a JSON object is skipped.
 */
export class NdjsonTail<T> {
  private offset = 0
  private ino = -1
  private rest = ''
  private acc: T

  constructor(
    private readonly path: string,
    private readonly fresh: () => T,
    private readonly add: (acc: T, o: Record<string, unknown>) => void,
  ) {
    this.acc = fresh()
  }

  /** The fold after reading whatever was appended since the last call. */
  read(): T {
    let st
    try {
      st = statSync(this.path)
    } catch {
      this.reset(-1)
      return this.acc
    }
    if (st.ino !== this.ino || st.size < this.offset) this.reset(st.ino)
    if (st.size > this.offset) {
      const fd = openSync(this.path, 'r')
      try {
        const buf = Buffer.alloc(st.size - this.offset)
        const n = readSync(fd, buf, 0, buf.length, this.offset)
        this.offset += n
        this.append(buf.subarray(0, n).toString('utf8'))
      } finally {
        closeSync(fd)
      }
    }
    return this.acc
  }

  private reset(ino: number): void {
    this.ino = ino
    this.offset = 0
    this.rest = ''
    this.acc = this.fresh()
  }

  private append(text: string): void {
    const lines = (this.rest + text).split('\n')
    // The last piece has no newline yet: a line still being written.
    this.rest = lines.pop() ?? ''
    for (const line of lines) {
      const o = objectOf(line)
      if (o !== undefined) this.add(this.acc, o)
    }
  }
}

/** metrics.ndjson of a training run, read as it grows. */
export class MetricsTail extends NdjsonTail<{ step: number[]; loss: (number | null)[]; lr: number[] }> {
  constructor(path: string) {
    super(
      path,
      () => ({ step: [], loss: [], lr: [] }),
      (cols, o) => {
        if (!Number.isSafeInteger(o.step)) return
        const step = o.step as number
        // A skipped update repeats its step; keep the first line of each step (as history.ts does).
        const last = cols.step[cols.step.length - 1]
        if (last !== undefined && step <= last) return
        cols.step.push(step)
        cols.loss.push(num(o.loss))
        cols.lr.push(num(o.lr) ?? NaN)
      },
    )
  }
}

/** epochs.ndjson: one row per finished epoch (epoch counted from 1, as the CLI prints it). */
export const readEpochs = (dir: string): EpochLine[] => {
  const path = join(dir, 'epochs.ndjson')
  if (!existsSync(path)) return []
  const text = readFileSync(path, 'utf8')
  const lines = text.split('\n')
  lines.pop()
  return lines.flatMap((l) => {
    const o = objectOf(l)
    if (o === undefined || !Number.isSafeInteger(o.epoch)) return []
    return [{ epoch: o.epoch as number, trainLoss: num(o.trainLoss), testLoss: num(o.testLoss), testAccuracy: num(o.testAccuracy) }]
  })
}

/** Steps of the checkpoints in DIR/checkpoints, ascending. */
export const checkpointSteps = (dir: string): number[] => listCheckpoints(join(dir, 'checkpoints')).map((c) => c.step)

/** Whether the process holding the run's lock (io/run-lock.ts) is alive; undefined: no lock. */
const lockHolderAlive = (dir: string): boolean | undefined => {
  const info = readRunLock(dir)
  return info === undefined ? undefined : holderAlive(info)
}

/** A writer without a lock file counts as live while it wrote something this recently. */
export const LIVE_WINDOW_MS = 120_000

const newestWrite = (dir: string): number => {
  let t = 0
  for (const f of ['metrics.ndjson', 'epochs.ndjson', 'checkpoints', 'config.json'])
    try {
      t = Math.max(t, statSync(join(dir, f)).mtimeMs)
    } catch {
      // not written yet
    }
  return t
}

/**
 * done: summary.json is there. running: a live process holds the run's lock, or (runs
 * written before locks existed) it wrote within LIVE_WINDOW_MS. Otherwise interrupted
 * (`gradstream resume DIR` continues it).
 */
export const runStatus = (dir: string, now: number): RunStatus => {
  if (existsSync(join(dir, 'summary.json'))) return 'done'
  const alive = lockHolderAlive(dir)
  if (alive !== undefined) return alive ? 'running' : 'interrupted'
  return now - newestWrite(dir) < LIVE_WINDOW_MS ? 'running' : 'interrupted'
}
