// The concat of the last W values of a stream, for any Monoid, in amortised O(1) per
// value (online.ts's windowed metrics, rolling-metrics.ts's `rolling`). Its own module so
// that both import it without a cycle.

import type { Monoid } from 'fp-ts/lib/Monoid.js'
import { GradstreamError } from '../core/errors.ts'

/**
 * The concat of the last `capacity` values pushed, for any Monoid ("two stacks"
 * sliding-window aggregation): values enter a back stack with a running aggregate; when
 * the oldest must leave and the front stack is empty, the back stack is moved to the
 * front as suffix aggregates. Every value is concatenated O(1) times (amortised), in
 * window order, so non-commutative monoids work too. Private mutable state; `value()`
 * returns immutable values.
 */
export interface SlidingWindow<A> {
  push(a: A): void
  value(): A
  readonly length: number
}

export const slidingWindow = <A>(M: Monoid<A>, capacity: number): SlidingWindow<A> => {
  if (!(Number.isInteger(capacity) && capacity >= 1))
    throw new GradstreamError(`window: expected a positive integer size, got ${capacity}`)
  let front: A[] = [] // suffix aggregates; the last entry covers the oldest value onwards
  let back: A[] = []
  let backAgg = M.empty
  const popOldest = (): void => {
    if (front.length === 0) {
      const f: A[] = new Array<A>(back.length)
      let agg = M.empty
      for (let i = back.length - 1, j = 0; i >= 0; i--, j++) {
        agg = M.concat(back[i], agg)
        f[j] = agg
      }
      front = f
      back = []
      backAgg = M.empty
    }
    front.pop()
  }
  return {
    push: (a) => {
      back.push(a)
      backAgg = M.concat(backAgg, a)
      if (front.length + back.length > capacity) popOldest()
    },
    value: () => (front.length === 0 ? backAgg : M.concat(front[front.length - 1], backAgg)),
    get length() {
      return front.length + back.length
    },
  }
}
