// `gradstream fork DIR --step N --out DIR2 [--lr X] [--optimizer O] [--batch B] [--epochs E]`:
// a new run that continues the run in DIR from its snapshot at step N with changed
// hyperparameters. DIR is only read. DIR2 gets its own config.json (with
// `parent: {dir, step}`), a checkpoint at step N (so DIR2 can be resumed and replayed
// from there at once), then the fork trains to its end like `gradstream train --out
// DIR2`; its metrics.ndjson holds the fork's own steps (N+1, ...). The state carries
// over as streams/history.ts `forkSnapshot` describes (same optimizer type: its state
// and step; another type: fresh state; a new batch size: the epoch's sample order, from
// the first new batch not yet covered).

import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkpointName } from '../io/checkpoint.ts'
import { saveCheckpoint } from '../io/checkpoint-file.ts'
import { forkSnapshot } from '../streams/history.ts'
import { MeanMonoid } from '../streams/metrics.ts'
import type { RunConfig } from './run-config.ts'
import { prepareRun } from './run-config.ts'
import { checkpointsDir, readRunConfig } from './resume-command.ts'
import { snapshotAt, stepFlag } from './replay-command.ts'
import type { Io } from './train-command.ts'
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
  if (existsSync(out) && readdirSync(out).length > 0) throw new UsageError(`--out: ${out} is not empty; the fork needs a new directory`)
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
  const parent = prepareRun(parentConfig)
  const run = prepareRun(config)
  const { snapshot } = await snapshotAt(dir, step, parent)
  const initial = forkSnapshot(snapshot, {
    from: parent.optimizer,
    to: run.optimizer,
    batchSize: config.batch !== parentConfig.batch ? { from: parentConfig.batch, to: config.batch, source: run.source } : undefined,
  })
  mkdirSync(checkpointsDir(out), { recursive: true })
  writeFileSync(join(out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`)
  writeFileSync(join(out, 'metrics.ndjson'), '')
  writeFileSync(join(out, 'epochs.ndjson'), '')
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
  await runTraining(run, { out, json: v.json === true }, io, { initial, rows: [], epochLoss: MeanMonoid.empty, metricsLines: 0 })
}
