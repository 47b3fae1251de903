import { tokenClaimsSchema } from '@readmark/shared'
import { ReadmarkError } from './errors.ts'

/** Returns a token for the user; called at start, when a token has expired and when the server rejects one. */
export type GetToken = () => string | Promise<string>

/**
 * The client's current token. A token is a JWT whose `sub` claim is the user id. The SDK reads
 * the claims without verifying the signature, because only the server has the key. Concurrent
 * refreshes share one getToken call.
 */
export class TokenSource {
  readonly #getToken: GetToken | undefined
  #token: string
  #userId: string
  #expiresAt: number | undefined
  #refreshing: Promise<string> | null = null

  private constructor(token: string, getToken: GetToken | undefined) {
    const claims = readClaims(token)
    this.#token = token
    this.#userId = claims.userId
    this.#expiresAt = claims.expiresAt
    this.#getToken = getToken
  }

  /** Creates the source from a fixed token, or from the first token getToken returns. */
  static async create(
    token: string | undefined,
    getToken: GetToken | undefined,
  ): Promise<TokenSource> {
    if (token !== undefined) return new TokenSource(token, getToken)
    if (getToken === undefined) {
      throw new ReadmarkError('invalid-argument', 'createClient needs `token` or `getToken`')
    }
    return new TokenSource(await callGetToken(getToken), getToken)
  }

  /** The user id of every token of this source. */
  get userId(): string {
    return this.#userId
  }

  /** True when getToken can replace a rejected token. */
  get refreshable(): boolean {
    return this.#getToken !== undefined
  }

  /** Returns the token to use now, asking getToken first when the current one has expired. */
  async current(): Promise<string> {
    if (this.#expiresAt !== undefined && this.#expiresAt <= Date.now() && this.refreshable) {
      return this.refresh()
    }
    return this.#token
  }

  /**
   * Asks getToken for a new token, for example after the server rejected the current one. Rejects
   * with `invalid-token` without getToken, when it fails, or when the new token names another user.
   */
  refresh(): Promise<string> {
    const getToken = this.#getToken
    if (getToken === undefined) {
      return Promise.reject(
        new ReadmarkError(
          'invalid-token',
          'the server rejected the token and there is no getToken to replace it',
        ),
      )
    }

    this.#refreshing ??= callGetToken(getToken)
      .then((token) => {
        const claims = readClaims(token)
        if (claims.userId !== this.#userId) {
          throw new ReadmarkError(
            'invalid-token',
            `getToken returned a token of user "${claims.userId}" instead of "${this.#userId}"`,
          )
        }
        this.#token = token
        this.#expiresAt = claims.expiresAt
        return token
      })
      .finally(() => {
        this.#refreshing = null
      })
    return this.#refreshing
  }
}

async function callGetToken(getToken: GetToken): Promise<string> {
  try {
    return await getToken()
  } catch (error) {
    throw new ReadmarkError('invalid-token', 'getToken failed', { cause: error })
  }
}

/** Reads `sub` and `exp` from a JWT's payload. */
function readClaims(token: unknown): { userId: string; expiresAt: number | undefined } {
  if (typeof token !== 'string') {
    throw new ReadmarkError('invalid-token', `the token must be a string, got ${typeof token}`)
  }
  const payload = token.split('.')[1]
  let decoded: unknown
  try {
    decoded = JSON.parse(decodeBase64Url(payload ?? ''))
  } catch (error) {
    throw new ReadmarkError('invalid-token', 'the token is not a JWT with a JSON payload', {
      cause: error,
    })
  }

  const claims = tokenClaimsSchema.safeParse(decoded)
  if (!claims.success) {
    throw new ReadmarkError('invalid-token', 'the token needs a claim `sub` with a valid user id')
  }
  if (claims.data.role === 'service') {
    throw new ReadmarkError(
      'invalid-token',
      'a service token has no receipts of its own; create the client with a user token',
    )
  }
  const exp = claims.data.exp
  return { userId: claims.data.sub, expiresAt: exp === undefined ? undefined : exp * 1000 }
}

function decodeBase64Url(text: string): string {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/')
  const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '='))
  return new TextDecoder().decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)))
}
