/** Thrown for a REST call that failed; the message names the route, status and error code. */
export class RestError extends Error {
  override readonly name = 'RestError'
  readonly status: number
  readonly code: string | undefined

  constructor(message: string, status: number, code: string | undefined) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** A JSON client of the server's REST API with one bearer token. */
export class RestClient {
  readonly #baseUrl: string
  readonly #token: string

  constructor(baseUrl: string, token: string) {
    this.#baseUrl = baseUrl
    this.#token = token
  }

  /** Sends a request and returns the parsed JSON body; throws RestError on a non-2xx status. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${this.#token}` } }
    if (body !== undefined) {
      init.headers = { ...init.headers, 'content-type': 'application/json' }
      init.body = JSON.stringify(body)
    }
    const response = await fetch(`${this.#baseUrl}${path}`, init)
    const text = await response.text()
    if (!response.ok) {
      let code: string | undefined
      let message = text
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } }
        code = parsed.error?.code
        message = parsed.error?.message ?? text
      } catch {
        // Not the JSON error body: keep the text as it is.
      }
      throw new RestError(
        `${method} ${path} failed with ${response.status} ${code ?? ''}: ${message}`,
        response.status,
        code,
      )
    }
    return JSON.parse(text) as T
  }
}
