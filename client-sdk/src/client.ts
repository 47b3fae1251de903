import { ID_PATTERN } from '@readmark/shared'
import { ReadmarkError } from './errors.ts'
import { type ClientOptions, type ResolvedOptions, resolveOptions } from './options.ts'
import { GroupSession, type SessionContext } from './session.ts'
import type { OpenStorage } from './storage.ts'
import { TokenSource } from './tokens.ts'

/** A readmark client of one user on one device; create it with createClient. */
export class ReadmarkClient {
  readonly userId: string
  readonly deviceId: string
  readonly #options: ResolvedOptions
  readonly #tokens: TokenSource
  readonly #storage: OpenStorage
  readonly #sessions = new Map<string, Promise<GroupSession>>()
  #closing: Promise<void> | null = null

  private constructor(options: ResolvedOptions, tokens: TokenSource, storage: OpenStorage) {
    this.#options = options
    this.#tokens = tokens
    this.#storage = storage
    this.userId = tokens.userId
    this.deviceId = options.deviceId
  }

  /** See createClient. */
  static async create(input: ClientOptions): Promise<ReadmarkClient> {
    const options = resolveOptions(input)
    const tokens = await TokenSource.create(options.token, options.getToken)
    const storage = await options.storage.open()
    return new ReadmarkClient(options, tokens, storage)
  }

  /**
   * Opens the session of a group: loads its replica from storage and connects it. Calls with the
   * same group id share one session until it is closed.
   */
  group(groupId: string): Promise<GroupSession> {
    if (this.#closing !== null)
      return Promise.reject(new ReadmarkError('closed', 'the client is closed'))
    if (typeof groupId !== 'string' || !ID_PATTERN.test(groupId)) {
      return Promise.reject(
        new ReadmarkError(
          'invalid-argument',
          `group id "${String(groupId)}" must be 1 to 128 characters from A-Z a-z 0-9 _ . : @ -`,
        ),
      )
    }

    const existing = this.#sessions.get(groupId)
    if (existing !== undefined) return existing

    const opening = GroupSession.open(this.#sessionContext(), groupId)
    this.#sessions.set(groupId, opening)
    opening.catch(() => this.#sessions.delete(groupId))
    return opening
  }

  /** Closes every session, then the storage and its lock. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const sessions = await Promise.allSettled(this.#sessions.values())
      for (const result of sessions) {
        if (result.status === 'fulfilled') await result.value.close()
      }
      await this.#storage.close()
    })()
    return this.#closing
  }

  #sessionContext(): SessionContext {
    const options = this.#options
    return {
      storage: this.#storage,
      tokens: this.#tokens,
      deviceId: options.deviceId,
      baseUrl: options.baseUrl,
      syncUrl: options.syncUrl,
      WebSocket: options.WebSocket,
      fetch: options.fetch,
      reconnect: options.reconnect,
      retry: options.retry,
      requestTimeoutMs: options.requestTimeoutMs,
      connect: options.connect,
      closed: (session) => this.#sessions.delete(session.groupId),
    }
  }
}

/**
 * Creates a client: checks the options, reads the user id from the token's `sub` claim, and
 * opens the storage under its exclusive lock. Rejects with ReadmarkError `invalid-argument`,
 * `invalid-token` or `storage-locked`.
 */
export function createClient(options: ClientOptions): Promise<ReadmarkClient> {
  return ReadmarkClient.create(options)
}
