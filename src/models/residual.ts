// residual(block, { projection }): y = x + block(x), or projection(x) + block(x) when the
// block changes the shape (a 1x1 convolution, say): He et al. 2016's shortcut. It is the
// fanout of the block and the identity (or the projection), added (fanout.ts); in the
// parameter tree the parts are `block` and `projection`.

import { defineLayer } from './define.ts'
import type { FanoutSaved } from './fanout.ts'
import { fanout } from './fanout.ts'
import type { AnyLayer, Layer, Params } from './layer.ts'

export interface ResidualOptions {
  /** The shortcut's layer when block(x) and x differ in shape (default: the identity). */
  readonly projection?: AnyLayer | null
}

const create = (block: AnyLayer, options: ResidualOptions = {}): Layer<Params, FanoutSaved> => {
  const projection = options.projection ?? null
  const spec = { type: 'residual', block: block.spec, projection: projection === null ? null : projection.spec }
  return fanout('residual', spec, [{ name: 'block', layer: block }, { name: 'projection', layer: projection }], 'add')
}

/** y = x + block(x) (or projection(x) + block(x)); unnamed in a sequential: res1, res2, ... */
export const residual = defineLayer({
  type: 'residual',
  prefix: 'res',
  create,
  fromSpec: (s) => [s.layer('block'), { projection: s.optionalLayer('projection') }] as const,
})
