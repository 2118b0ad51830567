// An optimizer's state, as a snapshot and a checkpoint hold it: a step counter plus
// named slots (momentum's `velocity`, Adam's `m` and `v`), each a tree shaped like the
// parameters, so it saves like parameters do. The optimizers themselves are in
// models/optimizers.ts; the type lives here because snapshots and files carry it.

import type { Params } from './tree.ts'

export interface OptState {
  /** Updates applied so far. */
  readonly step: number
  readonly slots: { readonly [slot: string]: Params }
}
