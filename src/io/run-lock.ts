// One writer per run directory: an exclusive lock file, DIR/.gradstream.lock.
//
// Two processes appending to the same metrics.ndjson interleave their lines, and two
// `resume`s of one run both "finish" it with a file neither would have written alone
// (issue 12). Every command that writes a run directory (train --out, resume, fork's new
// directory, online --checkpoint-dir) holds this lock while it writes; readers (replay,
// inspect) take none, because every file they read is replaced atomically or only
// appended to.
//
// The lock is created with O_EXCL ('wx'), so of two processes exactly one succeeds. It
// holds JSON {pid, host, started, boot}: `boot` is the process's start time from
// /proc/PID/stat on Linux, so a pid reused by an unrelated process after the holder died
// is recognised as stale. A lock whose holder is dead (same host, no such pid, or the pid
// now belongs to a process started at another time) is stale and is taken over: under a
// second O_EXCL file (DIR/.gradstream.lock.takeover), the taker reads the lock again,
// checks it is still the same stale one, removes it and creates its own. Two processes
// taking over the same stale lock therefore cannot both win. A lock from another host
// cannot be checked from here: it is refused with its holder named, and the message says
// which file to delete if that host's process is known to be gone.
//
// The lock is released when the command ends (also on an exception and on process.exit,
// through an 'exit' handler), and only if it still holds this process's content.

import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { GradstreamError } from '../core/errors.ts'
import { fsError } from './fs-error.ts'

export const LOCK_NAME = '.gradstream.lock'

export interface LockInfo {
  readonly pid: number
  readonly host: string
  readonly started: string
  /** The holder's start time in clock ticks since boot (Linux), or null. */
  readonly boot: number | null
}

/** A held lock; `release` is idempotent. */
export interface RunLock {
  readonly path: string
  readonly info: LockInfo
  release(): void
  /** The lock now lives at `path` (its directory was renamed into place). */
  moved(path: string): void
}

/** A run directory already has a live writer. */
export class RunLockedError extends GradstreamError {
  override readonly name = 'RunLockedError'
}

/** Field 22 of /proc/PID/stat: the process's start time after boot, in clock ticks. */
export const processStartTime = (pid: number): number | null => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) is in parentheses and may contain spaces: skip past it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const v = Number(fields[19])
    return Number.isFinite(v) ? v : null
  } catch {
    return null
  }
}

let taken = 0

// `n` tells apart two locks of one process (a run replaced with --force holds two).
const ownInfo = (): LockInfo & { readonly n: number } => ({
  pid: process.pid,
  host: hostname(),
  started: new Date().toISOString(),
  boot: processStartTime(process.pid),
  n: taken++,
})

const parseInfo = (text: string): LockInfo | undefined => {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>
    if (typeof v === 'object' && v !== null && Number.isSafeInteger(v.pid) && typeof v.host === 'string')
      return { pid: v.pid as number, host: v.host, started: String(v.started ?? ''), boot: typeof v.boot === 'number' ? v.boot : null }
  } catch {
    // A torn or foreign file: undefined
  }
  return undefined
}

/** Whether the process a lock names is still running (on this host). */
export const holderAlive = (info: LockInfo): boolean => {
  if (info.host !== hostname()) return true // cannot tell: assume it is
  if (info.pid === process.pid) return true
  try {
    process.kill(info.pid, 0)
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
  const boot = processStartTime(info.pid)
  return info.boot === null || boot === null || boot === info.boot
}

const readLock = (path: string): { text: string; info: LockInfo | undefined } | undefined => {
  try {
    const text = readFileSync(path, 'utf8')
    return { text, info: parseInfo(text) }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw fsError(e, path)
  }
}


/** Creates `path` exclusively with `text`; false if it exists. */
const createExclusive = (path: string, text: string): boolean => {
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o644)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw fsError(e, path)
  }
  try {
    writeSync(fd, text)
  } finally {
    closeSync(fd)
  }
  return true
}

const describe = (info: LockInfo | undefined): string =>
  info === undefined ? 'an unreadable lock' : `process ${info.pid} on ${info.host} (since ${info.started})`

const removeIf = (path: string, text: string): void => {
  try {
    if (readFileSync(path, 'utf8') === text) unlinkSync(path)
  } catch {
    // already gone
  }
}

/**
 * Takes the lock of run directory `dir` (which must exist), or throws a one-line
 * RunLockedError naming the holder.
 */
export const lockRunDir = (dir: string): RunLock => {
  let path = join(dir, LOCK_NAME)
  const info = ownInfo()
  const text = `${JSON.stringify(info)}\n`
  for (let attempt = 0; ; attempt++) {
    if (createExclusive(path, text)) break
    const held = readLock(path)
    if (held === undefined) continue // released between our two calls: try again
    if (held.info !== undefined && holderAlive(held.info)) {
      const remote = held.info.host !== hostname()
      throw new RunLockedError(
        `${dir} is in use by ${describe(held.info)}; one process at a time writes a run` +
          (remote ? ` (if that process is gone, delete ${path})` : ''),
      )
    }
    if (held.info === undefined && attempt === 0) {
      // Possibly a lock being written this instant: look again once before calling it stale.
      continue
    }
    // Stale (its holder is dead, or the file is not a lock): take it over under a guard.
    const guard = `${path}.takeover`
    if (!createExclusive(guard, text)) {
      const g = readLock(guard)
      if (g?.info !== undefined && !holderAlive(g.info)) removeIf(guard, g.text)
      if (attempt > 20) throw new RunLockedError(`${dir}: another process is taking over its stale lock (${guard})`)
      continue
    }
    try {
      const again = readLock(path)
      if (again !== undefined && again.text === held.text) unlinkSync(path)
    } finally {
      removeIf(guard, text)
    }
    if (attempt > 20) throw new RunLockedError(`${dir}: could not take its lock ${path}`)
  }
  let released = false
  const release = (): void => {
    if (released) return
    released = true
    process.removeListener('exit', release)
    removeIf(path, text)
  }
  process.on('exit', release)
  return {
    get path() {
      return path
    },
    info,
    release,
    moved: (to: string) => void (path = to),
  }
}

/** Reads a run directory's lock without taking it (undefined when there is none). */
export const readRunLock = (dir: string): LockInfo | undefined => readLock(join(dir, LOCK_NAME))?.info

/** Runs `body` holding the lock of `dir`; releases it however body ends. */
export const withRunLock = async <T>(dir: string, body: (lock: RunLock) => Promise<T>): Promise<T> => {
  const lock = lockRunDir(dir)
  try {
    return await body(lock)
  } finally {
    lock.release()
  }
}
