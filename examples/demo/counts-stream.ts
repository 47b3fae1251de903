import type { CountsEvent } from '@readmark/shared'

/**
 * Follows `GET /v1/groups/:gid/events`, the server-sent `counts` events of a group, and keeps the
 * latest one. The server sends one at once, then at most one per event interval after changes.
 */
export class CountsStream {
  readonly #abort = new AbortController()
  #latest: CountsEvent | null = null
  #events = 0
  #failure: Error | null = null
  readonly done: Promise<void>

  constructor(baseUrl: string, groupId: string, token: string) {
    this.done = this.#follow(`${baseUrl}/v1/groups/${encodeURIComponent(groupId)}/events`, token)
  }

  /** The newest event, or null before the first one. */
  get latest(): CountsEvent | null {
    return this.#latest
  }

  /** Events received so far. */
  get events(): number {
    return this.#events
  }

  /** The error that ended the stream early, or null while it runs or after close(). */
  get failure(): Error | null {
    return this.#failure
  }

  close(): void {
    this.#abort.abort()
  }

  async #follow(url: string, token: string): Promise<void> {
    try {
      const response = await fetch(url, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
        signal: this.#abort.signal,
      })
      if (!response.ok || response.body === null) {
        throw new Error(`GET ${url} failed with ${response.status}: ${await response.text()}`)
      }

      const decoder = new TextDecoder()
      let buffer = ''
      const reader = response.body.getReader()
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        buffer += decoder.decode(chunk.value, { stream: true })
        let end = buffer.indexOf('\n\n')
        while (end !== -1) {
          this.#onEvent(buffer.slice(0, end))
          buffer = buffer.slice(end + 2)
          end = buffer.indexOf('\n\n')
        }
      }
    } catch (error) {
      if (!this.#abort.signal.aborted) this.#failure = error as Error
    }
  }

  /** Reads one event block: `event:` and `data:` lines; comment lines start with a colon. */
  #onEvent(block: string): void {
    let name = 'message'
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) name = line.slice(6).trim()
      else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
    }
    if (name !== 'counts' || data.length === 0) return

    this.#latest = JSON.parse(data.join('\n')) as CountsEvent
    this.#events += 1
  }
}
