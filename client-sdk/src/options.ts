import { ID_PATTERN } from '@readmark/shared'
import { z } from 'zod'
import type { BackoffOptions } from './backoff.ts'
import { ReadmarkError } from './errors.ts'
import type { ClientStorage } from './storage.ts'
import type { WebSocketConstructor } from './sync-connection.ts'
import type { GetToken } from './tokens.ts'

/** Options of createClient. */
export interface ClientOptions {
  /** The server's origin, for example `https://readmark.example.com`; ws(s) URLs work too. */
  url: string
  /** A fixed JWT of the user; without getToken, a rejected token stops syncing. */
  token?: string
  /** Returns a fresh JWT of the user; called at start, when a token expires or is rejected. */
  getToken?: GetToken
  /** This installation's id, 1 to 128 characters from A-Z a-z 0-9 _ . : @ -; the receipt key is `<userId>/<deviceId>`. */
  deviceId: string
  storage: ClientStorage
  /** WebSocket class; defaults to the global one. Node 20 has none: pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketConstructor
  /** fetch function for the REST API; defaults to the global one. */
  fetch?: typeof fetch
  /** Whether group() connects its session at once; true by default. */
  connect?: boolean
  /** Reconnect backoff of sync connections, in ms; 250 to 30 000 by default. */
  reconnect?: Partial<BackoffOptions>
  /** Retry backoff of the outbox, in ms; 500 to 30 000 by default. */
  retry?: Partial<BackoffOptions>
  /** Time limit of one REST request, in ms; 15 000 by default. */
  requestTimeoutMs?: number
}

const backoffSchema = z
  .object({
    baseMs: z.number().positive().optional(),
    maxMs: z.number().positive().optional(),
  })
  .optional()

const isFunction = (value: unknown) => typeof value === 'function'

const optionsSchema = z.object({
  url: z
    .string()
    .regex(
      /^(https?|wss?):\/\/[^/?#]+(\/[^?#]*)?$/,
      'must be an http(s) or ws(s) URL without query',
    ),
  token: z.string().min(1).optional(),
  getToken: z.custom<GetToken>(isFunction, 'must be a function').optional(),
  deviceId: z.string().regex(ID_PATTERN, 'must be 1 to 128 characters from A-Z a-z 0-9 _ . : @ -'),
  storage: z.custom<ClientStorage>(
    (value) => typeof (value as ClientStorage | null)?.open === 'function',
    'must be a storage such as leveldbStorage(folder) or indexedDbStorage()',
  ),
  WebSocket: z.custom<WebSocketConstructor>(isFunction, 'must be a WebSocket class').optional(),
  fetch: z.custom<typeof fetch>(isFunction, 'must be a function').optional(),
  connect: z.boolean().optional(),
  reconnect: backoffSchema,
  retry: backoffSchema,
  requestTimeoutMs: z.number().int().positive().optional(),
})

/** Options after checking, with defaults filled in. */
export interface ResolvedOptions {
  baseUrl: string
  syncUrl: string
  token: string | undefined
  getToken: GetToken | undefined
  deviceId: string
  storage: ClientStorage
  WebSocket: WebSocketConstructor
  fetch: typeof fetch
  connect: boolean
  reconnect: BackoffOptions
  retry: BackoffOptions
  requestTimeoutMs: number
}

/** Checks createClient's options once; throws ReadmarkError `invalid-argument` naming the option. */
export function resolveOptions(input: ClientOptions): ResolvedOptions {
  const parsed = optionsSchema.safeParse(input)
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || 'options'}: ${issue.message}`,
    )
    throw new ReadmarkError('invalid-argument', `invalid client options: ${problems.join('; ')}`)
  }
  const options = parsed.data
  if (options.token === undefined && options.getToken === undefined) {
    throw new ReadmarkError('invalid-argument', 'invalid client options: set `token` or `getToken`')
  }

  const WebSocket = options.WebSocket ?? globalThis.WebSocket
  if (WebSocket === undefined) {
    throw new ReadmarkError(
      'invalid-argument',
      'invalid client options: this runtime has no global WebSocket; pass `WebSocket` from the ws package',
    )
  }
  const fetchFunction = options.fetch ?? globalThis.fetch?.bind(globalThis)
  if (fetchFunction === undefined) {
    throw new ReadmarkError(
      'invalid-argument',
      'invalid client options: this runtime has no global fetch; pass `fetch`',
    )
  }

  const origin = options.url.replace(/\/+$/, '')
  const baseUrl = origin.replace(/^ws/, 'http')
  return {
    baseUrl,
    syncUrl: `${baseUrl.replace(/^http/, 'ws')}/v1/sync`,
    token: options.token,
    getToken: options.getToken,
    deviceId: options.deviceId,
    storage: options.storage,
    WebSocket,
    fetch: fetchFunction,
    connect: options.connect ?? true,
    reconnect: { baseMs: 250, maxMs: 30_000, ...definedOnly(options.reconnect) },
    retry: { baseMs: 500, maxMs: 30_000, ...definedOnly(options.retry) },
    requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
  }
}

function definedOnly(backoff: { baseMs?: number | undefined; maxMs?: number | undefined } = {}) {
  const result: Partial<BackoffOptions> = {}
  if (backoff.baseMs !== undefined) result.baseMs = backoff.baseMs
  if (backoff.maxMs !== undefined) result.maxMs = backoff.maxMs
  return result
}
