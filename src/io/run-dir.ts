// Opening a run directory for a new run (`train --out DIR`, `fork ... --out DIR`): checked
// before any data is loaded, locked, and never mixed with another run.
//
//   - DIR is checked first: every ancestor that exists must be a directory, DIR itself a
//     directory or absent (a dangling symlink, a file, a path under a file: one line
//     naming the path and the cause), and it is created (and locked) at once, so a
//     read-only or full file system fails before minutes of data loading, not after.
//   - A non-empty DIR is refused: a run directory (config.json) names `resume` and
//     `--force`; anything else is not ours to overwrite, even with --force.
//   - With --force over a run directory, the new run is built in a hidden sibling
//     (.NAME.new-PID) and swapped in by two renames when the run starts writing
//     (`commit`): DIR is at every moment the old run whole or the new run, never a mix;
//     the old one is then deleted. Its lock is taken first, so a run still being written
//     by a live process is never replaced.
//   - `abort` undoes everything a failed start made (the directory it created, the
//     staging sibling, the locks); the old run is untouched.

import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { basename, dirname, join, parse, resolve } from 'node:path'
import { GradstreamError } from '../core/errors.ts'
import { fsError, fsErrorLine } from './fs-error.ts'
import type { RunLock } from './run-lock.ts'
import { LOCK_NAME, lockRunDir } from './run-lock.ts'

export interface NewRunDir {
  /** The directory the run writes to (the staging sibling until `commit`). */
  readonly path: () => string
  /** Puts the new run in place of the old one (with --force); a no-op otherwise. */
  commit(): void
  /** Undoes what `openNewRunDir` made; the old run (if any) is left as it was. */
  abort(): void
  /** Releases the lock (the run is finished or stopped). */
  release(): void
}

/** Entries of a directory, apart from a lock file. */
const entries = (dir: string): string[] => readdirSync(dir).filter((n) => n !== LOCK_NAME && !n.startsWith(`${LOCK_NAME}.`))

/** Throws a one-line error unless `dir` can be a directory: every existing ancestor is one. */
export const checkDirectoryPath = (dir: string, flag: string): { exists: boolean } => {
  const abs = resolve(dir)
  let st
  try {
    st = lstatSync(abs)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw fsError(e, dir, `${flag}:`)
    // Find the nearest existing ancestor: it must be a directory.
    let up = dirname(abs)
    for (;;) {
      try {
        const a = statSync(up)
        if (!a.isDirectory()) throw new GradstreamError(`${flag}: ${dir} cannot be created: ${up} is a file, not a directory`)
        break
      } catch (e2) {
        if (e2 instanceof GradstreamError) throw e2
        const c2 = (e2 as NodeJS.ErrnoException).code
        if (c2 === 'ENOTDIR') {
          up = dirname(up)
          continue
        }
        if (c2 !== 'ENOENT') throw fsError(e2, up, `${flag}: ${dir} cannot be created:`)
        if (up === parse(up).root) break
        up = dirname(up)
      }
    }
    return { exists: false }
  }
  if (st.isSymbolicLink()) {
    try {
      st = statSync(abs)
    } catch {
      throw new GradstreamError(`${flag}: ${dir} is a symbolic link to a path that does not exist`)
    }
  }
  if (!st.isDirectory()) throw new GradstreamError(`${flag}: ${dir} exists and is not a directory`)
  return { exists: true }
}

const mkdirChecked = (dir: string, flag: string): void => {
  try {
    mkdirSync(dir, { recursive: true })
  } catch (e) {
    // A recursive mkdir reports some failures (EROFS) as ENOENT: create the first missing
    // level alone to get the real cause.
    let first = resolve(dir)
    while (!existsSync(dirname(first)) && dirname(first) !== first) first = dirname(first)
    let cause = e
    try {
      mkdirSync(first)
      rmSync(first, { recursive: true })
    } catch (e2) {
      cause = e2
    }
    throw new GradstreamError(`${flag}: cannot create ${fsErrorLine(cause, dir)}`)
  }
}

const removeQuietly = (path: string): void => {
  try {
    rmSync(path, { recursive: true, force: true })
  } catch {
    // best effort: what is left is hidden (a dot name) and named in no run
  }
}

/**
 * Opens DIR for a new run (see the header). `flag` names the option in messages
 * (`--out`). Throws a one-line GradstreamError when DIR cannot be used.
 */
export const openNewRunDir = (dir: string, options: { readonly force?: boolean; readonly flag?: string } = {}): NewRunDir => {
  const flag = options.flag ?? '--out'
  const { exists } = checkDirectoryPath(dir, flag)
  if (!exists) {
    mkdirChecked(dir, flag)
    let lock: RunLock
    try {
      lock = lockRunDir(dir)
    } catch (e) {
      removeQuietly(dir)
      throw e
    }
    return {
      path: () => dir,
      commit: () => undefined,
      abort: () => {
        lock.release()
        // Only what this process made: the directory, if nothing else appeared in it.
        try {
          if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true })
        } catch {
          // gone already
        }
      },
      release: () => lock.release(),
    }
  }
  let names: string[]
  try {
    names = entries(dir)
  } catch (e) {
    throw fsError(e, dir, `${flag}:`)
  }
  const isRun = names.includes('config.json')
  if (names.length === 0) {
    const lock = lockRunDir(dir)
    return { path: () => dir, commit: () => undefined, abort: () => lock.release(), release: () => lock.release() }
  }
  if (!options.force)
    throw new GradstreamError(
      isRun
        ? `${flag}: ${dir} already holds a run; continue it with gradstream resume ${dir}, or replace it with --force`
        : `${flag}: ${dir} is not empty; give a new or empty directory`,
    )
  if (!isRun)
    throw new GradstreamError(`${flag}: ${dir} is not empty and is not a run directory (no config.json); --force replaces only a run`)
  // --force over a run: lock the old run (refused if it is being written), stage the new.
  const oldLock = lockRunDir(dir)
  const abs = resolve(dir)
  const staging = join(dirname(abs), `.${basename(abs)}.new-${process.pid}`)
  let newLock: RunLock
  try {
    removeQuietly(staging)
    mkdirChecked(staging, flag)
    newLock = lockRunDir(staging)
  } catch (e) {
    oldLock.release()
    removeQuietly(staging)
    throw e
  }
  let committed = false
  return {
    path: () => (committed ? dir : staging),
    commit: () => {
      if (committed) return
      const trash = join(dirname(abs), `.${basename(abs)}.old-${process.pid}`)
      try {
        removeQuietly(trash)
        renameSync(abs, trash)
        oldLock.moved(join(trash, LOCK_NAME))
      } catch (e) {
        throw fsError(e, dir, `${flag}: cannot replace`)
      }
      try {
        renameSync(staging, abs)
      } catch (e) {
        // Put the old run back: nothing of the new one is visible.
        renameSync(trash, abs)
        oldLock.moved(join(abs, LOCK_NAME))
        throw fsError(e, dir, `${flag}: cannot replace`)
      }
      committed = true
      newLock.moved(join(abs, LOCK_NAME))
      oldLock.release()
      removeQuietly(trash)
    },
    abort: () => {
      newLock.release()
      if (!committed) {
        removeQuietly(staging)
        oldLock.release()
      }
    },
    release: () => {
      newLock.release()
      oldLock.release()
    },
  }
}
