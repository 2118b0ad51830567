// An error the dashboard answers with its HTTP status and `{ error }` (one line).

import { GradstreamError } from '../core/errors.ts'

export class HttpError extends GradstreamError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}
