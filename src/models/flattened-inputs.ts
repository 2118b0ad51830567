// An objective on vectors used on samples of any shape (e.g. [28, 28, 1] digits), each
// read as a vector. It is a generic adapter, so it lives beside the objectives: the
// spec rebuilder (objective-spec.ts) needs it, and models/ core does not import the zoo.

import { LayerError } from '../core/errors.ts'
import type { Batch } from '../core/data.ts'
import type { Shape, Tensor } from '../core/tensor.ts'
import { showShape, size } from '../core/tensor.ts'
import type { AnyObjective } from './objective.ts'

/**
 * An objective on vectors used on samples of shape inShape (e.g. [28, 28, 1]), each read as
 * a vector (a reshape: no copy; inputs and unlabelled targets alike). Its spec is
 * { kind: 'flattened', inShape, objective: the inner spec }.
 */
export const flattenedInputs = (inner: AnyObjective, inShape: Shape): AnyObjective => {
  if (inner.inShape.length !== 1 || inner.inShape[0] !== size(inShape))
    throw new LayerError('flattened', `expected an objective on vectors of ${size(inShape)} values, got ${showShape(inner.inShape)}`)
  const flat = (x: Tensor): Tensor => ({ shape: [x.shape[0], size(x.shape.slice(1))], data: x.data })
  const flatBatch = (batch: Batch): Batch => ({ ...batch, x: flat(batch.x), y: batch.y === batch.x ? flat(batch.x) : batch.y })
  return {
    ...inner,
    spec: { kind: 'flattened', inShape: [...inShape], objective: inner.spec },
    inShape,
    forward: (params, state, batch, ctx) => inner.forward(params, state, flatBatch(batch), ctx),
    backward: (params, state, batch, fwd) => inner.backward(params, state, flatBatch(batch), fwd),
    predict: (params, x, state) => inner.predict(params, flat(x), state),
  }
}
