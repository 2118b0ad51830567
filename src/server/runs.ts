// The runs a dashboard serves: the run directories it was given, every run directory one
// level below a given directory, and the forks it started. Each gets an id from the
// server (r0, r1, ...); requests name runs only by id, so no path from a request is ever
// opened. Given directories are scanned again on each listing, so runs started later
// (another `gradstream train --out`, a fork from the command line) show up.

import { existsSync, readdirSync, statSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { GradstreamError } from '../core/errors.ts'
import { countParams } from '../core/tree.ts'
import type { PreparedRun, RunConfig } from '../cli/run-config.ts'
import { prepareRun, runDefinition } from '../cli/run-config.ts'
import { nearestStart, readRunConfig } from '../cli/resume-command.ts'
import type { RunDefinition } from '../streams/history.ts'
import type { Snapshot } from '../streams/snapshot.ts'
import type { ReplaySource } from './replay-cache.ts'
import type { MetricsColumns, RunStatus } from './run-files.ts'
import { checkpointSteps, MetricsTail, readEpochs, runStatus } from './run-files.ts'
import { notClassifier } from './step-view.ts'
import { isOnlineRunDir, OnlineRun } from './online-run.ts'

/** A run the dashboard serves: a training run, or an online run (online-run.ts). */
export type ServedRun = Run | OnlineRun

/** A fork this server started: its process state. */
export interface ForkState {
  /** The exit code once the child ended (null: killed by a signal). */
  exit?: number | null
  /** The child's last line on stderr, when it failed. */
  error?: string
}

/** One row of GET /api/runs. */
export interface RunInfo {
  readonly id: string
  readonly kind: 'train'
  readonly name: string
  readonly model: string
  readonly params: number
  readonly steps: number
  readonly epochs: number
  readonly status: RunStatus
  readonly lastStep: number
  readonly firstStep: number
  readonly checkpoints: readonly number[]
  /** Whether the inputs are images (filters.png and sample pictures exist). */
  readonly images: boolean
  /** Whether the model is a classifier with labelled test data (predictions, confusion). */
  readonly classifier: boolean
  /** For forks: the run and step it branched from (id when that run is served too). */
  readonly parent?: { readonly id?: string; readonly step: number }
  readonly error?: string
}


export class Run implements ReplaySource {
  readonly kind = 'train'
  private readonly tail: MetricsTail
  private prepared?: PreparedRun
  private config?: RunConfig
  private paramCount?: number

  constructor(
    readonly id: string,
    readonly dir: string,
    /** Set when this server started the run as a fork (config until the child writes one). */
    readonly fork?: { readonly state: ForkState; readonly config: RunConfig },
  ) {
    this.tail = new MetricsTail(join(dir, 'metrics.ndjson'))
  }

  get name(): string {
    return basename(this.dir)
  }

  runConfig(): RunConfig {
    if (this.config !== undefined) return this.config
    if (this.fork !== undefined && !existsSync(join(this.dir, 'config.json'))) return this.fork.config
    return (this.config = readRunConfig(this.dir))
  }

  /** The run's model, data and optimizer (loads the data once). */
  prepare(): PreparedRun {
    return (this.prepared ??= prepareRun(this.runConfig()))
  }

  /**
   * Replays run on one thread: the bits do not depend on the thread count (DESIGN.md,
   * "Replay and time travel"), and worker start-up would cost more than a short replay.
   */
  definition(): RunDefinition {
    const d = runDefinition(this.prepare())
    return { ...d, config: { ...d.config, threads: 1 } }
  }

  metrics(): MetricsColumns {
    return this.tail.read()
  }

  epochs(): ReturnType<typeof readEpochs> {
    return readEpochs(this.dir)
  }

  checkpoints(): number[] {
    return checkpointSteps(this.dir)
  }

  /** The step the run starts at: 0, or a fork's branch step. */
  firstStep(): number {
    return this.runConfig().parent?.step ?? 0
  }

  /** The last step the run has reached (metrics or checkpoints), at least its first step. */
  lastStep(): number {
    const m = this.metrics().step
    const c = this.checkpoints()
    return Math.max(this.firstStep(), m[m.length - 1] ?? 0, c[c.length - 1] ?? 0)
  }

  storedStep(step: number): number {
    let best = -1
    for (const c of this.checkpoints()) if (c <= step) best = c
    return best >= 0 ? best : this.firstStep()
  }

  stored(step: number): Snapshot {
    return nearestStart(this.dir, this.prepare(), step).snapshot
  }

  intervalEnd(step: number): number {
    // The step before the next checkpoint: the checkpoint itself is read from its file.
    const next = this.checkpoints().find((c) => c > step)
    return Math.min(next === undefined ? Infinity : next - 1, this.lastStep())
  }

  status(now: number): RunStatus {
    const f = this.fork?.state
    if (f !== undefined && f.exit === undefined) return 'running'
    if (f !== undefined && f.exit !== 0) return existsSync(join(this.dir, 'summary.json')) ? 'done' : 'interrupted'
    return runStatus(this.dir, now)
  }

  params(): number {
    if (this.paramCount === undefined) {
      const init = this.prepare().objective.init({ k0: 0, k1: 0 })
      if (init._tag === 'Left') throw init.left
      this.paramCount = countParams(init.right.params)
    }
    return this.paramCount
  }

  /** The run's row; a run that cannot be loaded (its data file is gone, ...) says why in `error`. */
  info(parentId: (dir: string) => string | undefined, now: number): RunInfo {
    const config = this.runConfig()
    let prepared: PreparedRun
    try {
      prepared = this.prepare()
    } catch (e) {
      if (!(e instanceof GradstreamError)) throw e
      return {
        id: this.id,
        kind: 'train',
        name: this.name,
        model: config.model,
        params: 0,
        steps: 0,
        epochs: config.epochs,
        status: this.status(now),
        lastStep: this.lastStep(),
        firstStep: this.firstStep(),
        checkpoints: this.checkpoints(),
        images: false,
        classifier: false,
        error: e.message,
      }
    }
    const per = prepared.source.batchesPerEpoch ?? 0
    return {
      id: this.id,
      kind: 'train',
      name: this.name,
      model: config.model,
      params: this.params(),
      steps: config.epochs * per,
      epochs: config.epochs,
      status: this.status(now),
      lastStep: this.lastStep(),
      firstStep: this.firstStep(),
      checkpoints: this.checkpoints(),
      images: prepared.inShape.length === 3,
      classifier: notClassifier(prepared) === undefined,
      ...(config.parent !== undefined ? { parent: { id: parentId(resolve(config.parent.dir)), step: config.parent.step } } : {}),
      ...(this.fork?.state.error !== undefined ? { error: this.fork.state.error } : {}),
    }
  }
}

const isRunDir = (dir: string): boolean => existsSync(join(dir, 'config.json')) || isOnlineRunDir(dir)

const subdirs = (dir: string): string[] => {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(dir, e.name))
      .sort()
  } catch {
    return []
  }
}

export class RunRegistry {
  private readonly byId = new Map<string, ServedRun>()
  private readonly byDir = new Map<string, ServedRun>()
  private next = 0

  /**
   * Throws a GradstreamError naming a given path that is neither a run nor holds runs.
   * `dataDirs`: more directories the input files of online runs may lie in (--data-dir).
   */
  constructor(
    private readonly roots: readonly string[],
    private readonly dataDirs: readonly string[] = [],
  ) {
    for (const root of roots) {
      let st
      try {
        st = statSync(root)
      } catch {
        throw new GradstreamError(`${root}: expected a run directory (written by gradstream train --out), but it does not exist`)
      }
      if (!st.isDirectory()) throw new GradstreamError(`${root}: expected a run directory, got a file`)
      if (!isRunDir(root) && !subdirs(root).some(isRunDir))
        throw new GradstreamError(`${root}: expected a run directory or a directory of runs (with config.json or online.json), found neither`)
    }
    this.scan()
  }

  /** Registers runs that appeared since the last scan. */
  scan(): void {
    for (const root of this.roots) {
      const dir = resolve(root)
      if (isRunDir(dir)) this.addAny(dir)
      else for (const d of subdirs(dir)) if (isRunDir(d)) this.addAny(d)
    }
  }

  private addAny(dir: string): void {
    if (!isOnlineRunDir(dir) || existsSync(join(dir, 'config.json'))) return void this.add(dir)
    const abs = resolve(dir)
    if (this.byDir.has(abs)) return
    const run = new OnlineRun(`r${this.next++}`, abs, [...this.roots, ...this.dataDirs])
    this.byId.set(run.id, run)
    this.byDir.set(abs, run)
  }

  add(dir: string, fork?: Run['fork']): Run {
    const abs = resolve(dir)
    const known = this.byDir.get(abs)
    if (known !== undefined && known.kind === 'train') return known
    if (known !== undefined) throw new GradstreamError(`${abs}: an online run, not a training run`)
    const run = new Run(`r${this.next++}`, abs, fork)
    this.byId.set(run.id, run)
    this.byDir.set(abs, run)
    return run
  }

  get(id: string): ServedRun | undefined {
    return this.byId.get(id)
  }

  /** The served run in `dir`, if any. */
  atDir(dir: string): ServedRun | undefined {
    return this.byDir.get(resolve(dir))
  }

  list(): ServedRun[] {
    this.scan()
    return [...this.byId.values()]
  }
}
