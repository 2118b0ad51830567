// What a trained model's inputs are, fixed at training time and stored with the run
// (config.json's "input", and so every checkpoint's run_config metadata): the kind of
// data, the class names in output order, and for tabular data the feature columns in
// order and the scaling fitted on the training split. `evaluate` and `predict` read
// records through this schema, so they scale with the training statistics (never refit
// on the data they are given) and name classes as training did.
//
// The defaults that follow the data live here too:
//   - image augmentation (--shift) only for image data (MNIST); a recipe's shift is
//     dropped for tabular data, an explicit --shift on tabular data is an error;
//   - tabular features are standardised for networks, scaled into [0, 1] for the models
//     whose visible units are probabilities (RBM, autoencoder);
//   - the convolutional models need 28x28x1 images: a CSV/NDJSON file of 784 pixel columns
//     (MNIST as a table) is read as such images, its intensities scaled into [0, 1] with one
//     range for all pixels; other tabular data is refused with one line naming the models
//     that take feature vectors (a row of a few features is not an image, and reading it as
//     a 1-row image would not fit their 5x5 kernels).

import { GradstreamError } from '../core/errors.ts'
import type { Scaling, ScalingKind } from '../io/standardize.ts'
import { scalingFromJson } from '../io/standardize.ts'
import type { ZooName } from '../models/zoo/index.ts'
import { ZOO, ZOO_NAMES } from '../models/zoo/index.ts'

export interface InputSchema {
  readonly kind: 'image' | 'tabular'
  /** Class names, index = output unit. */
  readonly classes: readonly string[]
  /** Tabular: the feature columns, in the order the model reads them. */
  readonly features?: readonly string[]
  /** Tabular: the scaling fitted on the training split. */
  readonly scaling?: Scaling
  /** Image: the per-sample shape. */
  readonly shape?: readonly number[]
}

/** MNIST: 28x28x1 digits in [0, 1], classes "0".."9". */
export const MNIST_SCHEMA: InputSchema = {
  kind: 'image',
  classes: Array.from({ length: 10 }, (_, i) => String(i)),
  shape: [28, 28, 1],
}

/** Image data is MNIST; every --data FILE is tabular. */
export const isImageData = (data: string): boolean => data === 'mnist'

/** The zoo models that take feature vectors (and so tabular data). */
export const TABULAR_MODELS: readonly ZooName[] = ZOO_NAMES.filter((n) => ZOO[n].input === 'vector')

/** The image the zoo's convolutional models take, and its size as a row of pixel columns. */
export const IMAGE_SHAPE: readonly number[] = [28, 28, 1]
export const IMAGE_PIXELS = 28 * 28

/** How tabular features are scaled for a model (see the header). */
export const scalingKindFor = (model: ZooName): ScalingKind =>
  ZOO[model].input === 'image' ? 'range' : model === 'rbm' || model === 'autoencoder' ? 'minmax' : 'standard'

/** Throws the one-line refusal for an image model on tabular data that is not 784 pixel columns. */
export const checkModelTakesTabular = (model: ZooName, data: string, features: number): void => {
  if (ZOO[model].input === 'image' && features !== IMAGE_PIXELS)
    throw new GradstreamError(
      `--model ${model}: expects 28x28x1 images (--data mnist, or a file of ${IMAGE_PIXELS} pixel columns; ${data} has ${features} feature columns); for it use --model ${TABULAR_MODELS.join(', ')}`,
    )
}

const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string')

/** An input schema read back from JSON (config.json or checkpoint metadata): checked. */
export const inputSchemaFromJson = (v: unknown, where: string): InputSchema => {
  const bad = (what: string): never => {
    throw new GradstreamError(`${where}: expected ${what}`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('"input" to be an object {kind, classes, ...}')
  const o = v as Record<string, unknown>
  if (o.kind !== 'image' && o.kind !== 'tabular') bad('"input.kind" to be "image" or "tabular"')
  if (!strings(o.classes) || o.classes.length === 0) bad('"input.classes" to be a non-empty array of class names')
  if (o.kind === 'image') {
    const shape = o.shape
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 1))
      bad('"input.shape" to be positive integers')
    return { kind: 'image', classes: o.classes as string[], shape: shape as number[] }
  }
  if (!strings(o.features) || o.features.length === 0) bad('"input.features" to be a non-empty array of column names')
  const features = o.features as string[]
  const scaling = o.scaling === undefined ? undefined : scalingFromJson(o.scaling, `${where} "input.scaling"`)
  if (scaling !== undefined && scaling.offset.length !== features.length)
    bad(`"input.scaling" for ${features.length} features, got ${scaling.offset.length}`)
  return { kind: 'tabular', classes: o.classes as string[], features, ...(scaling ? { scaling } : {}) }
}
