// Objectives rebuilt from their JSON specs: what a worker thread or a checkpoint loader
// needs to reconstruct the exact model a run trains.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { GradstreamError } from '../core/errors.ts'
import { flattenedInputs } from './flattened-inputs.ts'
import type { AnyObjective, ModelSpec } from './objective.ts'
import { autoencoding, supervised } from './objective.ts'
import { rbmObjectiveFromSpec } from './rbm-objective.ts'
import { layerFromSpec, lossFromSpec } from './registry.ts'

type Builder = (spec: ModelSpec) => E.Either<GradstreamError, AnyObjective>

const layerAndLoss =
  (make: typeof supervised): Builder =>
  (spec) =>
    pipe(
      E.Do,
      E.bind('layer', () => layerFromSpec(spec.layer)),
      E.bind('loss', () => lossFromSpec(spec.loss)),
      E.map(({ layer, loss }) => make(layer, loss, spec.inShape) as AnyObjective),
    )

const BUILDERS = new Map<string, Builder>([
  ['supervised', layerAndLoss(supervised)],
  ['autoencoding', layerAndLoss(autoencoding)],
  ['rbm', rbmObjectiveFromSpec],
  // an objective on vectors fed images: { kind: 'flattened', inShape, objective: inner spec }
  [
    'flattened',
    (spec) =>
      E.chain((inner: AnyObjective) =>
        E.tryCatch(
          () => flattenedInputs(inner, spec.inShape),
          (e) => (e instanceof GradstreamError ? e : new GradstreamError(String(e))),
        ),
      )(objectiveFromSpec(spec.objective as ModelSpec)),
  ],
])

/** Registers a builder for another kind of objective (e.g. the RBM's). */
export const registerObjective = (kind: string, build: Builder): void => {
  BUILDERS.set(kind, build)
}

export const objectiveFromSpec = (spec: ModelSpec): E.Either<GradstreamError, AnyObjective> => {
  const build = typeof spec?.kind === 'string' ? BUILDERS.get(spec.kind) : undefined
  if (build === undefined)
    return E.left(
      new GradstreamError(`model spec: expected "kind" to be one of ${[...BUILDERS.keys()].join(', ')}, got ${JSON.stringify(spec?.kind)}`),
    )
  if (!Array.isArray(spec.inShape) || !spec.inShape.every((d) => Number.isInteger(d) && d > 0))
    return E.left(new GradstreamError(`model spec: expected "inShape" to be positive integers, got ${JSON.stringify(spec.inShape)}`))
  return build(spec)
}
