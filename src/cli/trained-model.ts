// A trained model as `evaluate`, `predict` and `export` read it: from a run directory (its
// config.json and latest checkpoint) or from one checkpoint file (whose run_config
// metadata, when the CLI wrote it, holds the same config). The network is rebuilt from the
// checkpoint's model spec alone, so no training data is needed to use a model; the input
// schema (classes, feature columns, fitted scaling) comes from the config.

import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { GradstreamError } from '../core/errors.ts'
import type { Params } from '../core/tree.ts'
import type { Checkpoint } from '../io/checkpoint.ts'
import { checkLayout } from '../io/checkpoint.ts'
import { listCheckpoints, loadCheckpoint } from '../io/checkpoint-file.ts'
import { parseJsonStrict } from '../io/safetensors.ts'
import type { AnyObjective } from '../models/objective.ts'
import { objectiveFromSpec } from '../models/objective-spec.ts'
import type { InputSchema } from './input-schema.ts'
import { inputSchemaFromJson, MNIST_SCHEMA } from './input-schema.ts'
import { checkpointsDir, readRunConfig } from './resume-command.ts'
import type { RunConfig } from './run-config.ts'
import { loadData } from './run-config.ts'

export interface TrainedModel {
  /** What the user named (run directory or file), and the checkpoint file read. */
  readonly source: string
  readonly checkpoint: Checkpoint
  readonly objective: AnyObjective
  readonly params: Params
  /** The run's config, when known (run directories; checkpoints written by the CLI). */
  readonly config?: RunConfig
  /** The inputs as training saw them, when known. */
  readonly input?: InputSchema
}

const configFromCheckpoint = (c: Checkpoint): RunConfig | undefined => {
  const raw = c.extra.run_config
  if (raw === undefined) return undefined
  let v: unknown
  try {
    v = parseJsonStrict(raw)
  } catch (e) {
    throw new GradstreamError(`${c.file}: metadata "run_config": expected JSON (${(e as Error).message})`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof (v as { model?: unknown }).model !== 'string')
    throw new GradstreamError(`${c.file}: metadata "run_config": expected a run config object`)
  return v as RunConfig
}

/**
 * The input schema of a run: as stored; for MNIST runs the digits' schema; for tabular runs
 * written before schemas were stored, the training split's fit recomputed from the run's
 * own training data (the same numbers training used; evaluation data never enters it).
 */
const inputOf = (config: RunConfig | undefined, where: string): InputSchema | undefined => {
  if (config === undefined) return undefined
  if (config.input !== undefined) return inputSchemaFromJson(config.input, `${where} "input"`)
  if (config.data === 'mnist') return MNIST_SCHEMA
  return existsSync(config.data) ? loadData(config).input : undefined
}

/** Loads RUN_DIR (latest checkpoint) or FILE.safetensors as a usable model. */
export const loadTrainedModel = (path: string): TrainedModel => {
  if (!existsSync(path)) throw new GradstreamError(`${path}: no such run directory or .safetensors file`)
  let checkpoint: Checkpoint
  let config: RunConfig | undefined
  let where: string
  if (statSync(path).isDirectory()) {
    config = readRunConfig(path)
    const all = listCheckpoints(checkpointsDir(path))
    if (all.length === 0) throw new GradstreamError(`${path}: no checkpoint in ${checkpointsDir(path)} yet (the run has not finished an epoch)`)
    checkpoint = loadCheckpoint(all[all.length - 1].path)
    where = join(path, 'config.json')
  } else {
    checkpoint = loadCheckpoint(path)
    config = configFromCheckpoint(checkpoint)
    where = `${path} run_config`
  }
  const built = objectiveFromSpec(checkpoint.model)
  if (E.isLeft(built)) throw new GradstreamError(`${checkpoint.file}: ${built.left.message}`)
  checkLayout(built.right, checkpoint)
  return { source: path, checkpoint, objective: built.right, params: checkpoint.snapshot.params, config, input: inputOf(config, where) }
}

/** A one-word description for headers: "mlp, step 60". */
export const describeModel = (m: TrainedModel): string =>
  `${m.config?.model ?? m.checkpoint.model.kind}, step ${m.checkpoint.snapshot.step}`
