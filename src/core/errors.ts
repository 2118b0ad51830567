// Errors that name what was expected and what was given.
//
// Bad input to a public function is reported, never answered wrongly: `init`
// returns a Left<LayerError>; forward/vjp (hot paths with a plain return type)
// throw the same LayerError, and `tryForward`/`tryVjp` turn that into an Either.

export class GradstreamError extends Error {
  override readonly name: string = 'GradstreamError'
}

/** A layer rejected its input: the message names the layer, the expected and the actual. */
export class LayerError extends GradstreamError {
  override readonly name = 'LayerError'
  constructor(
    readonly layer: string,
    readonly detail: string,
  ) {
    super(`${layer}: ${detail}`)
  }
}

export const layerError = (layer: string, detail: string): LayerError => new LayerError(layer, detail)

/** A file that could not be used: the message names the file and the problem. */
export class FileError extends GradstreamError {
  override readonly name: string = 'FileError'
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`)
  }
}
