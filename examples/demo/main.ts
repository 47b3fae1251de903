import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { mintToken } from '@readmark/server'
import { busiestHourStart, ChatLogError, readChatLog, selectWindow } from './chat-log.ts'
import { type CheckResult, checkAgainstOracle } from './check.ts'
import { CountsStream } from './counts-stream.ts'
import { type LiveSnapshot, LiveView } from './live-view.ts'
import { Replay } from './replay.ts'
import { RestClient } from './rest.ts'
import { buildScenario, ScenarioError } from './scenario.ts'
import { type ServerProcess, startServerProcess } from './server-process.ts'

const DEFAULT_LOG = fileURLToPath(
  new URL('./logs/duraspace-2009-08-19_2009-09-09.jsonl', import.meta.url),
)
const HOUR_MS = 3_600_000
/** Maximum wait for posts and confirmations once the replay's clock has run out, in ms. */
const SETTLE_TIMEOUT_MS = 60_000

/** Credit lines of the known chat logs, by the start of the file name. */
const CREDITS: ReadonlyArray<[prefix: string, credit: string]> = [
  ['duraspace', 'DuraSpace IRC logs (#duraspace, irclogs.duraspace.org), CC BY 4.0'],
  ['ubuntu', 'Kummerfeld et al. 2019, irc-disentanglement data (#ubuntu), CC BY 4.0'],
]

const HELP = `Usage: npm run demo -- [options]

Starts the readmark server on a fresh LevelDB folder and replays a real group chat against it:
the senders and timing of a pseudonymised IRC log, every member a client-SDK session that comes
online, reads, goes offline and reconnects. At the end it checks every message's counts and every
member's unread count from the REST API against counts computed from the replayed events, and
exits with 1 on any mismatch.

Options:
  --log PATH       chat log, JSON lines {ts, sender, len} (default: the committed
                   duraspace slice, 2009-08-19 to 2009-09-09)
  --from TIME      start of the window, ISO 8601 in UTC such as 2009-08-25T14:00Z
                   (default: the start of the log's busiest hour)
  --hours N        length of the window in hours of log time (default 1)
  --speed N        log time runs N times faster than wall time (default 60)
  --members N      members in the group, at least the senders in the window; the others
                   only read (default 50)
  --bots LIST      comma-separated senders that are bots: they post but never read, and
                   count toward no audience (default: none)
  --seed N         seed of the reading model; the same seed repeats a run (default 1)
  --data-dir PATH  the server's LevelDB folder (default: a new temporary folder, removed at
                   the end unless the check fails or --keep-data is set)
  --keep-data      keep the data folder
  --help           print this help
`

interface DemoOptions {
  log: string
  from: number | undefined
  hours: number
  speed: number
  members: number
  bots: Set<string>
  seed: number
  dataDir: string | undefined
  keepData: boolean
}

class UsageError extends Error {
  override readonly name = 'UsageError'
}

function parseOptions(argv: string[]): DemoOptions | 'help' {
  let values: ReturnType<typeof parseFlags>
  try {
    values = parseFlags(argv)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  if (values.help === true) return 'help'

  let from: number | undefined
  if (values.from !== undefined) {
    from = Date.parse(values.from)
    if (Number.isNaN(from)) {
      throw new UsageError(
        `--from must be an ISO 8601 time such as 2009-08-25T14:00Z, got "${values.from}"`,
      )
    }
  }
  return {
    log: values.log ?? DEFAULT_LOG,
    from,
    hours: positiveNumber('hours', values.hours, 1),
    speed: positiveNumber('speed', values.speed, 60),
    members: positiveInteger('members', values.members, 50),
    bots: new Set((values.bots ?? '').split(',').filter((sender) => sender !== '')),
    seed: positiveInteger('seed', values.seed, 1),
    dataDir: values['data-dir'],
    keepData: values['keep-data'] === true,
  }
}

function parseFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      log: { type: 'string' },
      from: { type: 'string' },
      hours: { type: 'string' },
      speed: { type: 'string' },
      members: { type: 'string' },
      bots: { type: 'string' },
      seed: { type: 'string' },
      'data-dir': { type: 'string' },
      'keep-data': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  }).values
}

function positiveNumber(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const parsed = Number(value)
  if (!Number.isFinite(parsed) || parsed <= 0) {
    throw new UsageError(`--${name} must be a positive number, got "${value}"`)
  }
  return parsed
}

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  const parsed = positiveNumber(name, value, fallback)
  if (!Number.isInteger(parsed)) {
    throw new UsageError(`--${name} must be a whole number, got "${value}"`)
  }
  return parsed
}

function creditOf(logPath: string): string | undefined {
  const name = basename(logPath)
  return CREDITS.find(([prefix]) => name.startsWith(prefix))?.[1]
}

function formatWindow(from: number, to: number): string {
  const start = new Date(from).toISOString()
  return `${start.slice(0, 10)} ${start.slice(11, 16)}–${new Date(to).toISOString().slice(11, 16)} UTC`
}

async function run(options: DemoOptions): Promise<number> {
  const out = process.stdout
  const log = await readChatLog(options.log)
  const from = options.from ?? busiestHourStart(log)
  if (from === undefined) throw new UsageError(`the log ${options.log} contains no messages`)
  const to = from + options.hours * HOUR_MS
  const messages = selectWindow(log, from, options.hours)
  if (messages.length === 0) {
    const first = new Date((log[0] as { ts: number }).ts).toISOString()
    const last = new Date((log.at(-1) as { ts: number }).ts).toISOString()
    throw new UsageError(
      `no messages in ${formatWindow(from, to)}; the log runs from ${first} to ${last}`,
    )
  }
  const scenario = buildScenario({
    messages,
    from,
    to,
    memberCount: options.members,
    bots: options.bots,
    seed: options.seed,
  })
  const speakers = scenario.members.filter((member) => member.speaker).length
  const wallSeconds = Math.round((to - from) / options.speed / 1000)

  out.write(
    `readmark demo: ${basename(options.log)}, ${formatWindow(from, to)}\n` +
      `${messages.length} messages from ${speakers} senders, ${options.members} members (${options.members - speakers} only read), ` +
      `×${options.speed}: about ${wallSeconds} s\n`,
  )
  const credit = creditOf(options.log)
  if (credit !== undefined) out.write(`traffic: ${credit}; pseudonymised, message text removed\n`)

  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'readmark-demo-'))
  mkdirSync(dataDir, { recursive: true })
  const authSecret = randomBytes(32).toString('hex')
  let server: ServerProcess | undefined
  let replay: Replay | undefined
  let stream: CountsStream | undefined
  let result: CheckResult | undefined

  try {
    server = await startServerProcess({
      dataDir,
      authSecret,
      logPath: join(dataDir, 'server.log'),
    })
    out.write(`server: ${server.url}, data in ${dataDir}\n\n`)

    const serviceToken = await mintToken(authSecret, 'demo-backend', {
      service: true,
      ttlSeconds: 86_400,
    })
    const rest = new RestClient(server.url, serviceToken)
    const stamp = new Date(from).toISOString().slice(0, 16).replace(/[-:]/g, '')
    const groupId = `demo-${stamp}-${randomBytes(3).toString('hex')}`
    await rest.request('POST', '/v1/groups', {
      id: groupId,
      members: scenario.members.map((member) =>
        member.bot ? { userId: member.userId, bot: true } : { userId: member.userId },
      ),
    })

    replay = await Replay.open({
      scenario,
      baseUrl: server.url,
      groupId,
      speed: options.speed,
      tokenOf: (userId) => mintToken(authSecret, userId, { ttlSeconds: 86_400 }),
    })
    stream = new CountsStream(server.url, groupId, serviceToken)

    const view = new LiveView(out, out.isTTY === true)
    const metrics = new ConnectionGauge(server.url)
    const activeReplay = replay
    const activeStream = stream
    const draw = () => view.draw(snapshotOf(activeReplay, activeStream, metrics, messages.length))
    const timer = setInterval(
      () => {
        void metrics.refresh()
        draw()
      },
      out.isTTY === true ? 250 : 2_000,
    )
    try {
      await replay.run()
      await replay.settle(SETTLE_TIMEOUT_MS)
    } finally {
      clearInterval(timer)
    }
    // The last counts event trails the last post by up to the server's event interval.
    const lastSeq = replay.oracle.seqs().at(-1) ?? 0
    const deadline = Date.now() + 2_000
    while ((stream.latest?.head ?? 0) < lastSeq && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await metrics.refresh()
    draw()

    result = await checkAgainstOracle(
      rest,
      groupId,
      replay.oracle,
      scenario.members.map((member) => member.userId),
    )
    printSummary(replay, result, server.warnings())
  } finally {
    stream?.close()
    await replay?.close()
    await server?.stop()
  }

  const failed =
    result === undefined ||
    result.messages.matched !== result.messages.checked ||
    result.members.matched !== result.members.checked
  if (options.dataDir === undefined && !options.keepData && !failed) {
    rmSync(dataDir, { recursive: true, force: true })
  } else {
    out.write(`data and server log kept in ${dataDir}\n`)
  }
  return failed ? 1 : 0
}

function snapshotOf(
  replay: Replay,
  stream: CountsStream,
  metrics: ConnectionGauge,
  totalMessages: number,
): LiveSnapshot {
  const latest = [...(stream.latest?.messages ?? [])]
    .sort((a, b) => b.seq - a.seq)
    .map((message) => ({ ...message, sender: replay.senders.get(message.seq) ?? '?' }))
  return {
    logNow: replay.logNow(),
    posted: replay.stats.posted,
    totalMessages,
    syncedMembers: replay.syncedMembers,
    memberCount: replay.memberCount,
    serverConnections: metrics.connections,
    reconnections: replay.stats.reconnections,
    onlineReads: replay.stats.onlineReads,
    offlineReads: replay.stats.offlineReads,
    receiptLatency: replay.receiptLatency.describe(),
    storeLatency: replay.storeLatency.describe(),
    latest,
  }
}

function printSummary(replay: Replay, result: CheckResult, serverWarnings: number): void {
  const { stats } = replay
  const lines = [
    '',
    `replayed ${stats.posted} messages (${stats.sendFailures} failed sends); ${stats.onlineReads} reads online, ${stats.offlineReads} offline; ${stats.reconnections} reconnections`,
    `receipt latency over ${replay.receiptLatency.count} receipts: ${replay.receiptLatency.describe()}; store confirmation over ${replay.storeLatency.count}: ${replay.storeLatency.describe()}`,
    `replay clock: events ran at most ${Math.round(stats.maxLagMs)} ms late; session errors: ${stats.sessionErrors}; server warnings: ${serverWarnings}`,
  ]
  if (stats.lastSessionError !== null) lines.push(`last session error: ${stats.lastSessionError}`)
  lines.push(
    `check: ${result.messages.matched}/${result.messages.checked} messages' counts matched, ${result.members.matched}/${result.members.checked} members' unread counts matched`,
  )
  for (const mismatch of [...result.messages.mismatches, ...result.members.mismatches].slice(
    0,
    20,
  )) {
    lines.push(`  mismatch: ${mismatch}`)
  }
  process.stdout.write(`${lines.join('\n')}\n`)
}

/** The server's count of open sync connections, read from its Prometheus /metrics. */
class ConnectionGauge {
  readonly #url: string
  connections: number | null = null

  constructor(baseUrl: string) {
    this.#url = `${baseUrl}/metrics`
  }

  async refresh(): Promise<void> {
    try {
      const text = await (await fetch(this.#url)).text()
      const match = /^readmark_connections (\d+)/m.exec(text)
      if (match !== null) this.connections = Number(match[1])
    } catch {
      // The live view shows the last reading; the check at the end does not depend on it.
    }
  }
}

async function main(): Promise<void> {
  let options: DemoOptions | 'help'
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n\n${HELP}`)
    process.exit(2)
  }
  if (options === 'help') {
    process.stdout.write(HELP)
    return
  }

  try {
    process.exit(await run(options))
  } catch (error) {
    if (
      error instanceof UsageError ||
      error instanceof ChatLogError ||
      error instanceof ScenarioError
    ) {
      process.stderr.write(`demo: ${error.message}\n`)
      process.exit(2)
    }
    process.stderr.write(`demo failed: ${(error as Error).stack ?? String(error)}\n`)
    process.exit(1)
  }
}

await main()
