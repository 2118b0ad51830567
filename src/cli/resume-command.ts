// `gradstream resume DIR`: continues an interrupted `gradstream train --out DIR` run.
//
// The run is rebuilt from DIR/config.json and continued from the latest checkpoint in
// DIR/checkpoints (checkpoints are written atomically, so the latest one is whole even
// if the process was killed mid-write; stray temp files are removed). metrics.ndjson and
// epochs.ndjson are cut back to the line counts the checkpoint recorded, so the lines a
// killed run wrote after its last checkpoint are written again, identically. Because
// every random draw derives from the run key and the batch stream restarts at the
// checkpoint's (epoch, position), the resumed run ends bit-identical to a run that was
// never interrupted (test/cli/checkpoint-commands.test.ts kills a real process).
//
// Also here: the run-directory helpers shared by replay and fork.

import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { GradstreamError } from '../core/errors.ts'
import { removeStaleTempFiles, writeFileAtomic } from '../io/atomic-write.ts'
import { withRunLock } from '../io/run-lock.ts'
import type { Checkpoint } from '../io/checkpoint.ts'
import { checkLayout } from '../io/checkpoint.ts'
import { listCheckpoints, loadCheckpoint } from '../io/checkpoint-file.ts'
import { parseJsonStrict } from '../io/safetensors.ts'
import { key as rootKey } from '../core/rng.ts'
import type { Mean } from '../streams/metrics.ts'
import { MeanMonoid } from '../streams/metrics.ts'
import type { Snapshot } from '../streams/snapshot.ts'
import { initialSnapshot } from '../streams/train.ts'
import type { PreparedRun, RunConfig } from './run-config.ts'
import { prepareRun } from './run-config.ts'
import type { EpochRow, Io, ResumePoint } from './train-command.ts'
import { runTraining } from './train-command.ts'
import { parseFlags, UsageError } from './usage.ts'

export const RESUME_USAGE = `usage: gradstream resume DIR [--json]
Continues the run in DIR (written by gradstream train --out DIR) from its latest
checkpoint; the result is bit-identical to a run that was never interrupted.`

// ---------------------------------------------------------------------------------------
// Run directories

export const checkpointsDir = (dir: string): string => join(dir, 'checkpoints')

/** Reads and checks DIR/config.json. */
export const readRunConfig = (dir: string): RunConfig => {
  const path = join(dir, 'config.json')
  if (!existsSync(path)) throw new GradstreamError(`${dir}: not a run directory (no config.json; create one with gradstream train --out ${dir})`)
  let v: unknown
  try {
    v = JSON.parse(JSON.stringify(parseJsonStrict(readFileSync(path, 'utf8'))))
  } catch (e) {
    throw new GradstreamError(`${path}: ${(e as Error).message}`)
  }
  const c = v as Record<string, unknown>
  const bad = (what: string): never => {
    throw new GradstreamError(`${path}: expected ${what}`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('a JSON object')
  if (c.version !== 1) bad('"version": 1')
  const posInt = (k: string, min = 1): void => {
    if (!(Number.isSafeInteger(c[k]) && (c[k] as number) >= min)) bad(`"${k}" to be an integer >= ${min}`)
  }
  for (const k of ['model', 'data', 'optimizer', 'schedule']) if (typeof c[k] !== 'string') bad(`"${k}" to be a string`)
  posInt('epochs')
  posInt('batch')
  posInt('shift', 0)
  posInt('seed', 0)
  if (c.checkpointEvery !== undefined) posInt('checkpointEvery')
  for (const k of ['threads', 'microbatches', 'cdK']) if (c[k] !== undefined) posInt(k)
  if (!(typeof c.lr === 'number' && c.lr > 0)) bad('"lr" to be a positive number')
  if (c.microbatches !== undefined && (c.microbatches as number) > (c.batch as number)) bad(`"microbatches" to be at most "batch" (${c.batch})`)
  for (const k of ['momentum', 'weightDecay', 'corruption'])
    if (c[k] !== undefined && !(typeof c[k] === 'number' && Number.isFinite(c[k]) && (c[k] as number) >= 0)) bad(`"${k}" to be a number >= 0`)
  for (const k of ['label', 'format', 'activation']) if (c[k] !== undefined && typeof c[k] !== 'string') bad(`"${k}" to be a string`)
  if (c.persistent !== undefined && typeof c.persistent !== 'boolean') bad('"persistent" to be true or false')
  if (c.hidden !== undefined && !(Array.isArray(c.hidden) && c.hidden.length > 0 && c.hidden.every((h) => Number.isSafeInteger(h) && (h as number) >= 1)))
    bad(`"hidden" to be a list of positive integers like [256, 128], got ${JSON.stringify(c.hidden).slice(0, 60)}`)
  return v as RunConfig
}

/** Throws unless the checkpoint was written by this run (same model, optimizer and parameters). */
export const checkMatchesRun = (checkpoint: Checkpoint, run: PreparedRun): void => {
  if (JSON.stringify(checkpoint.model) !== JSON.stringify(run.objective.spec))
    throw new GradstreamError(`${checkpoint.file}: its model differs from the run's config.json`)
  if (JSON.stringify(checkpoint.optimizer) !== JSON.stringify(run.optimizer.spec))
    throw new GradstreamError(`${checkpoint.file}: its optimizer differs from the run's config.json`)
  if (checkpoint.snapshot.key.k0 !== rootKey(run.config.seed).k0 || checkpoint.snapshot.key.k1 !== rootKey(run.config.seed).k1)
    throw new GradstreamError(`${checkpoint.file}: its key is not the run's (seed ${run.config.seed})`)
  checkLayout(run.objective, checkpoint)
}

/** The step-0 snapshot of a prepared run. */
export const startSnapshot = (run: PreparedRun): Snapshot => {
  const s0 = initialSnapshot(run.objective, run.optimizer, rootKey(run.config.seed))
  if (E.isLeft(s0)) throw s0.left
  return s0.right
}

/**
 * The snapshot to replay `step` from: the latest checkpoint at or before it, or the
 * run's step 0. Forked runs begin at their fork step.
 */
export const nearestStart = (dir: string, run: PreparedRun, step: number): { snapshot: Snapshot; checkpoint?: Checkpoint } => {
  const found = listCheckpoints(checkpointsDir(dir)).filter((c) => c.step <= step)
  const parent = run.config.parent
  if (found.length === 0) {
    if (parent !== undefined)
      throw new GradstreamError(
        `${dir} was forked from ${parent.dir} at step ${parent.step} and has no checkpoint at or before step ${step}` +
          (step < parent.step ? `; replay step ${step} in ${parent.dir}` : ''),
      )
    return { snapshot: startSnapshot(run) }
  }
  // The newest usable one; a corrupt checkpoint only means replaying from an older one.
  let firstError: unknown
  for (let i = found.length - 1; i >= 0; i--) {
    try {
      const checkpoint = loadCheckpoint(found[i].path)
      checkMatchesRun(checkpoint, run)
      return { snapshot: checkpoint.snapshot, checkpoint }
    } catch (e) {
      if (!(e instanceof GradstreamError)) throw e
      firstError ??= e
    }
  }
  if (parent !== undefined) throw firstError
  return { snapshot: startSnapshot(run) }
}

// ---------------------------------------------------------------------------------------
// Output files, cut back to a checkpoint

const readLines = (path: string): string[] => {
  if (!existsSync(path)) return []
  const text = readFileSync(path, 'utf8')
  const lines = text.split('\n')
  // Only newline-terminated lines are whole: a killed writer may leave a torn last line.
  lines.pop()
  return lines
}

/** Keeps the first `n` lines of an ndjson file (atomically); returns them. */
export const truncateLines = (path: string, n: number): string[] => {
  const lines = readLines(path)
  if (lines.length < n) throw new GradstreamError(`${path}: has ${lines.length} lines, but the checkpoint needs the first ${n}`)
  const kept = lines.slice(0, n)
  writeFileAtomic(path, kept.map((l) => `${l}\n`).join(''))
  return kept
}

const parseLine = (path: string, line: string, i: number): Record<string, unknown> => {
  try {
    const v = parseJsonStrict(line)
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>
  } catch {
    // reported below
  }
  throw new GradstreamError(`${path}: line ${i + 1} is not a JSON object`)
}

const countOf = (checkpoint: Checkpoint, k: string): number => {
  const s = checkpoint.extra[k]
  if (s === undefined || !/^\d+$/.test(s)) throw new GradstreamError(`${checkpoint.file}: expected a "${k}" count in its metadata, got ${JSON.stringify(s ?? null)}`)
  return Number(s)
}

/**
 * Cuts metrics.ndjson and epochs.ndjson back to the checkpoint and rebuilds what the
 * trainer had in memory there: the epoch rows and the running train-loss mean (summed
 * in the same order, so it is the same double).
 */
export const resumePoint = (dir: string, checkpoint?: Checkpoint): ResumePoint => {
  const metricsPath = join(dir, 'metrics.ndjson')
  const epochsPath = join(dir, 'epochs.ndjson')
  if (checkpoint === undefined) {
    writeFileAtomic(metricsPath, '')
    writeFileAtomic(epochsPath, '')
    return { rows: [], epochLoss: MeanMonoid.empty, metricsLines: 0 }
  }
  const s = checkpoint.snapshot
  const metrics = truncateLines(metricsPath, countOf(checkpoint, 'metrics_lines')).map((l, i) => parseLine(metricsPath, l, i))
  const rows = truncateLines(epochsPath, countOf(checkpoint, 'epoch_rows')).map((l, i) => parseLine(epochsPath, l, i) as unknown as EpochRow)
  let epochLoss: Mean = MeanMonoid.empty
  if (!s.endOfEpoch)
    for (const m of metrics)
      if (m.epoch === s.epoch && typeof m.loss === 'number' && Number.isFinite(m.loss))
        epochLoss = MeanMonoid.concat(epochLoss, { sum: m.loss, count: 1 })
  return { initial: s, rows, epochLoss, metricsLines: metrics.length }
}

// ---------------------------------------------------------------------------------------

/**
 * The newest checkpoint of the run that loads and matches it, trying older ones when the
 * newest is truncated or corrupt (each skipped file is reported through `skip`).
 */
export const newestValidCheckpoint = (
  dir: string,
  run: PreparedRun,
  skip: (file: string, why: string) => void,
): Checkpoint | undefined => {
  const all = listCheckpoints(checkpointsDir(dir))
  for (let i = all.length - 1; i >= 0; i--) {
    try {
      const checkpoint = loadCheckpoint(all[i].path)
      checkMatchesRun(checkpoint, run)
      countOf(checkpoint, 'metrics_lines')
      countOf(checkpoint, 'epoch_rows')
      return checkpoint
    } catch (e) {
      if (!(e instanceof GradstreamError)) throw e
      skip(all[i].path, e.message.startsWith(all[i].path) ? e.message.slice(all[i].path.length).replace(/^: /, '') : e.message)
    }
  }
  return undefined
}

export const resumeCommand = async (args: readonly string[], io: Io): Promise<void> => {
  const { values, positionals } = parseFlags(args, { json: { type: 'boolean' } }, true)
  if (positionals.length !== 1) throw new UsageError(`expected one run directory, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`)
  const dir = positionals[0]
  // Everything is checked (config, data, checkpoints) before a file of the run is changed.
  const config = readRunConfig(dir)
  await withRunLock(dir, async () => {
    const run = prepareRun(config)
    const ckdir = checkpointsDir(dir)
    removeStaleTempFiles(ckdir)
    const checkpoint = newestValidCheckpoint(dir, run, (file, why) =>
      io.stderr.write(`gradstream resume: skipped ${file}: ${why}\n`),
    )
    if (checkpoint === undefined && config.parent !== undefined)
      throw new GradstreamError(`${dir}: no usable checkpoint (a fork of ${config.parent.dir} at step ${config.parent.step}); run the fork again`)
    const point = resumePoint(dir, checkpoint)
    const s = checkpoint?.snapshot
    io.stdout.write(
      s === undefined
        ? `gradstream resume: no usable checkpoint in ${dir}, starting the run over\n`
        : `gradstream resume: ${dir} from step ${s.step} (epoch ${s.epoch + 1}, batch ${s.position}), ${checkpoint?.file}\n`,
    )
    await runTraining(run, { out: dir, json: values.json === true, command: 'resume' }, io, point)
  })
}
