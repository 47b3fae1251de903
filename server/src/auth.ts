import { tokenClaimsSchema } from '@readmark/shared'
import { sign, verify } from 'hono/jwt'
import { AppError } from './errors.ts'

/** An authenticated caller: a user, or the application backend when `service` is true. */
export interface Caller {
  userId: string
  service: boolean
}

/**
 * Verifies an HS256 token and returns its caller. Throws AppError `unauthorized` for a missing,
 * malformed, badly signed or expired token, or one whose claims do not match the schema.
 */
export async function verifyToken(secret: string, token: string | undefined): Promise<Caller> {
  if (token === undefined || token === '') throw new AppError('unauthorized', 'missing token')

  let payload: unknown
  try {
    payload = await verify(token, secret, 'HS256')
  } catch (error) {
    const reason = error instanceof Error ? error.name : 'invalid token'
    throw new AppError('unauthorized', `invalid token: ${reason}`)
  }

  const claims = tokenClaimsSchema.safeParse(payload)
  if (!claims.success)
    throw new AppError('unauthorized', 'invalid token: claim "sub" must be a valid id')
  return { userId: claims.data.sub, service: claims.data.role === 'service' }
}

/** Signs an HS256 token for a user, valid for ttlSeconds; for `--dev` mode, tests and examples. */
export function mintToken(
  secret: string,
  userId: string,
  options: { service?: boolean; ttlSeconds?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const claims: { sub: string; iat: number; exp: number; role?: 'service' } = {
    sub: userId,
    iat: now,
    exp: now + (options.ttlSeconds ?? 3_600),
  }
  if (options.service === true) claims.role = 'service'
  return sign(claims, secret, 'HS256')
}
