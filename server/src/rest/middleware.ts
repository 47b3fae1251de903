import type { MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../app.ts'
import { AppError } from '../errors.ts'
import type { RateLimiter } from './rate-limiter.ts'
import type { TokenCache } from './token-cache.ts'

const BEARER = /^Bearer +(\S+)$/i

/** Paths that also take the token as `?token=`, because EventSource cannot set headers. */
const QUERY_TOKEN_PATH = /^\/v1\/groups\/[^/]+\/events$/

/**
 * Authenticates the request's token and takes one request from that token's rate limit. Sets the
 * `caller` variable, or throws AppError `unauthorized` or `rate_limited`.
 */
export function authenticate(tokens: TokenCache, limiter: RateLimiter): MiddlewareHandler<AppEnv> {
  return createMiddleware<AppEnv>(async (c, next) => {
    const token = tokenOf(c.req.header('authorization'), c.req.path, c.req.query('token'))
    const caller = await tokens.verify(token)

    // verify() has rejected a missing token, so token is a string here.
    const retryAfterSeconds = limiter.take(token as string)
    if (retryAfterSeconds > 0) {
      throw new AppError(
        'rate_limited',
        `too many requests with this token; retry in ${retryAfterSeconds} s`,
        {
          retryAfterSeconds,
        },
      )
    }

    c.set('caller', caller)
    await next()
  })
}

function tokenOf(
  authorization: string | undefined,
  path: string,
  queryToken: string | undefined,
): string | undefined {
  if (authorization !== undefined) {
    const match = BEARER.exec(authorization)
    if (match === null) {
      throw new AppError('unauthorized', 'invalid Authorization header: expected "Bearer <token>"')
    }
    return match[1]
  }
  return QUERY_TOKEN_PATH.test(path) ? queryToken : undefined
}

/** Rejects a request body larger than maxBytes with AppError `payload_too_large`. */
export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new AppError(
        'payload_too_large',
        `request body is larger than the maximum of ${maxBytes} bytes`,
      )
    },
  })
}
