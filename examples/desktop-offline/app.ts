import { parseArgs } from 'node:util'
import {
  createClient,
  type GroupSession,
  leveldbStorage,
  ReadmarkError,
} from '@readmark/client-sdk/node'
import WebSocket from 'ws'

const HELP = `Usage: node --import tsx examples/desktop-offline/app.ts --url URL --token JWT --group ID --data DIR [options]

A desktop client of one user that keeps its replica in a LevelDB folder. It opens the stored
replica, tries to sync, prints the messages with their counts, optionally marks messages read,
and quits. Receipts marked while the server is unreachable stay in the folder and reach the server
on a later start.

Options:
  --url URL       the server's origin, such as http://127.0.0.1:8787
  --token JWT     the user's token
  --group ID      the group to open
  --data DIR      the LevelDB folder of this device
  --device ID     this installation's id (default desktop)
  --read SEQ      mark every message up to SEQ read
  --wait-ms N     how long to wait for the server, in ms (default 2000)
  --help          print this help
`

interface AppOptions {
  url: string
  token: string
  group: string
  data: string
  device: string
  read: number | undefined
  waitMs: number
}

function parseOptions(): AppOptions | null {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      group: { type: 'string' },
      data: { type: 'string' },
      device: { type: 'string' },
      read: { type: 'string' },
      'wait-ms': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  })
  if (values.help === true) return null

  const missing = (['url', 'token', 'group', 'data'] as const).filter(
    (name) => values[name] === undefined,
  )
  if (missing.length > 0) {
    throw new Error(`missing ${missing.map((name) => `--${name}`).join(', ')}`)
  }
  const read = values.read === undefined ? undefined : Number(values.read)
  if (read !== undefined && (!Number.isSafeInteger(read) || read < 1)) {
    throw new Error(`--read must be a seq of 1 or more, got "${values.read}"`)
  }
  const waitMs = Number(values['wait-ms'] ?? 2_000)
  if (!Number.isFinite(waitMs) || waitMs < 0) {
    throw new Error(`--wait-ms must be a number of ms, got "${values['wait-ms']}"`)
  }
  return {
    url: values.url as string,
    token: values.token as string,
    group: values.group as string,
    data: values.data as string,
    device: values.device ?? 'desktop',
    read,
    waitMs,
  }
}

/** Resolves true once the promise resolves, false when waitMs pass first or it rejects. */
async function within(promise: Promise<void>, waitMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), waitMs)
  })
  try {
    return await Promise.race([promise.then(() => true), timeout])
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}

const FATAL_CODES = new Set(['invalid-token', 'not-member', 'group-not-found'])

function printMessages(session: GroupSession, print: (line: string) => void): void {
  for (const message of session.messages()) {
    if (message.deleted === true) {
      print(`  #${message.seq} ${message.sender}: (deleted)`)
      continue
    }
    print(
      `  #${message.seq} ${message.sender}: ${message.body ?? ''} (read ${message.readCount} / unread ${message.unreadCount})`,
    )
  }
}

const print = (line: string) => process.stdout.write(`${line}\n`)

async function main(): Promise<void> {
  let options: AppOptions | null
  try {
    options = parseOptions()
  } catch (error) {
    process.stderr.write(`desktop app: ${(error as Error).message}\n\n${HELP}`)
    process.exit(2)
  }
  if (options === null) {
    process.stdout.write(HELP)
    return
  }

  let client: Awaited<ReturnType<typeof createClient>>
  try {
    client = await createClient({
      url: options.url,
      token: options.token,
      deviceId: options.device,
      storage: leveldbStorage(options.data),
      WebSocket,
      reconnect: { baseMs: 200, maxMs: 1_000 },
    })
  } catch (error) {
    const code = error instanceof ReadmarkError ? ` (${error.code})` : ''
    process.stderr.write(`desktop app: cannot start${code}: ${(error as Error).message}\n`)
    process.exit(1)
  }
  let session: GroupSession
  try {
    session = await client.group(options.group)
  } catch (error) {
    const code = error instanceof ReadmarkError ? `${error.code}: ` : ''
    process.stderr.write(`desktop app: ${code}${(error as Error).message}\n`)
    await client.close()
    process.exit(1)
  }
  // Errors that stop syncing for good end the app: not a member, no such group, a rejected token.
  // The session recovers from the others by itself, so they are only printed.
  let stopped: ReadmarkError | null = null
  session.on('error', (error) => {
    if (FATAL_CODES.has(error.code)) stopped = error
    else print(`[${client.userId}] ${error.code}: ${error.message}`)
  })
  const stored =
    session.head() === 0
      ? 'no stored replica yet'
      : `head ${session.head()}, unread ${session.unreadCount()}, ${session.unconfirmed} receipt writes not yet confirmed`
  print(`[${client.userId}] opened ${options.data}: ${stored}`)

  const online = await within(session.whenSynced(), options.waitMs)
  if (stopped !== null) {
    const error: ReadmarkError = stopped
    process.stderr.write(`desktop app: ${error.code}: ${error.message}\n`)
    await client.close()
    process.exit(1)
  }
  if (online) {
    print(`[${client.userId}] synced with ${options.url}: head ${session.head()}`)
  } else {
    print(
      `[${client.userId}] server unreachable after ${options.waitMs} ms (status ${session.status}): working offline`,
    )
  }
  printMessages(session, print)

  if (options.read !== undefined) {
    const watermark = session.markRead(options.read)
    const later =
      options.read > session.head()
        ? ` (#${options.read} is beyond the replica's head ${session.head()}; it applies once that message arrives)`
        : ''
    print(
      `[${client.userId}] marked read up to #${options.read} ${online ? 'online' : 'offline'}: watermark ${watermark}${later}, unread ${session.unreadCount()}, ${session.unconfirmed} receipt writes not yet confirmed`,
    )
    printMessages(session, print)
  }

  if (session.status === 'synced' && session.unconfirmed > 0) {
    const confirmed = await within(session.whenConfirmed(), options.waitMs)
    print(
      confirmed
        ? `[${client.userId}] the server confirmed every receipt as stored`
        : `[${client.userId}] no confirmation within ${options.waitMs} ms; the receipts stay in the folder`,
    )
  } else if (session.unconfirmed > 0) {
    print(
      `[${client.userId}] ${session.unconfirmed} receipt writes wait in ${options.data} for the next start`,
    )
  }

  await client.close()
  print(`[${client.userId}] quit`)
}

await main()
