// parallel(a, b, ..., { merge }): the branches applied to the same input and merged by
// concatenation along the last axis (channels; the default) or by addition (fanout.ts).
// Branches are named branch1, branch2, ... in the parameter tree.

import { LayerError } from '../core/errors.ts'
import { defineLayer } from './define.ts'
import type { FanoutSaved, Merge } from './fanout.ts'
import { fanout } from './fanout.ts'
import type { AnyLayer, Layer, Params } from './layer.ts'

export interface ParallelOptions {
  /** 'concat' (default): along the last axis; 'add': element-wise sum of equal shapes. */
  readonly merge?: Merge
}

const isLayer = (v: unknown): v is AnyLayer =>
  typeof v === 'object' && v !== null && 'spec' in v && 'init' in v && 'forward' in v && 'vjp' in v

const create = (...args: readonly (AnyLayer | ParallelOptions)[]): Layer<Params, FanoutSaved> => {
  const last = args[args.length - 1]
  const options: ParallelOptions = last !== undefined && !isLayer(last) ? last : {}
  const layers = args.filter(isLayer)
  if (layers.length + (last !== undefined && !isLayer(last) ? 1 : 0) !== args.length)
    throw new LayerError('parallel', 'expected layers, then an optional options object last')
  if (layers.length < 1) throw new LayerError('parallel', 'expected at least one branch, got none')
  const merge = options.merge ?? 'concat'
  if (merge !== 'concat' && merge !== 'add')
    throw new LayerError('parallel', `expected merge to be 'concat' or 'add', got ${JSON.stringify(merge)}`)
  const spec = { type: 'parallel', merge, branches: layers.map((l) => l.spec) }
  return fanout('parallel', spec, layers.map((layer, i) => ({ name: `branch${i + 1}`, layer })), merge)
}

/** Branches over one input, concatenated or added; unnamed in a sequential: par1, ... */
export const parallel = defineLayer({
  type: 'parallel',
  prefix: 'par',
  create,
  fromSpec: (s) => [...s.layers('branches'), { merge: s.oneOf('merge', ['concat', 'add'] as const, 'concat') }],
})
