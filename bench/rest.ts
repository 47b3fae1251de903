// REST benchmark: requests per second and latency of the receipts of one message in a group of
// 10,000 members, and of a user's unread totals across 1,000 groups. The server runs in a child
// process (rest-server.ts), and autocannon loads it from this process over 127.0.0.1. Each
// scenario runs for a fixed number of seconds after a warm-up. Prints autocannon's client-side
// latency and the server's own time per request, measured around app.fetch, so without HTTP
// parsing and socket writes.
//
// Usage: npm run bench:rest -- [--members 10000] [--groups 1000] [--seconds 10] [--connections 1,10]
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'

const USAGE = `Usage: npm run bench:rest -- [options]
  --members N        members of the group whose receipts are read (default 10000)
  --groups N         groups of the user whose unread totals are read (default 1000)
  --seconds N        measured seconds per scenario, after a 2 s warm-up (default 10)
  --connections LIST comma-separated numbers of concurrent connections (default 1,10)
`

function fail(message: string): never {
  process.stderr.write(`bench:rest: ${message}\n\n${USAGE}`)
  process.exit(2)
}

function positiveInteger(name: string, text: string): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value <= 0)
    fail(`--${name} must be a positive whole number, got "${text}"`)
  return value
}

let values: {
  members: string
  groups: string
  seconds: string
  connections: string
  help?: boolean
}
try {
  values = parseArgs({
    options: {
      members: { type: 'string', default: '10000' },
      groups: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '1,10' },
      help: { type: 'boolean' },
    },
  }).values
} catch (error) {
  fail((error as Error).message)
}
if (values.help === true) {
  process.stdout.write(USAGE)
  process.exit(0)
}
positiveInteger('members', values.members)
positiveInteger('groups', values.groups)
const seconds = positiveInteger('seconds', values.seconds)
const connectionCounts = values.connections
  .split(',')
  .map((text) => positiveInteger('connections', text))
const WARM_UP_SECONDS = 2
/** Upper bound on one scenario's requests, so a run stays bounded whatever the machine. */
const MAX_REQUESTS = 2_000_000

interface Ready {
  port: number
  seedSeconds: number
  tokens: { sender: string; reader: string }
  paths: { receipts: string; unread: string }
}

interface Timings {
  count: number
  p50: number
  p99: number
  max: number
}

const child = fork(new URL('./rest-server.ts', import.meta.url), {
  execArgv: ['--import', 'tsx'],
  env: {
    ...process.env,
    BENCH_MEMBERS: values.members,
    BENCH_GROUPS: values.groups,
    BENCH_SECRET: randomBytes(32).toString('hex'),
  },
})

function nextMessage<T>(key: string): Promise<T> {
  return new Promise((resolve) => {
    const listener = (message: Record<string, unknown>) => {
      if (!(key in message)) return
      child.off('message', listener)
      resolve(message[key] as T)
    }
    child.on('message', listener)
  })
}

function load(
  url: string,
  token: string,
  connections: number,
  duration: number,
): Promise<autocannon.Result> {
  return autocannon({
    url,
    connections,
    duration,
    maxOverallRequests: MAX_REQUESTS,
    headers: { authorization: `Bearer ${token}` },
  })
}

async function scenario(name: string, url: string, token: string, connections: number) {
  await load(url, token, connections, WARM_UP_SECONDS)
  child.send('reset')
  await nextMessage('reset')

  const result = await load(url, token, connections, seconds)
  child.send('timings')
  const server = await nextMessage<Timings>('timings')
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${name}: ${result.non2xx} non-2xx responses and ${result.errors} errors`)
  }
  return { name, connections, result, server }
}

const ready = await nextMessage<Ready>('ready')
const origin = `http://127.0.0.1:${ready.port}`
process.stdout.write(
  `seeded ${values.members} members and ${values.groups} groups in ${ready.seedSeconds.toFixed(1)} s\n`,
)

const runs = []
for (const connections of connectionCounts) {
  runs.push(
    await scenario(
      `receipts of one message, ${values.members} members (page of 100)`,
      `${origin}${ready.paths.receipts}`,
      ready.tokens.sender,
      connections,
    ),
    await scenario(
      `unread totals of one user across ${values.groups} groups`,
      `${origin}${ready.paths.unread}`,
      ready.tokens.reader,
      connections,
    ),
  )
}

const format = (value: number) => value.toFixed(2)
process.stdout.write(
  [
    '',
    `${seconds} s per scenario after a ${WARM_UP_SECONDS} s warm-up`,
    '',
    '| scenario | connections | requests/s | client p50 ms | client p99 ms | server p50 ms | server p99 ms | server max ms |',
    '|---|---|---|---|---|---|---|---|',
    ...runs.map(
      ({ name, connections, result, server }) =>
        `| ${name} | ${connections} | ${Math.round(result.requests.average)} | ` +
        `${format(result.latency.p50)} | ${format(result.latency.p99)} | ` +
        `${format(server.p50)} | ${format(server.p99)} | ${format(server.max)} |`,
    ),
    '',
  ].join('\n'),
)

child.send('stop')
