// File-system errors as one line naming the path and the cause.
//
// Node's errors read "ENOTDIR: not a directory, open '/a/b/config.json'" and carry a stack;
// a user needs "/a/b/config.json: not a directory (ENOTDIR)". Anything that touches a
// file the user named turns an ErrnoException into a GradstreamError through here, and
// the CLI uses `isFsError` as the last net for writes deep in a run (a full disk while
// appending metrics).

import { GradstreamError } from '../core/errors.ts'

const CAUSES: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EEXIST: 'already exists',
  ENOTEMPTY: 'directory not empty',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'name too long',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
  EBUSY: 'resource busy',
  EXDEV: 'cross-device link',
}

export const isFsError = (e: unknown): e is NodeJS.ErrnoException =>
  e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && typeof (e as NodeJS.ErrnoException).syscall === 'string'

/** "PATH: cause (CODE)" for an errno error; the error's own message otherwise. */
export const fsErrorLine = (e: unknown, path?: string): string => {
  if (!(e instanceof Error)) return String(e)
  const err = e as NodeJS.ErrnoException
  const code = err.code
  if (code === undefined) return err.message.split('\n')[0]
  const where = path ?? err.path ?? ''
  const cause = CAUSES[code] ?? err.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')
  return `${where ? `${where}: ` : ''}${cause} (${code})`
}

/** A GradstreamError for a failed file-system call on `path`. */
export const fsError = (e: unknown, path?: string, doing?: string): GradstreamError =>
  new GradstreamError(`${doing ? `${doing} ` : ''}${fsErrorLine(e, path)}`)
