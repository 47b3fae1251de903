import type { ErrorBody } from '@readmark/shared'
import { expect } from 'vitest'
import type { TestServer } from './helpers.ts'

/** Caller name that stands for a service token. */
export const SERVICE = Symbol('service')
export type As = string | typeof SERVICE | null

export interface RestResponse<T> {
  status: number
  body: T
  headers: Headers
}

export interface RestCall {
  <T = unknown>(as: As, method: string, path: string, body?: unknown): Promise<RestResponse<T>>
  /** The token used for a caller; minted once per caller. */
  token(as: Exclude<As, null>): Promise<string>
}

/**
 * Returns a function that calls the REST API as a user, as the service, or without a token
 * (`null`). Requests go through `app.request()` in process, or over real HTTP with `http`.
 */
export function restClient(test: TestServer, transport: 'app' | 'http' = 'app'): RestCall {
  const tokens = new Map<As, Promise<string>>()
  const token = (as: Exclude<As, null>): Promise<string> => {
    let minted = tokens.get(as)
    if (minted === undefined) {
      minted = as === SERVICE ? test.token('backend', { service: true }) : test.token(as)
      tokens.set(as, minted)
    }
    return minted
  }

  const call = async <T>(
    as: As,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<RestResponse<T>> => {
    const headers: Record<string, string> = {}
    if (as !== null) headers.authorization = `Bearer ${await token(as)}`
    const init: RequestInit = { method, headers }
    if (body !== undefined) {
      headers['content-type'] = 'application/json'
      init.body = typeof body === 'string' ? body : JSON.stringify(body)
    }

    const response =
      transport === 'app'
        ? await test.server.app.request(path, init)
        : await fetch(`${test.server.url}${path}`, init)
    const text = await response.text()
    return {
      status: response.status,
      body: (text === '' ? undefined : JSON.parse(text)) as T,
      headers: response.headers,
    }
  }
  return Object.assign(call, { token })
}

/** Asserts an error response with the given status and stable code. */
export function expectError(response: RestResponse<unknown>, status: number, code: string): void {
  expect({ status: response.status, code: (response.body as ErrorBody).error?.code }).toEqual({
    status,
    code,
  })
  expect(typeof (response.body as ErrorBody).error.message).toBe('string')
}

/** One parsed server-sent event. */
export interface ServerSentEvent {
  event: string
  data: string
}

/** Reads server-sent events from a streaming response body into `events` until closed. */
export class EventReader {
  readonly events: ServerSentEvent[] = []
  ended = false
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>

  constructor(response: Response) {
    if (response.body === null) throw new Error('the response has no body to read events from')
    this.#reader = response.body.getReader()
    void this.#read()
  }

  /** Data of every event named `name`, parsed as JSON. */
  dataOf<T>(name: string): T[] {
    return this.events
      .filter((event) => event.event === name)
      .map((event) => JSON.parse(event.data))
  }

  async close(): Promise<void> {
    await this.#reader.cancel()
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder()
    let buffered = ''
    try {
      for (;;) {
        const { done, value } = await this.#reader.read()
        if (done) break
        buffered += decoder.decode(value, { stream: true })
        let end = buffered.indexOf('\n\n')
        while (end >= 0) {
          this.#parse(buffered.slice(0, end))
          buffered = buffered.slice(end + 2)
          end = buffered.indexOf('\n\n')
        }
      }
    } catch {
      // A cancelled or reset stream ends the reader like a closed one.
    }
    this.ended = true
  }

  #parse(block: string): void {
    let event = 'message'
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice('event: '.length)
      else if (line.startsWith('data: ')) data.push(line.slice('data: '.length))
    }
    if (data.length > 0) this.events.push({ event, data: data.join('\n') })
  }
}
