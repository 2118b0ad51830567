// What every workload receives, and the error handling they share: a system that fails
// (a missing kernel, a backend that will not load) becomes a cell with the reason; it
// never stops the other systems or workloads.

import type { BenchData } from '../data.ts'
import type { Settings } from '../settings.ts'
import type { WorkloadReport } from '../report.ts'
import { errorMessage } from '../tfjs.ts'

export interface WorkloadContext {
  readonly data: BenchData
  readonly settings: Settings
  /** Threads for the "gradstream Nt" column. */
  readonly threads: number
  /** Progress lines (stderr), so stdout stays the results. */
  readonly log: (line: string) => void
}

export type WorkloadResult = Omit<WorkloadReport, 'seconds'>

export type Attempt<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string }

export const attempt = async <T>(f: () => Promise<T> | T): Promise<Attempt<T>> => {
  try {
    return { ok: true, value: await f() }
  } catch (e) {
    return { ok: false, reason: errorMessage(e) }
  }
}

/** Why the N-thread column is empty when only one thread was asked for. */
export const ONE_THREAD_REASON = 'n/a with --threads 1 (same as the 1t column)'

/** Runs the "gradstream Nt" variant, or explains why it is not run. */
export const threadsAttempt = <T>(ctx: WorkloadContext, f: (threads: number) => Promise<T>): Promise<Attempt<T>> =>
  ctx.threads === 1 ? Promise.resolve({ ok: false, reason: ONE_THREAD_REASON }) : attempt(() => f(ctx.threads))
