// Atomic file replacement (DESIGN.md, "Checkpoints and interop": temp file, fsync, rename).
//
//   1. write the new content to a temp file in the same folder (same file system, so
//      the rename cannot turn into a copy),
//   2. fsync it (the data is on disk before the name points at it),
//   3. rename it over the target (atomic on POSIX: readers see the old file or the new
//      one, never a mix),
//   4. fsync the folder (the rename itself survives a power cut).
//
// A process killed at any point leaves the old file or the new one, plus at worst a
// stray temp file. Temp names start with '.' and end with '.tmp' (`isTempFile`), so
// nothing that lists checkpoints by name can mistake one for a checkpoint.

import { closeSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { GradstreamError } from '../core/errors.ts'
import { fsErrorLine } from './fs-error.ts'

let counter = 0

/** The temp name used for `path` by this process. */
const tempPath = (path: string): string =>
  join(dirname(path), `.${basename(path)}.${process.pid}.${(counter++).toString(36)}.tmp`)

/** True for names written by writeFileAtomic before their rename. */
export const isTempFile = (name: string): boolean => /^\..+\.\d+\.[0-9a-z]+\.tmp$/.test(basename(name))

const fsyncDir = (dir: string): void => {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // Some file systems refuse to fsync a folder; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Replaces `path` with `data` atomically (see the header). Throws GradstreamError naming the file. */
export const writeFileAtomic = (path: string, data: Uint8Array | string): void => {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
  const tmp = tempPath(path)
  let fd: number | undefined
  try {
    fd = openSync(tmp, 'wx', 0o644)
    let written = 0
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written)
    fsyncSync(fd)
    closeSync(fd)
    fd = undefined
    renameSync(tmp, path)
  } catch (e) {
    if (fd !== undefined) closeSync(fd)
    try {
      unlinkSync(tmp)
    } catch {
      // already renamed or never created
    }
    throw new GradstreamError(`could not write ${fsErrorLine(e, path)}`)
  }
  fsyncDir(dirname(path))
}

/**
 * Removes temp files left in `dir` by writers that were killed. Only call it when no
 * writer can be running there (e.g. when resuming a run whose process is gone).
 */
export const removeStaleTempFiles = (dir: string): number => {
  let removed = 0
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return 0
  }
  for (const name of names)
    if (isTempFile(name))
      try {
        unlinkSync(join(dir, name))
        removed++
      } catch {
        // gone already
      }
  return removed
}
