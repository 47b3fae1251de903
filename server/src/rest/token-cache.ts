import { decode } from 'hono/jwt'
import { type Caller, verifyToken } from '../auth.ts'

/** Maximum number of cached tokens. The oldest entry is evicted first. */
const MAX_TOKENS = 10_000
/** Maximum time a verified token is trusted without a new signature check, in ms. */
const MAX_AGE_MS = 600_000

/**
 * Verified tokens by their exact text, so that a client's next requests skip the HMAC check,
 * which costs more than a whole cached query. An entry lasts until the token's `exp` and never
 * longer than MAX_AGE_MS.
 */
export class TokenCache {
  readonly #secret: string
  readonly #entries = new Map<string, { caller: Caller; expiresAt: number }>()

  constructor(secret: string) {
    this.#secret = secret
  }

  /** Returns the caller of a token, or throws AppError `unauthorized` as verifyToken does. */
  async verify(token: string | undefined): Promise<Caller> {
    const now = Date.now()
    const cached = token === undefined ? undefined : this.#entries.get(token)
    if (cached !== undefined && cached.expiresAt > now) return cached.caller

    const caller = await verifyToken(this.#secret, token)
    if (token === undefined) return caller

    const { exp } = decode(token).payload
    const expiresAt = Math.min(now + MAX_AGE_MS, typeof exp === 'number' ? exp * 1_000 : Infinity)
    this.#entries.delete(token)
    this.#entries.set(token, { caller, expiresAt })
    if (this.#entries.size > MAX_TOKENS) {
      this.#entries.delete(this.#entries.keys().next().value as string)
    }
    return caller
  }

  clear(): void {
    this.#entries.clear()
  }
}
