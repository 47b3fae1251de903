import { errorBodySchema, ID_PATTERN, MAX_BODY_LENGTH, seqSchema } from '@readmark/shared'
import { z } from 'zod'
import { type BackoffOptions, jitteredDelay } from './backoff.ts'
import { ReadmarkError } from './errors.ts'
import type { TokenSource } from './tokens.ts'
import type { OutboxEntry, SentMessage } from './types.ts'

/** The fields of the send response the outbox needs; the server sends more. */
const sendResponseSchema = z.object({ seq: seqSchema.min(1), created: z.boolean().optional() })

/** Schema of the stored outbox entries; a stored value that does not match is dropped. */
export const outboxEntriesSchema = z.array(
  z.object({
    clientMessageId: z.string().regex(ID_PATTERN),
    body: z.string().optional(),
    queuedAt: z.number(),
    attempts: z.number().int().nonnegative(),
  }),
)

export interface OutboxOptions {
  /** http(s) origin of the server. */
  baseUrl: string
  groupId: string
  fetch: typeof fetch
  tokens: TokenSource
  retry: BackoffOptions
  requestTimeoutMs: number
  entries: OutboxEntry[]
  /** Stores the entries; called after every change of the list. */
  save(entries: readonly OutboxEntry[]): Promise<void>
  sent(message: SentMessage): void
  failed(clientMessageId: string, error: ReadmarkError): void
  error(error: ReadmarkError): void
}

type Attempt =
  | { outcome: 'sent'; message: SentMessage }
  | { outcome: 'retry'; error: ReadmarkError; notBeforeMs: number }
  | { outcome: 'failed'; error: ReadmarkError }

/**
 * Messages of one group on their way to `POST /v1/groups/:gid/messages`, oldest first. An entry
 * is stored before its first attempt and removed after the server's response. Every attempt sends
 * the same clientMessageId, which the server maps to the same seq, so a retry after a lost
 * response or after a restart never creates a second message. Failed attempts wait a jittered
 * exponential backoff. A 4xx response other than 401, 408, 425 and 429 drops the entry.
 */
export class Outbox {
  readonly #options: OutboxOptions
  readonly #entries: OutboxEntry[]
  readonly #waiters = new Map<
    string,
    Array<{ resolve: (message: SentMessage) => void; reject: (error: unknown) => void }>
  >()
  #running = false
  #closed = false
  #attempt = 0
  #timer: ReturnType<typeof setTimeout> | null = null

  constructor(options: OutboxOptions) {
    this.#options = options
    this.#entries = [...options.entries]
  }

  /** Returns copies of the entries waiting to be sent, oldest first. */
  list(): OutboxEntry[] {
    return this.#entries.map((entry) => ({ ...entry }))
  }

  /**
   * Queues a message and resolves once the server has accepted it. A clientMessageId that is
   * already queued joins the queued entry instead of adding a second one.
   */
  async send(body: string | undefined, clientMessageId: string): Promise<SentMessage> {
    if (this.#closed) throw new ReadmarkError('closed', 'the session is closed')
    if (!ID_PATTERN.test(clientMessageId)) {
      throw new ReadmarkError(
        'invalid-argument',
        `clientMessageId "${clientMessageId}" must be 1 to 128 characters from A-Z a-z 0-9 _ . : @ -`,
      )
    }
    if (body !== undefined && (typeof body !== 'string' || body.length > MAX_BODY_LENGTH)) {
      throw new ReadmarkError(
        'invalid-argument',
        `a message body must be a string of at most ${MAX_BODY_LENGTH} UTF-16 code units`,
      )
    }

    const result = new Promise<SentMessage>((resolve, reject) => {
      const waiters = this.#waiters.get(clientMessageId) ?? []
      waiters.push({ resolve, reject })
      this.#waiters.set(clientMessageId, waiters)
    })
    if (!this.#entries.some((entry) => entry.clientMessageId === clientMessageId)) {
      const entry: OutboxEntry = { clientMessageId, queuedAt: Date.now(), attempts: 0 }
      if (body !== undefined) entry.body = body
      this.#entries.push(entry)
      await this.#save()
    }
    this.start()
    return result
  }

  /** Starts sending, or retries at once when a backoff is waiting, for example after a reconnect. */
  start(): void {
    if (this.#closed || this.#running) return
    if (this.#timer !== null) {
      clearTimeout(this.#timer)
      this.#timer = null
      this.#attempt = 0
    }
    void this.#run()
  }

  /** Stops sending; entries stay stored for the next start, and pending send() calls reject. */
  close(): void {
    this.#closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    const closed = new ReadmarkError('closed', 'the session closed before the server accepted it')
    for (const waiters of this.#waiters.values()) {
      for (const waiter of waiters) waiter.reject(closed)
    }
    this.#waiters.clear()
  }

  async #run(): Promise<void> {
    this.#running = true
    try {
      while (!this.#closed) {
        const entry = this.#entries[0]
        if (entry === undefined) return

        const attempt = await this.#attemptSend(entry)
        if (this.#closed) return
        if (attempt.outcome === 'retry') {
          entry.attempts += 1
          this.#options.error(attempt.error)
          const delay = Math.max(
            jitteredDelay(this.#attempt, this.#options.retry),
            attempt.notBeforeMs,
          )
          this.#attempt += 1
          this.#timer = setTimeout(() => {
            this.#timer = null
            void this.#run()
          }, delay)
          return
        }

        this.#attempt = 0
        this.#entries.shift()
        await this.#save()
        this.#settle(entry.clientMessageId, attempt)
      }
    } finally {
      this.#running = false
    }
  }

  #settle(clientMessageId: string, attempt: Exclude<Attempt, { outcome: 'retry' }>): void {
    const waiters = this.#waiters.get(clientMessageId) ?? []
    this.#waiters.delete(clientMessageId)
    if (attempt.outcome === 'sent') {
      for (const waiter of waiters) waiter.resolve(attempt.message)
      this.#options.sent(attempt.message)
    } else {
      for (const waiter of waiters) waiter.reject(attempt.error)
      this.#options.failed(clientMessageId, attempt.error)
    }
  }

  async #attemptSend(entry: OutboxEntry, tokenRefreshed = false): Promise<Attempt> {
    const { baseUrl, groupId, tokens, requestTimeoutMs } = this.#options
    const url = `${baseUrl}/v1/groups/${encodeURIComponent(groupId)}/messages`
    const body: { clientMessageId: string; body?: string } = {
      clientMessageId: entry.clientMessageId,
    }
    if (entry.body !== undefined) body.body = entry.body

    let response: Response
    try {
      const token = await tokens.current()
      response = await this.#options.fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(requestTimeoutMs),
      })
    } catch (error) {
      const cause = error instanceof ReadmarkError ? error.message : String(error)
      return retry(`sending message "${entry.clientMessageId}" failed: ${cause}`, error)
    }

    if (response.ok) return readSent(response, entry.clientMessageId)

    const problem = await readProblem(response)
    const message = `sending message "${entry.clientMessageId}" failed with ${response.status}: ${problem.message}`
    if (response.status === 401 && tokens.refreshable && !tokenRefreshed) {
      try {
        await tokens.refresh()
      } catch (error) {
        return retry(message, error, response.status, problem.code)
      }
      return this.#attemptSend(entry, true)
    }
    if (isRetryable(response.status)) {
      return retry(message, undefined, response.status, problem.code, retryAfterMs(response))
    }
    return {
      outcome: 'failed',
      error: new ReadmarkError('send-rejected', message, {
        status: response.status,
        ...(problem.code === undefined ? {} : { serverCode: problem.code }),
      }),
    }
  }

  async #save(): Promise<void> {
    try {
      await this.#options.save(this.list())
    } catch (error) {
      this.#options.error(
        error instanceof ReadmarkError
          ? error
          : new ReadmarkError('storage-failed', 'storing the outbox failed', { cause: error }),
      )
    }
  }
}

function retry(
  message: string,
  cause: unknown,
  status?: number,
  serverCode?: string,
  notBeforeMs = 0,
): Attempt {
  const details: { cause?: unknown; status?: number; serverCode?: string } = {}
  if (cause !== undefined) details.cause = cause
  if (status !== undefined) details.status = status
  if (serverCode !== undefined) details.serverCode = serverCode
  return {
    outcome: 'retry',
    error: new ReadmarkError('send-rejected', `${message}; retrying`, details),
    notBeforeMs,
  }
}

async function readSent(response: Response, clientMessageId: string): Promise<Attempt> {
  let parsed: z.ZodSafeParseResult<z.infer<typeof sendResponseSchema>>
  try {
    parsed = sendResponseSchema.safeParse(await response.json())
  } catch (error) {
    return retry(`the response to message "${clientMessageId}" is not JSON`, error)
  }
  if (!parsed.success) {
    return retry(`the response to message "${clientMessageId}" has no valid seq`, parsed.error)
  }
  return {
    outcome: 'sent',
    message: { clientMessageId, seq: parsed.data.seq, created: parsed.data.created ?? true },
  }
}

async function readProblem(response: Response): Promise<{ code?: string; message: string }> {
  try {
    const parsed = errorBodySchema.safeParse(await response.json())
    if (parsed.success) return { code: parsed.data.error.code, message: parsed.data.error.message }
  } catch {
    // A body that is not JSON leaves only the status line.
  }
  return { message: response.statusText || 'no error body' }
}

function isRetryable(status: number): boolean {
  return status === 401 || status === 408 || status === 425 || status === 429 || status >= 500
}

/** Reads a Retry-After header given in seconds; 0 when there is none. */
function retryAfterMs(response: Response): number {
  const seconds = Number(response.headers.get('retry-after'))
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0
}
