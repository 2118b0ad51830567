// `gradstream replay DIR --step N [--json]`: the snapshot of a run at any step, recomputed
// from the nearest checkpoint at or before it by replaying the batch stream (at most
// --checkpoint-every steps of training). Prints the step's loss, learning rate, the
// parameter hash (SHA-256 of the raw bytes, the same as summary.json's) and the L2 norm
// of every tensor.

import { replayTo } from '../streams/history.ts'
import type { Snapshot } from '../streams/snapshot.ts'
import { hashParams } from '../streams/snapshot.ts'
import { showShape, size } from '../core/tensor.ts'
import type { PreparedRun } from './run-config.ts'
import { prepareRun } from './run-config.ts'
import { nearestStart, readRunConfig } from './resume-command.ts'
import { runDefinition } from './run-config.ts'
import type { Io } from './io.ts'
import { intFlag, parseFlags, UsageError } from './usage.ts'

export const REPLAY_USAGE = `usage: gradstream replay DIR --step N [--json]
Recomputes the snapshot at step N of the run in DIR and prints its loss, learning rate,
parameter hash and per-tensor L2 norms.`

export interface ReplayReport {
  readonly step: number
  readonly epoch: number
  readonly position: number
  readonly loss: number | null
  readonly lr: number
  readonly hash: string
  /** The checkpoint step replayed from, and the steps trained to get here. */
  readonly from: number
  readonly replayed: number
  readonly tensors: readonly { readonly name: string; readonly shape: readonly number[]; readonly norm: number }[]
}

export const tensorNorms = (s: Snapshot): ReplayReport['tensors'] =>
  s.layout.names.map((name, i) => {
    const off = s.layout.offsets[i]
    let sq = 0
    for (let j = off; j < off + size(s.layout.shapes[i]); j++) sq += s.flat[j] * s.flat[j]
    return { name, shape: [...s.layout.shapes[i]], norm: Math.sqrt(sq) }
  })

/** Parses a required --step flag. */
export const stepFlag = (v: string | boolean | undefined): number => {
  const step = intFlag('step', v, 0)
  if (step === undefined) throw new UsageError('--step: expected the step to go to, e.g. --step 100')
  return step
}

/** The snapshot at `step` of the run in `dir`, and where it was replayed from. */
export const snapshotAt = async (
  dir: string,
  step: number,
  run: PreparedRun = prepareRun(readRunConfig(dir)),
): Promise<{ snapshot: Snapshot; from: number }> => {
  const { snapshot: from } = nearestStart(dir, run, step)
  return { snapshot: await replayTo(runDefinition(run), from, step), from: from.step }
}

export const replayCommand = async (args: readonly string[], io: Io): Promise<void> => {
  const { values, positionals } = parseFlags(args, { step: { type: 'string' }, json: { type: 'boolean' } }, true)
  if (positionals.length !== 1) throw new UsageError(`expected one run directory, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`)
  const step = stepFlag(values.step)
  const { snapshot: s, from } = await snapshotAt(positionals[0], step)
  const report: ReplayReport = {
    step: s.step,
    epoch: s.epoch,
    position: s.position,
    loss: Number.isFinite(s.metrics.loss) ? s.metrics.loss : null,
    lr: s.lr,
    hash: hashParams(s),
    from,
    replayed: s.step - from,
    tensors: tensorNorms(s),
  }
  if (values.json === true) {
    io.stdout.write(`${JSON.stringify(report)}\n`)
    return
  }
  const say = (line: string): void => void io.stdout.write(`${line}\n`)
  say(`step ${report.step} (epoch ${report.epoch + 1}, batch ${report.position}), replayed ${report.replayed} steps from step ${from}`)
  say(`loss ${report.loss === null ? 'n/a (no step yet)' : report.loss.toFixed(6)}, lr ${report.lr}`)
  say(`hash ${report.hash}`)
  const width = Math.max(6, ...report.tensors.map((t) => t.name.length))
  const shapes = report.tensors.map((t) => showShape(t.shape))
  const sw = Math.max(5, ...shapes.map((x) => x.length))
  say(`${'tensor'.padEnd(width)}  ${'shape'.padEnd(sw)}  L2 norm`)
  report.tensors.forEach((t, i) => say(`${t.name.padEnd(width)}  ${shapes[i].padEnd(sw)}  ${t.norm.toPrecision(6)}`))
}
