import type {
  CountsEvent,
  Group,
  GroupSummaryResponse,
  Member,
  ReadState,
  ReceiptsResponse,
  Role,
  SentMessage,
  UnreadResponse,
} from '@readmark/shared'

/** An error response of the readmark REST API: `{ error: { code, message } }` and the status. */
export class ReadmarkApiError extends Error {
  override readonly name = 'ReadmarkApiError'
  readonly status: number
  /** The stable error code, such as `not_found` or `forbidden`. */
  readonly code: string

  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

/**
 * The REST calls an application backend makes with a service token (a JWT with
 * `role: "service"`): it manages groups and acts for any user by naming them in `userId`.
 */
export class ReadmarkApi {
  readonly #baseUrl: string
  readonly #token: string

  /** baseUrl is the server's origin, such as `http://127.0.0.1:8787`. */
  constructor(baseUrl: string, serviceToken: string) {
    this.#baseUrl = baseUrl.replace(/\/+$/, '')
    this.#token = serviceToken
  }

  /** Creates a group whose members all join at head 0. */
  createGroup(
    groupId: string,
    members: Array<{ userId: string; role?: Role; bot?: boolean }>,
  ): Promise<Group> {
    return this.#request('POST', '/v1/groups', { id: groupId, members })
  }

  /** Adds a member, who joins at the current head with nothing unread, or changes its role. */
  putMember(groupId: string, userId: string, change: { role?: Role; bot?: boolean } = {}) {
    return this.#request<Member>('PUT', `/v1/groups/${seg(groupId)}/members/${seg(userId)}`, change)
  }

  removeMember(groupId: string, userId: string): Promise<Member> {
    return this.#request('DELETE', `/v1/groups/${seg(groupId)}/members/${seg(userId)}`)
  }

  /**
   * Sends a message for a user. Sending counts as reading, so the sender's watermark moves to
   * the new seq. Repeating a clientMessageId returns the first message instead of a second one.
   */
  sendMessage(
    groupId: string,
    userId: string,
    clientMessageId: string,
    body?: string,
  ): Promise<SentMessage> {
    const message: { userId: string; clientMessageId: string; body?: string } = {
      userId,
      clientMessageId,
    }
    if (body !== undefined) message.body = body
    return this.#request('POST', `/v1/groups/${seg(groupId)}/messages`, message)
  }

  /** Marks every message up to seq read for a user; a lower seq leaves the watermark as it is. */
  markRead(groupId: string, userId: string, seq: number): Promise<ReadState> {
    return this.#request('POST', `/v1/groups/${seg(groupId)}/read`, { userId, seq })
  }

  /** Returns a user's unread count per group and in total. */
  unread(userId: string): Promise<UnreadResponse> {
    return this.#request('GET', `/v1/users/${seg(userId)}/unread`)
  }

  /** Head, member count, every current member's watermark and the read rate of a group. */
  summary(groupId: string): Promise<GroupSummaryResponse> {
    return this.#request('GET', `/v1/groups/${seg(groupId)}/summary`)
  }

  /** Counts of one message with the first page of its readers (with read times) and unread members. */
  receipts(groupId: string, seq: number): Promise<ReceiptsResponse> {
    return this.#request('GET', `/v1/groups/${seg(groupId)}/messages/${seq}/receipts`)
  }

  /**
   * Follows the group's server-sent `counts` events, calling onEvent for each, until signal aborts
   * or the server ends the stream. The first event arrives at once, the next ones after changes.
   */
  async followEvents(
    groupId: string,
    onEvent: (event: CountsEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const path = `/v1/groups/${seg(groupId)}/events`
    let response: Response
    try {
      response = await fetch(`${this.#baseUrl}${path}`, {
        headers: { authorization: `Bearer ${this.#token}`, accept: 'text/event-stream' },
        signal,
      })
    } catch (error) {
      if (signal.aborted) return
      throw error
    }
    if (!response.ok || response.body === null) throw await apiError(response)

    const decoder = new TextDecoder()
    let buffer = ''
    try {
      const reader = response.body.getReader()
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        buffer += decoder.decode(chunk.value, { stream: true })
        let end = buffer.indexOf('\n\n')
        while (end !== -1) {
          const event = parseCountsEvent(buffer.slice(0, end))
          if (event !== null) onEvent(event)
          buffer = buffer.slice(end + 2)
          end = buffer.indexOf('\n\n')
        }
      }
    } catch (error) {
      if (!signal.aborted) throw error
    }
  }

  async #request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}` }
    const init: RequestInit = { method, headers }
    if (body !== undefined) {
      headers['content-type'] = 'application/json'
      init.body = JSON.stringify(body)
    }
    const response = await fetch(`${this.#baseUrl}${path}`, init)
    if (!response.ok) throw await apiError(response)
    return (await response.json()) as T
  }
}

/** Reads one server-sent event block; returns its data when it is a `counts` event. */
function parseCountsEvent(block: string): CountsEvent | null {
  let name = 'message'
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) name = line.slice(6).trim()
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
  }
  if (name !== 'counts' || data.length === 0) return null
  return JSON.parse(data.join('\n')) as CountsEvent
}

async function apiError(response: Response): Promise<ReadmarkApiError> {
  const text = await response.text()
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string } }
    return new ReadmarkApiError(response.status, error.code, error.message)
  } catch {
    return new ReadmarkApiError(response.status, 'unknown', text || response.statusText)
  }
}

/** Encodes one path segment; ids may contain `:` and `@`. */
function seg(value: string): string {
  return encodeURIComponent(value)
}
