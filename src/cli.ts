// The command-line front: `gradstream <command> [flags]`.
// Bad input (flags, files, data) prints one line on stderr and exits with code 2; no
// stack traces for anything the user can fix.

import { GradstreamError } from './core/errors.ts'
import { fsErrorLine, isFsError } from './io/fs-error.ts'
import type { Io } from './cli/train-command.ts'
import { ONLINE_USAGE, onlineCommand } from './cli/online-command.ts'
import { TRAIN_USAGE, trainCommand } from './cli/train-command.ts'
import { FORK_USAGE, forkCommand } from './cli/fork-command.ts'
import { INSPECT_USAGE, inspectCommand } from './cli/inspect-command.ts'
import { EVALUATE_USAGE, evaluateCommand } from './cli/evaluate-command.ts'
import { PREDICT_USAGE, predictCommand } from './cli/predict-command.ts'
import { EXPORT_USAGE, exportCommand } from './cli/export-command.ts'
import { REPLAY_USAGE, replayCommand } from './cli/replay-command.ts'
import { RESUME_USAGE, resumeCommand } from './cli/resume-command.ts'
import { closestName, UsageError } from './cli/usage.ts'
import { DASHBOARD_USAGE, dashboardCommand } from './server/dashboard-command.ts'
import { PRODUCE_USAGE, produceCommand } from './cli/produce-command.ts'
import { ONLINE_REDIS_USAGE, onlineRedisCommand, readsRedis } from './cli/online-redis.ts'
import { followsModels, PREDICT_FOLLOW_USAGE, predictFollowCommand } from './cli/predict-follow.ts'
import { REPLAY_ENTRY_USAGE, replayEntryCommand, replaysEntry } from './cli/replay-entry.ts'

const USAGE = `gradstream: deep learning for TypeScript as a functional-reactive pipeline

usage: gradstream <command> [flags]
  train      train a model of the zoo on MNIST digits or a CSV/NDJSON file
  online     learn from a stream of CSV/NDJSON records (a file or stdin), predicting each first
  produce    append the records of a CSV/NDJSON file to a Redis stream (for online --redis)
  resume     continue an interrupted run from its latest checkpoint
  replay     recompute the snapshot of a run at any step
  fork       branch a run at a step with changed hyperparameters
  inspect    check a .safetensors file and list its tensors and metadata
  evaluate   loss, accuracy, per-class precision/recall and confusion matrix of a trained model
  predict    classes and probabilities of a trained model for records (a file or stdin)
  export     a trained network for PyTorch: model.safetensors and model.py
  dashboard  a web page over runs: curves, an exact step slider, compare and fork
  help       this text

${TRAIN_USAGE}

${ONLINE_USAGE}

${ONLINE_REDIS_USAGE}

${PRODUCE_USAGE}

${RESUME_USAGE}

${REPLAY_USAGE}

${REPLAY_ENTRY_USAGE}

${FORK_USAGE}

${INSPECT_USAGE}

${EVALUATE_USAGE}

${PREDICT_USAGE}

${EXPORT_USAGE}

${DASHBOARD_USAGE}

${PREDICT_FOLLOW_USAGE}`

type Command = (args: readonly string[], io: Io) => Promise<void>

/** Each command's own text for `gradstream <command> --help` and `gradstream help <command>`. */
const HELP: Record<string, string> = {
  train: TRAIN_USAGE,
  online: `${ONLINE_USAGE}\n\n${ONLINE_REDIS_USAGE}`,
  produce: PRODUCE_USAGE,
  resume: RESUME_USAGE,
  replay: `${REPLAY_USAGE}\n\n${REPLAY_ENTRY_USAGE}`,
  fork: FORK_USAGE,
  inspect: INSPECT_USAGE,
  evaluate: EVALUATE_USAGE,
  predict: `${PREDICT_USAGE}\n\n${PREDICT_FOLLOW_USAGE}`,
  export: EXPORT_USAGE,
  dashboard: DASHBOARD_USAGE,
}

const helpText = (name: string | undefined): string => (name !== undefined && Object.hasOwn(HELP, name) ? HELP[name] : USAGE)

const COMMANDS: Record<string, Command> = {
  train: trainCommand,
  // --redis: the Redis Streams mode (cli/online-redis.ts); otherwise a file or stdin.
  online: (args, io) => (readsRedis(args) ? onlineRedisCommand(args, io) : onlineCommand(args, io)),
  produce: produceCommand,
  resume: resumeCommand,
  // --entry: a state of an online --redis run (cli/replay-entry.ts).
  replay: (args, io) => (replaysEntry(args) ? replayEntryCommand(args, io) : replayCommand(args, io)),
  fork: forkCommand,
  inspect: inspectCommand,
  evaluate: evaluateCommand,
  // --follow: the newest model a Redis learner publishes (cli/predict-follow.ts).
  predict: (args, io) => (followsModels(args) ? predictFollowCommand(args, io) : predictCommand(args, io)),
  export: exportCommand,
  dashboard: dashboardCommand,
  help: async (args, io) => {
    if (args.length > 0 && !Object.hasOwn(HELP, args[0])) throw unknownCommand(args[0])
    io.stdout.write(`${helpText(args[0])}\n`)
  },
}

const unknownCommand = (name: string): UsageError => {
  const near = closestName(name, Object.keys(COMMANDS))
  return new UsageError(
    `expected a command (${Object.keys(COMMANDS).join(', ')}), got ${JSON.stringify(name)}${near !== undefined ? `; did you mean ${near}?` : ''}`,
  )
}

/** Runs a command line; resolves to the exit code. */
export const main = async (argv: readonly string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> => {
  const [first = 'help', ...rest] = argv
  const name = first === '--help' || first === '-h' ? 'help' : first
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  try {
    if (command === undefined) throw unknownCommand(name)
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(`${helpText(name)}\n`)
      return 0
    }
    await command(rest, io)
    return 0
  } catch (e) {
    if (e instanceof GradstreamError) {
      io.stderr.write(`gradstream ${name}: ${e.message}\n`)
      return 2
    }
    // A file-system failure deep in a run (a full disk while appending metrics): one line.
    if (isFsError(e)) {
      io.stderr.write(`gradstream ${name}: ${fsErrorLine(e)}\n`)
      return 2
    }
    throw e
  }
}

/** Runs main on the process's arguments and sets the exit code (the bin and `npm start`). */
export const run = (): void => {
  // Output piped into a reader that stops early (| head): stop quietly, like other tools.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw e
  })
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (e: unknown) => {
      process.stderr.write(`gradstream: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
      process.exitCode = 1
    },
  )
}

if (process.argv[1] !== undefined && /(^|[\\/])cli\.ts$/.test(process.argv[1])) run()
