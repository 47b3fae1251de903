import type { ContentfulStatusCode } from 'hono/utils/http-status'

/** Stable error codes of the REST API. */
export type ErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'internal'

const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
}

/** The one error type of the server; the app's onError turns it into `{ error: { code, message } }`. */
export class AppError extends Error {
  override readonly name = 'AppError'
  readonly status: ContentfulStatusCode

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { issues?: unknown[]; retryAfterSeconds?: number } = {},
  ) {
    super(message)
    this.status = STATUS[code]
  }
}
