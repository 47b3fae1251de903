import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createServer, mintToken, type ReadmarkServer } from '@readmark/server'
import { ReadmarkApi } from '../backend/readmark-api.ts'

const run = promisify(execFile)
const APP = fileURLToPath(new URL('./app.ts', import.meta.url))
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
const APP_TIMEOUT_MS = 30_000

/** The server's state as the story observed it, for its test. */
export interface StoryResult {
  /** Bob's unread total at the server before and after the reconnecting start. */
  unreadBefore: number
  unreadAfter: number
  /** Readers of message 3 at the server after the reconnecting start. */
  readersAfter: Array<{ userId: string; readAt: number | null }>
  /** When the server went down, in ms since the epoch. */
  serverStoppedAt: number
  /** Everything the desktop app printed, by run. */
  appOutput: string[]
}

/**
 * Plays the offline story. Bob's desktop app syncs four messages and quits, then the server goes
 * down. The app starts again, marks messages read offline and quits. The server comes back, and
 * the app starts a third time, reconnects, and its stored receipt arrives at the server.
 */
export async function runStory(print: (line: string) => void): Promise<StoryResult> {
  const serverDir = mkdtempSync(join(tmpdir(), 'readmark-desktop-server-'))
  const deviceDir = mkdtempSync(join(tmpdir(), 'readmark-desktop-device-'))
  const secret = randomBytes(32).toString('hex')
  const groupId = `desktop-${randomBytes(3).toString('hex')}`
  let server: ReadmarkServer | null = null
  const appOutput: string[] = []

  const startServer = async (port: number) => {
    server = await createServer({ dataDir: serverDir, authSecret: secret, port, host: '127.0.0.1' })
    await server.listen()
    return server
  }

  try {
    const first = await startServer(0)
    const url = first.url
    const port = Number(new URL(url).port)
    const api = new ReadmarkApi(url, await mintToken(secret, 'story-backend', { service: true }))
    const bobToken = await mintToken(secret, 'bob', { ttlSeconds: 3_600 })

    const runApp = async (title: string, extra: string[]) => {
      print(`\n== ${title}`)
      const { stdout } = await run(
        process.execPath,
        [
          '--import',
          'tsx',
          APP,
          '--url',
          url,
          '--token',
          bobToken,
          '--group',
          groupId,
          '--data',
          deviceDir,
          '--wait-ms',
          '2000',
          ...extra,
        ],
        { cwd: REPO_ROOT, timeout: APP_TIMEOUT_MS },
      )
      appOutput.push(stdout)
      for (const line of stdout.trimEnd().split('\n')) print(line)
    }

    print(`server at ${url}; group ${groupId} with alice and bob`)
    await api.createGroup(groupId, [{ userId: 'alice', role: 'owner' }, { userId: 'bob' }])
    for (const [index, body] of [
      'Release is tagged',
      'Docs are up',
      'Who checks CI?',
      'Thanks!',
    ].entries()) {
      await api.sendMessage(groupId, 'alice', `release-${index + 1}`, body)
    }
    print('alice sent 4 messages')

    await runApp('1. bob starts the app online: it syncs and stores the replica', [])

    await first.close()
    server = null
    const serverStoppedAt = Date.now()
    print('\n== the server stops: the app cannot reach it')

    await runApp('2. bob starts the app offline and reads up to #3', ['--read', '3'])

    const second = await startServer(port)
    print(`\n== the server starts again at ${second.url} on the same LevelDB folder`)
    const unreadBefore = (await api.unread('bob')).total
    print(`server: bob has ${unreadBefore} unread, because the receipt is still on his device`)

    await runApp('3. bob starts the app again: it reconnects and sends the stored receipt', [])

    const unreadAfter = (await api.unread('bob')).total
    const receipts = await api.receipts(groupId, 3)
    print(`\nserver: bob has ${unreadAfter} unread`)
    for (const reader of receipts.readers) {
      const readAt = reader.readAt === null ? 'unknown' : new Date(reader.readAt).toISOString()
      print(`server: #3 read by ${reader.userId} at ${readAt}, the time the receipt arrived`)
    }

    return {
      unreadBefore,
      unreadAfter,
      readersAfter: receipts.readers,
      serverStoppedAt,
      appOutput,
    }
  } finally {
    await (server as ReadmarkServer | null)?.close()
    rmSync(serverDir, { recursive: true, force: true })
    rmSync(deviceDir, { recursive: true, force: true })
  }
}
