// What `gradstream online --checkpoint-dir DIR` (a file, stdin, or --redis) writes beside
// its checkpoints so that `gradstream dashboard DIR` can show the run and replay it:
//
//   online.json      the run's config: where the records came from (file path, or Redis URL,
//                    stream and group), the model flags, seed, batch; written atomically
//                    (temporary file + rename) when the process starts;
//   metrics.ndjson   one line per snapshot event (every --report-every examples, and the
//                    last one): record number, step, entry id (Redis), cumulative and
//                    rolling accuracy and loss.
//
// metrics.ndjson is appended without fsync: it is a view of the run, not its state (the
// checkpoints are). Each line goes out in one append write (O_APPEND) of a few hundred
// bytes, so lines never interleave; a crash can leave a torn last line, which readers
// skip (src/server/run-files.ts). After a Redis learner restarts, the records since its
// last checkpoint are learned again and their lines written again: readers keep the first
// line of each record number.

import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { ModelSpec } from '../models/objective.ts'
import type { OptimizerSpec } from '../models/optimizers.ts'
import type { LogOnlineEvent } from '../streams/log-online.ts'
import type { OnlineEvent } from '../streams/online.ts'
import { macroF1 } from '../streams/rolling-metrics.ts'

export const ONLINE_CONFIG = 'online.json'
export const ONLINE_METRICS = 'metrics.ndjson'

/** Where an online run's records came from. */
export type OnlineRunSource =
  | { readonly type: 'file'; readonly path: string; readonly format?: 'csv' | 'ndjson' }
  | { readonly type: 'stdin' }
  | { readonly type: 'redis'; readonly url: string; readonly stream: string; readonly group: string }

/** online.json. */
export interface OnlineRunConfig {
  readonly kind: 'online'
  readonly source: OnlineRunSource
  readonly label: string
  readonly features?: readonly string[]
  readonly classes?: readonly string[]
  readonly numClasses: number
  readonly model: string
  readonly seed: number
  readonly batch: number
  readonly window: number
  readonly reportEvery: number
  /** --loss euclidean: a regressor of the numeric label column. */
  readonly loss?: 'softmax' | 'euclidean'
  /** --label-delay (records). */
  readonly labelDelay?: number
  /** --drift and --on-drift. */
  readonly drift?: 'adwin' | 'page-hinkley'
  readonly onDrift?: 'warn' | 'reset'
  /** The model and optimizer as built (file runs; a Redis run's checkpoints hold them). */
  readonly objective?: ModelSpec
  readonly optimizer?: OptimizerSpec
  /** The step this process continued from (0: a new run). */
  readonly resumedFromStep: number
}

/** One line of metrics.ndjson. */
export interface OnlineMetricsLine {
  /** Records read so far (examples and rejected records; over the whole stream for Redis). */
  readonly record: number
  readonly step: number
  /** The last stream entry read (Redis runs). */
  readonly entryId?: string
  readonly examples: number
  readonly learned: number
  readonly rejected: number
  /** Cumulative prequential accuracy and loss (null: none yet). */
  readonly accuracy: number | null
  readonly loss: number | null
  /** Over the last --window examples of this process. */
  readonly windowAccuracy: number | null
  readonly windowLoss: number | null
  /** Regressors: prequential MAE and RMSE, cumulative and over the window. */
  readonly mae?: number | null
  readonly rmse?: number | null
  readonly windowMae?: number | null
  readonly windowRmse?: number | null
  /** A classifier's cumulative prequential macro F1 (null: none yet). */
  readonly macroF1?: number | null
  /** Changes the drift detector signalled (with --drift), and resets among them. */
  readonly drifts?: number
  readonly resets?: number
  /** The last line of a process that ended (its input did, it went idle, or a signal). */
  readonly final?: true
}

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null)

/** The line of a snapshot event (undefined for other events). */
export const metricsLineOf = (e: OnlineEvent | LogOnlineEvent): OnlineMetricsLine | undefined => {
  if (e.type !== 'snapshot') return undefined
  const m = e.metrics
  const w = { windowAccuracy: finite(m.windowAccuracy), windowLoss: finite(m.windowLoss), ...(e.final ? { final: true as const } : {}) }
  if ('counts' in e) {
    const c = e.counts
    return {
      record: c.seen,
      step: e.snapshot.step,
      ...(e.entryId !== undefined ? { entryId: e.entryId } : {}),
      examples: c.examples,
      learned: c.learned,
      rejected: c.rejected,
      accuracy: c.examples > 0 ? c.hits / c.examples : null,
      loss: c.lossCount > 0 ? c.lossSum / c.lossCount : null,
      ...(c.classCounts !== undefined ? { macroF1: finite(macroF1(c.classCounts)) } : {}),
      ...w,
    }
  }
  const regression = Number.isFinite(m.mae) ? { mae: finite(m.mae), rmse: finite(m.rmse), windowMae: finite(m.windowMae), windowRmse: finite(m.windowRmse) } : {}
  const drift = m.drifts > 0 || m.resets > 0 ? { drifts: m.drifts, resets: m.resets } : {}
  return { record: m.seen, step: e.snapshot.step, examples: m.examples, learned: m.learned, rejected: m.rejected, accuracy: finite(m.accuracy), loss: finite(m.loss), ...regression, ...drift, ...w }
}

export interface OnlineRunLog {
  /** Appends the line of a snapshot event; other events are ignored. */
  readonly event: (e: OnlineEvent | LogOnlineEvent) => void
}

/** What the config takes of `gradstream online`'s flags (OnlineFlags has them). */
export type RunLogFlags = Pick<
  OnlineRunConfig,
  'label' | 'features' | 'classes' | 'numClasses' | 'model' | 'seed' | 'batch' | 'window' | 'reportEvery' | 'loss' | 'labelDelay' | 'drift' | 'onDrift'
>

/**
 * A Redis URL without its user and password: online.json is read by whoever can read the
 * run directory (the dashboard, a colleague), so a secret does not go in it. A dashboard
 * replaying a stream on a server that needs them takes them from GRADSTREAM_REDIS_USER /
 * GRADSTREAM_REDIS_PASSWORD (withCredentials).
 */
export const withoutCredentials = (url: string): string => {
  const u = new URL(url)
  if (u.username === '' && u.password === '') return url
  u.username = ''
  u.password = ''
  return u.toString()
}

/** A stored Redis URL with the credentials of the environment, if any are set. */
export const withCredentials = (url: string, env: { readonly [name: string]: string | undefined } = process.env): string => {
  const user = env.GRADSTREAM_REDIS_USER
  const password = env.GRADSTREAM_REDIS_PASSWORD
  if (user === undefined && password === undefined) return url
  const u = new URL(url)
  if (user !== undefined) u.username = user
  if (password !== undefined) u.password = password
  return u.toString()
}

/** The config of a run from these flags (`source` and, for file runs, the model as built). */
export const onlineRunConfig = (
  flags: RunLogFlags,
  source: OnlineRunSource,
  resumedFromStep: number,
  built?: { readonly objective: { readonly spec: ModelSpec }; readonly optimizer: { readonly spec: OptimizerSpec } },
): OnlineRunConfig => ({
  kind: 'online',
  source: source.type === 'file' ? { ...source, path: resolve(source.path) } : source.type === 'redis' ? { ...source, url: withoutCredentials(source.url) } : source,
  label: flags.label,
  ...(flags.features !== undefined ? { features: flags.features } : {}),
  ...(flags.classes !== undefined ? { classes: flags.classes } : {}),
  numClasses: flags.numClasses,
  model: flags.model,
  seed: flags.seed,
  batch: flags.batch,
  window: flags.window,
  reportEvery: flags.reportEvery,
  ...(flags.loss !== undefined ? { loss: flags.loss } : {}),
  ...(flags.labelDelay !== undefined && flags.labelDelay > 0 ? { labelDelay: flags.labelDelay } : {}),
  ...(flags.drift !== undefined ? { drift: flags.drift, onDrift: flags.onDrift ?? 'warn' } : {}),
  ...(built !== undefined ? { objective: built.objective.spec, optimizer: built.optimizer.spec } : {}),
  resumedFromStep,
})

/** Writes online.json into `dir` and returns the appender of metrics.ndjson. */
export const openOnlineRunLog = (dir: string, config: OnlineRunConfig): OnlineRunLog => {
  mkdirSync(dir, { recursive: true })
  const tmp = join(dir, `.${ONLINE_CONFIG}.${process.pid}.tmp`)
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`)
  renameSync(tmp, join(dir, ONLINE_CONFIG))
  const path = join(dir, ONLINE_METRICS)
  return {
    event: (e) => {
      const line = metricsLineOf(e)
      if (line !== undefined) appendFileSync(path, `${JSON.stringify(line)}\n`)
    },
  }
}
