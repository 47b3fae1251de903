// Fan-out benchmark: N light members on one group, and 20 of them mark read at once, round after
// round. It prints receipt latency from send to arrival at every member, and server CPU per 1,000
// receipts. The server runs in a child process, so this process's clients do not share its core.
//
// Each scenario runs twice, against readmark and against the y-websocket 1.5 server as the
// reference, and prints the ratio of their p99 latencies.
//
// Usage: npm run bench:fanout -- [--members 500,2000] [--rounds 30] [--writers 20]
//                                [--batch-window-ms 2] [--servers readmark,y-websocket]
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { mintToken } from '../server/src/auth.ts'
import { LightClient } from './light-client.ts'

const USAGE = `Usage: npm run bench:fanout -- [options]
  --members LIST         comma-separated group sizes (default 500,2000)
  --rounds N             rounds per scenario (default 30)
  --writers N            members that mark read at once in each round (default 20)
  --batch-window-ms N    readmark's batch window in ms (default 2)
  --servers LIST         readmark, y-websocket or both (default readmark,y-websocket)
`

function fail(message: string): never {
  process.stderr.write(`bench:fanout: ${message}\n\n${USAGE}`)
  process.exit(2)
}

let values: ReturnType<typeof parseOptions>
try {
  values = parseOptions()
} catch (error) {
  fail((error as Error).message)
}
if (values.help === true) {
  process.stdout.write(USAGE)
  process.exit(0)
}

function parseOptions() {
  return parseArgs({
    options: {
      members: { type: 'string', default: '500,2000' },
      rounds: { type: 'string', default: '30' },
      writers: { type: 'string', default: '20' },
      'batch-window-ms': { type: 'string', default: '2' },
      servers: { type: 'string', default: 'readmark,y-websocket' },
      help: { type: 'boolean' },
    },
  }).values
}

const SERVER_SCRIPTS: Record<string, string> = {
  readmark: './fanout-server.ts',
  'y-websocket': './fanout-reference-server.ts',
}

function positiveInteger(name: string, text: string): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value <= 0)
    fail(`--${name} must be a positive whole number, got "${text}"`)
  return value
}

const memberCounts = values.members.split(',').map((text) => positiveInteger('members', text))
const rounds = positiveInteger('rounds', values.rounds)
const writersPerRound = positiveInteger('writers', values.writers)
positiveInteger('batch-window-ms', values['batch-window-ms'])
const servers = values.servers.split(',')
for (const server of servers) {
  if (!(server in SERVER_SCRIPTS)) fail(`--servers takes readmark and y-websocket, got "${server}"`)
}
if (memberCounts.some((members) => members < writersPerRound)) {
  fail(`every --members value must be at least --writers (${writersPerRound})`)
}
const ROUND_TIMEOUT_MS = 10_000

/** Report of the server process: its CPU time and, for readmark, its fan-out histogram. */
interface ServerReport {
  cpu: NodeJS.CpuUsage
  batches: number
  /** Cumulative counts of readmark_fanout_seconds by upper bound `le`, in seconds. */
  buckets: Array<{ le: number; count: number }>
}

/**
 * Returns the upper bound, in ms, of the histogram bucket that contains the given percentile of the
 * observations made between two reports.
 */
function bucketPercentile(before: ServerReport, after: ServerReport, p: number): number {
  const total = after.batches - before.batches
  for (const bucket of after.buckets) {
    const previous = before.buckets.find((entry) => entry.le === bucket.le)?.count ?? 0
    if (bucket.count - previous >= (p / 100) * total) return bucket.le * 1000
  }
  return Number.POSITIVE_INFINITY
}

interface Member {
  userId: string
  socket: LightClient
  doc: Y.Doc
  /** Receipt keys seen in the current round. */
  seen: Set<string>
  /** Arrival time of each key in the current round. */
  arrivals: number[]
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

function updateFrame(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 0)
  encoding.writeVarUint(encoder, 2)
  encoding.writeVarUint8Array(encoder, update)
  return encoding.toUint8Array(encoder)
}

const decodedFrames = new Map<string, string[]>()

/**
 * Reads the receipt keys of a broadcast frame, or none for other frames. Every member gets the
 * same frames, so each is decoded once, keeping this process from being the bottleneck.
 */
function receiptKeysOf(frame: Buffer): string[] {
  const cacheKey = frame.toString('latin1')
  let keys = decodedFrames.get(cacheKey)
  if (keys === undefined) {
    keys = decodeReceiptKeys(new Uint8Array(frame))
    decodedFrames.set(cacheKey, keys)
  }
  return keys
}

function decodeReceiptKeys(frame: Uint8Array): string[] {
  const decoder = decoding.createDecoder(frame)
  if (decoding.readVarUint(decoder) !== 0) return []
  if (decoding.readVarUint(decoder) !== 2) return []
  const keys: string[] = []
  for (const struct of Y.decodeUpdate(decoding.readVarUint8Array(decoder)).structs) {
    if (struct instanceof Y.Item && typeof struct.parentSub === 'string')
      keys.push(struct.parentSub)
    else if (struct instanceof Y.Item && struct.origin !== null)
      keys.push(`origin:${struct.id.client}`)
  }
  return keys
}

/** Runs one scenario and returns its p99 latency in ms. */
async function runScenario(server: string, members: number): Promise<number> {
  const secret = randomBytes(32).toString('hex')
  const script = SERVER_SCRIPTS[server]
  if (script === undefined)
    throw new Error(`unknown server "${server}"; expected readmark or y-websocket`)
  const child = fork(new URL(script, import.meta.url), {
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.BENCH_CPU_PROF
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
        : []),
    ],
    env: {
      ...process.env,
      BENCH_MEMBERS: String(members),
      BENCH_HEAD: String(rounds),
      BENCH_SECRET: secret,
      BENCH_BATCH_WINDOW_MS: values['batch-window-ms'],
    },
  })
  const port = await new Promise<number>((resolve) =>
    child.once('message', (m: { port: number }) => resolve(m.port)),
  )
  const cpu = () =>
    new Promise<ServerReport>((resolve) => {
      child.once('message', (m: ServerReport) => resolve(m))
      child.send('cpu')
    })

  // Connect in slices so the server's accept loop is not the thing measured.
  const all: Member[] = []
  const clientIdOwner = new Map<number, string>()
  for (let start = 0; start < members; start += 200) {
    const slice = await Promise.all(
      Array.from({ length: Math.min(200, members - start) }, async (_, offset) => {
        const userId = `u${start + offset}`
        const token = await mintToken(secret, userId)
        const member: Member = {
          userId,
          socket: new LightClient(port, `/v1/sync/bench?token=${token}`, (data, now) => {
            for (const key of receiptKeysOf(data)) {
              const resolved = key.startsWith('origin:')
                ? `${clientIdOwner.get(Number(key.slice(7)))}/d`
                : key
              if (!member.seen.has(resolved)) {
                member.seen.add(resolved)
                member.arrivals.push(now)
              }
            }
          }),
          doc: new Y.Doc(),
          seen: new Set(),
          arrivals: [],
        }
        clientIdOwner.set(member.doc.clientID, userId)
        await member.socket.opened
        return member
      }),
    )
    all.push(...slice)
  }

  const latencies: number[] = []
  let timedOut = 0
  const cpuBefore = await cpu()
  for (let round = 1; round <= rounds; round += 1) {
    const writers = Array.from(
      { length: writersPerRound },
      (_, i) => all[(round * writersPerRound + i) % members] as Member,
    )
    for (const member of all) {
      member.seen.clear()
      member.arrivals = []
    }
    decodedFrames.clear()

    const updates = writers.map((writer) => {
      let captured: Uint8Array = new Uint8Array()
      writer.doc.once('update', (update: Uint8Array) => {
        captured = update
      })
      writer.doc.getMap('receipts').set(`${writer.userId}/d`, round)
      return { writer, frame: updateFrame(captured) }
    })
    const sentAt = performance.now()
    for (const { writer, frame } of updates) writer.socket.send(frame)

    const deadline = Date.now() + ROUND_TIMEOUT_MS
    while (all.some((member) => member.seen.size < writersPerRound) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    for (const member of all) {
      for (const arrival of member.arrivals) latencies.push(arrival - sentAt)
      timedOut += writersPerRound - member.seen.size
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const cpuAfter = await cpu()

  const receipts = rounds * writersPerRound
  const serverCpuMs =
    (cpuAfter.cpu.user - cpuBefore.cpu.user + cpuAfter.cpu.system - cpuBefore.cpu.system) / 1000
  const batchesPerRound = (cpuAfter.batches - cpuBefore.batches) / rounds
  latencies.sort((a, b) => a - b)
  const p99 = percentile(latencies, 99)
  const line = [
    server.padEnd(11),
    `members ${members}`,
    `receipts ${receipts}`,
    `deliveries ${latencies.length}`,
    `p50 ${percentile(latencies, 50).toFixed(1)} ms`,
    `p99 ${p99.toFixed(1)} ms`,
    `max ${(latencies.at(-1) ?? Number.NaN).toFixed(1)} ms`,
    `server CPU ${((serverCpuMs / receipts) * 1000).toFixed(0)} ms per 1,000 receipts`,
    ...(server === 'readmark'
      ? [
          `batches per round ${batchesPerRound.toFixed(2)}`,
          `server-side fan-out p99 ≤ ${bucketPercentile(cpuBefore, cpuAfter, 99)} ms`,
        ]
      : []),
    `missing ${timedOut}`,
  ]
  process.stdout.write(`${line.join(' | ')}\n`)

  for (const member of all) member.socket.close()
  child.send('stop')
  await new Promise((resolve) => child.once('exit', resolve))
  return p99
}

for (const members of memberCounts) {
  const p99s = new Map<string, number>()
  for (const server of servers) p99s.set(server, await runScenario(server, members))

  const ours = p99s.get('readmark')
  const reference = p99s.get('y-websocket')
  if (ours !== undefined && reference !== undefined) {
    process.stdout.write(
      `p99 ratio y-websocket / readmark at ${members} members: ${(reference / ours).toFixed(1)}\n`,
    )
  }
}
