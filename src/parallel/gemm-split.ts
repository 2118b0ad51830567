// How WorkerPool.gemm shares the rows of one product C = A B among its threads.
//
// The rows are cut into units (8 rows, gemm's register tile height; more for products
// of over 262,136 rows, so that a unit count fits 16 bits), the last unit taking any tail
// of 1-7 rows: every block handed out starts at a multiple of 8 rows and holds at least
// 8, so it is computed exactly as a whole call computes those rows (gemmRowBlocks).
// The workers claim from the top, the main thread from the bottom, until they meet; each
// claim takes a share of what is left, 1 / (2 threads) of it and at least one unit
// (guided self-scheduling): early blocks are large (few calls, long loops) and the last
// ones small, so threads that run at different speeds, or a worker that wakes late,
// still finish within about one small block of each other. Who computes which block
// changes no bit.

import { GEMM_CLAIMS } from './protocol.ts'

/** A product of M rows in units of `unit` rows: `count` units, the last one running to row M. */
export interface RowUnits {
  readonly unit: number
  readonly count: number
}

/** Units of 8 rows (or a larger multiple of 8 when M would need more than 32,767 of them). */
export const rowUnits = (M: number): RowUnits => {
  const unit = 8 * Math.max(1, Math.ceil(M / (8 * 32767)))
  return { unit, count: Math.floor(M / unit) }
}

/** The row where unit u starts (u = count: M). */
export const unitRow = (u: number, units: RowUnits, M: number): number => (u >= units.count ? M : u * units.unit)

/** Units in a claim when `left` are unclaimed among `threads` threads. */
const share = (left: number, threads: number): number => Math.max(1, Math.floor(left / (2 * threads)))

/** Rows a single claim can cover at most (the first, the largest, plus the last unit's tail), for the kernel's scratch. */
export const maxClaimRows = (units: RowUnits, threads: number): number => share(units.count, threads) * units.unit + units.unit - 1

/** Sets every unit of a product of `count` units unclaimed. */
export const openClaims = (ctrl: Int32Array, count: number): void => {
  Atomics.store(ctrl, GEMM_CLAIMS, count << 16)
}

/**
 * Claims the next block of units [a, b): from the top (workers) or the bottom (the main
 * thread); null when none is left.
 */
export const claimUnits = (ctrl: Int32Array, threads: number, fromBottom: boolean): readonly [number, number] | null => {
  for (;;) {
    const v = Atomics.load(ctrl, GEMM_CLAIMS)
    const lo = v & 0xffff
    const hi = v >>> 16
    if (lo >= hi) return null
    const s = share(hi - lo, threads)
    const next = fromBottom ? lo | ((hi - s) << 16) : (lo + s) | (hi << 16)
    if (Atomics.compareExchange(ctrl, GEMM_CLAIMS, v, next) === v) return fromBottom ? [hi - s, hi] : [lo, lo + s]
  }
}

/** The units the workers claimed: [0, met) (once no claim is left). */
export const claimedFromTop = (ctrl: Int32Array): number => Atomics.load(ctrl, GEMM_CLAIMS) & 0xffff
