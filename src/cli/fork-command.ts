// `gradstream fork DIR --step N --out DIR2 [--lr X] [--optimizer O] [--batch B] [--epochs E]`:
// a new run that continues the run in DIR from its snapshot at step N with changed
// hyperparameters. DIR is only read. DIR2 gets its own config.json (with
// `parent: {dir, step}`), a checkpoint at step N (so DIR2 can be resumed and replayed
// from there at once), then the fork trains to its end like `gradstream train --out
// DIR2`; its metrics.ndjson holds the fork's own steps (N+1, ...). The state carries
// over as streams/history.ts `forkSnapshot` describes (same optimizer type: its state
// and step; another type: fresh state; a new batch size: the epoch's sample order, from
// the first new batch not yet covered).

import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { GradstreamError } from '../core/errors.ts'
import { writeFileAtomic } from '../io/atomic-write.ts'
import { checkpointName } from '../io/checkpoint.ts'
import { saveCheckpoint } from '../io/checkpoint-file.ts'
import { openNewRunDir } from '../io/run-dir.ts'
import { forkSnapshot } from '../streams/history.ts'
import { MeanMonoid } from '../streams/metrics.ts'
import type { Snapshot } from '../streams/snapshot.ts'
import type { PreparedRun, RunConfig } from './run-config.ts'
import { prepareRun } from './run-config.ts'
import { checkpointsDir, readRunConfig } from './resume-command.ts'
import { snapshotAt, stepFlag } from './replay-command.ts'
import type { Io } from './io.ts'
import { runTraining } from './train-command.ts'
import { choiceFlag, intFlag, numFlag, parseFlags, UsageError } from './usage.ts'

export const FORK_USAGE = `usage: gradstream fork DIR --step N --out DIR2 [--lr X] [--optimizer sgd|momentum|nesterov|adam]
       [--batch B] [--epochs E] [--checkpoint-every N] [--json]
Branches the run in DIR at step N into a new run in DIR2 with the changed settings
(DIR is left as it is), and trains the branch to its end.`

const FLAGS = {
  step: { type: 'string' },
  out: { type: 'string' },
  lr: { type: 'string' },
  optimizer: { type: 'string' },
  batch: { type: 'string' },
  epochs: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  json: { type: 'boolean' },
} as const

export const forkCommand = async (args: readonly string[], io: Io): Promise<void> => {
  const { values: v, positionals } = parseFlags(args, FLAGS, true)
  if (positionals.length !== 1) throw new UsageError(`expected one run directory, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`)
  const dir = positionals[0]
  const step = stepFlag(v.step)
  if (typeof v.out !== 'string') throw new UsageError('--out: expected the directory of the new run, e.g. --out runs/fork')
  const out = v.out
  const parentConfig = readRunConfig(dir)
  const config: RunConfig = {
    ...parentConfig,
    lr: numFlag('lr', v.lr, (n) => n > 0, 'a positive number') ?? parentConfig.lr,
    optimizer: choiceFlag('optimizer', v.optimizer, ['sgd', 'momentum', 'nesterov', 'adam'] as const) ?? parentConfig.optimizer,
    batch: intFlag('batch', v.batch) ?? parentConfig.batch,
    epochs: intFlag('epochs', v.epochs) ?? parentConfig.epochs,
    checkpointEvery: intFlag('checkpoint-every', v['checkpoint-every']) ?? parentConfig.checkpointEvery,
    parent: { dir, step },
  }
  // The new directory is checked, created and locked before the run is replayed.
  const outDir = openNewRunDir(out, { flag: '--out' })
  try {
    await forkInto(outDir.path(), { dir, step, parentConfig, config, json: v.json === true }, io, () => outDir.abort())
  } finally {
    outDir.release()
  }
}

const forkInto = async (
  out: string,
  o: { readonly dir: string; readonly step: number; readonly parentConfig: RunConfig; readonly config: RunConfig; readonly json: boolean },
  io: Io,
  abort: () => void,
): Promise<void> => {
  const { dir, step, parentConfig, config } = o
  let initial: Snapshot
  let run: PreparedRun
  try {
    const parent = prepareRun(parentConfig)
    run = prepareRun(config)
    const { snapshot } = await snapshotAt(dir, step, parent)
    initial = forkSnapshot(snapshot, {
      from: parent.optimizer,
      to: run.optimizer,
      batchSize: config.batch !== parentConfig.batch ? { from: parentConfig.batch, to: config.batch, source: run.source } : undefined,
    })
    const total = config.epochs * (run.source.batchesPerEpoch ?? 0)
    if (initial.step >= total)
      throw new GradstreamError(
        `--step: the fork at step ${step} has nothing left to train (its run ends at step ${total}); give more --epochs or an earlier --step`,
      )
  } catch (e) {
    abort()
    throw e
  }
  mkdirSync(checkpointsDir(out), { recursive: true })
  writeFileSync(join(out, 'metrics.ndjson'), '')
  writeFileSync(join(out, 'epochs.ndjson'), '')
  writeFileAtomic(join(out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`)
  // The fork's first checkpoint: DIR2 is resumable (and replayable from N) from here on.
  saveCheckpoint(join(checkpointsDir(out), checkpointName(initial.step)), initial, {
    model: run.objective.spec,
    optimizer: run.optimizer.spec,
    extra: { run_config: JSON.stringify(config), metrics_lines: '0', epoch_rows: '0' },
  })
  const changed = (['lr', 'optimizer', 'batch', 'epochs'] as const).filter((k) => config[k] !== parentConfig[k])
  io.stdout.write(
    `gradstream fork: ${dir} at step ${step} -> ${out}` +
      (changed.length > 0 ? ` with ${changed.map((k) => `${k} ${parentConfig[k]} -> ${config[k]}`).join(', ')}` : ' (no changes)') +
      '\n',
  )
  await runTraining(run, { out, json: o.json, command: 'fork' }, io, { initial, rows: [], epochLoss: MeanMonoid.empty, metricsLines: 0 })
}
