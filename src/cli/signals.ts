// SIGINT / SIGTERM for long-running commands (train, resume, fork, online).
//
// The first signal asks the command to stop cleanly: training finishes the step it is
// computing, online learning the record it is learning; then the command writes its final
// checkpoint, prints its summary (and the --json line) and exits 0. Work between the last
// periodic checkpoint and the signal is kept, not thrown away. A second signal exits at
// once with the shell's code for it (128 + signal number: 130, 143); the 'exit' handlers
// still run, so the run directory's lock is released, and every file there was written
// atomically or line by line, so `resume` picks up from the last checkpoint.
//
// Signals reach JavaScript between event-loop turns: training yields every 50 ms
// (streams/source.ts YIELD_MS) and online learning between records, so the stop is seen
// within one step (or one record).

import type { Io } from './io.ts'

export interface StopRequest {
  /** The signal that asked to stop, or undefined while none has. */
  readonly signal: () => NodeJS.Signals | undefined
  /** Resolves with the first signal (for code waiting on input, e.g. stdin). */
  readonly stopped: Promise<NodeJS.Signals>
  /** Removes the handlers (the command is over). */
  dispose(): void
}

const CODES: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 }

/** Handles SIGINT and SIGTERM until disposed; `doing` says what will be finished. */
export const stopOnSignals = (io: Pick<Io, 'stderr'>, command: string, doing: string): StopRequest => {
  let first: NodeJS.Signals | undefined
  let resolveStopped: (s: NodeJS.Signals) => void = () => undefined
  const stopped = new Promise<NodeJS.Signals>((r) => (resolveStopped = r))
  const handler = (signal: NodeJS.Signals): void => {
    if (first === undefined) {
      first = signal
      io.stderr.write(`gradstream ${command}: ${signal}: ${doing}, then saving and stopping (${signal} again stops at once)\n`)
      resolveStopped(signal)
      return
    }
    io.stderr.write(`gradstream ${command}: ${signal} again: stopping now\n`)
    process.exit(CODES[signal] ?? 1)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    signal: () => first,
    stopped,
    dispose: () => {
      process.removeListener('SIGINT', handler)
      process.removeListener('SIGTERM', handler)
    },
  }
}

/**
 * The items of `source` until a stop is requested: the next item is asked for only while
 * no signal has come, and a read that is waiting (stdin with nothing to say) is abandoned
 * when one comes. The source's iterator is closed either way.
 */
export async function* untilStopped<T>(source: AsyncIterable<T>, stop: StopRequest): AsyncGenerator<T, void, undefined> {
  const it = source[Symbol.asyncIterator]()
  const halt = stop.stopped.then(() => ({ done: true as const, value: undefined }))
  let finished = false
  try {
    while (stop.signal() === undefined) {
      const r = await Promise.race([it.next(), halt])
      if (r.done) {
        finished = stop.signal() === undefined
        return
      }
      yield r.value
    }
  } finally {
    // Do not wait for a read that may never end (a terminal); just close the source.
    if (!finished) void Promise.resolve(it.return?.()).catch(() => undefined)
  }
}
