import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { startServer, type TestServer } from '../../server/test/helpers.ts'
import {
  type ClientOptions,
  createClient,
  leveldbStorage,
  type ReadmarkClient,
} from '../src/node.ts'

export { freshGroupId, startServer, type TestServer, waitFor } from '../../server/test/helpers.ts'

/** Temporary folders and clients of one test, removed and closed by cleanup(). */
export class Fixture {
  readonly #folders: string[] = []
  readonly #clients = new Set<ReadmarkClient>()

  /** Returns a new empty folder for one device's storage. */
  folder(): string {
    const folder = mkdtempSync(join(tmpdir(), 'readmark-sdk-'))
    this.#folders.push(folder)
    return folder
  }

  /**
   * Creates a client of a user on the test server, storing in folder, with short backoffs so
   * that reconnects and retries happen within a test's time. Its device id is `<userId>-device`.
   */
  async client(
    test: TestServer,
    userId: string,
    folder: string,
    overrides: Partial<ClientOptions> = {},
  ): Promise<ReadmarkClient> {
    const options: ClientOptions = {
      url: test.server.url,
      getToken: () => test.token(userId),
      deviceId: `${userId}-device`,
      storage: leveldbStorage(folder),
      WebSocket,
      reconnect: { baseMs: 20, maxMs: 200 },
      retry: { baseMs: 20, maxMs: 200 },
      ...overrides,
    }
    // A fixed token in the overrides replaces the default getToken.
    if (overrides.token !== undefined && overrides.getToken === undefined) delete options.getToken
    const client = await createClient(options)
    this.#clients.add(client)
    return client
  }

  /** Closes a client and forgets it. */
  async close(client: ReadmarkClient): Promise<void> {
    this.#clients.delete(client)
    await client.close()
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled([...this.#clients].map((client) => client.close()))
    this.#clients.clear()
    for (const folder of this.#folders.splice(0)) rmSync(folder, { recursive: true, force: true })
  }
}

/** Creates a group whose members all join at head 0, and sends messages from its first member. */
export async function createGroup(
  test: TestServer,
  groupId: string,
  members: string[],
  messages = 0,
): Promise<void> {
  await test.server.groups.createGroup({
    id: groupId,
    members: members.map((userId) => ({ userId })),
  })
  for (let i = 1; i <= messages; i += 1) {
    await test.server.groups.sendMessage(groupId, members[0] as string, `m${i}`, `message ${i}`)
  }
}

/** Restarts the test server on the same port and data folder, so that clients can reconnect. */
export async function restartOnSamePort(test: TestServer): Promise<TestServer> {
  const port = Number(new URL(test.server.url).port)
  await test.server.close()
  return startServer({ port }, { dataDir: test.dataDir, secret: test.secret })
}

/** Returns W(u) as the server stores it. */
export async function serverWatermark(
  test: TestServer,
  groupId: string,
  userId: string,
): Promise<number> {
  const summary = await test.server.summaries.get(groupId)
  return summary?.watermarks.get(userId) ?? 0
}

export { startServer as startTestServer }
