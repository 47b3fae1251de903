import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { mintToken } from '../src/auth.ts'
import type { ServerOptionsInput } from '../src/options.ts'
import { createServer, type ReadmarkServer } from '../src/server.ts'

/** A server on port 0 with its own temporary data directory. */
export interface TestServer {
  server: ReadmarkServer
  dataDir: string
  secret: string
  /** ws:// origin of the sync endpoint's prefix, as WebsocketProvider takes it. */
  syncUrl: string
  token(userId: string, options?: { service?: boolean; ttlSeconds?: number }): Promise<string>
  /** Closes the server and starts a new one on the same data directory and secret. */
  restart(): Promise<TestServer>
  close(): Promise<void>
}

/** Starts a server on 127.0.0.1 and port 0; `close()` removes its data directory. */
export async function startServer(
  overrides: Partial<ServerOptionsInput> = {},
  reuse?: { dataDir: string; secret: string },
): Promise<TestServer> {
  const dataDir = reuse?.dataDir ?? mkdtempSync(join(tmpdir(), 'readmark-test-'))
  const secret = reuse?.secret ?? randomBytes(32).toString('hex')
  const server = await createServer({
    dataDir,
    authSecret: secret,
    port: 0,
    host: '127.0.0.1',
    batchWindowMs: 2,
    ...overrides,
  })
  await server.listen()

  const testServer: TestServer = {
    server,
    dataDir,
    secret,
    syncUrl: `${server.url.replace('http', 'ws')}/v1/sync`,
    token: (userId, options) => mintToken(secret, userId, options),
    restart: async () => {
      await server.close()
      return startServer(overrides, { dataDir, secret })
    },
    close: async () => {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
  return testServer
}

/** Returns a group id no other test uses. */
export function freshGroupId(): string {
  return `g-${randomUUID()}`
}

/** Polls until check returns true; throws with the description after timeoutMs. */
export async function waitFor(
  description: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${description}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A stock y-websocket provider client with its own document. */
export interface StockClient {
  doc: Y.Doc
  provider: WebsocketProvider
  close(): void
}

/** Connects the stock WebsocketProvider of y-websocket 3 as a user and waits until it has synced. */
export async function connectStock(
  test: TestServer,
  groupId: string,
  userId: string,
  options: { doc?: Y.Doc; waitForSync?: boolean } = {},
): Promise<StockClient> {
  const doc = options.doc ?? new Y.Doc()
  const provider = new WebsocketProvider(test.syncUrl, groupId, doc, {
    params: { token: await test.token(userId) },
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    maxBackoffTime: 200,
  })
  const client: StockClient = {
    doc,
    provider,
    close: () => {
      provider.destroy()
      doc.destroy()
    },
  }
  if (options.waitForSync !== false)
    await waitFor(`${userId} to sync ${groupId}`, () => provider.synced)
  return client
}

/** Opens a raw WebSocket to the sync endpoint and resolves with its close code. */
export function closeCodeOf(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url)
    socket.on('close', (code) => resolve(code))
    socket.on('error', reject)
  })
}
