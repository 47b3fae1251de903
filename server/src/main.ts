import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { mintToken } from './auth.ts'
import { InvalidOptionsError } from './options.ts'
import { createServer } from './server.ts'

const HELP = `Usage: npm start -- [options]

Runs the readmark server with its embedded LevelDB stores.

Options (each also read from the environment variable in brackets):
  --port N            TCP port, 0 for any free one [PORT] (default 8787)
  --host ADDRESS      address to bind [HOST] (default 127.0.0.1)
  --data-dir PATH     folder of the LevelDB stores [DATA_DIR] (default ./data)
  --auth-secret KEY   HS256 key of the tokens, at least 32 characters [AUTH_SECRET]
  --retention-days N  remove messages older than N days [RETENTION_DAYS] (default: keep all)
  --cors-origin LIST  comma-separated origins of web apps that may call the REST API from a
                      browser, such as https://chat.example.com [CORS_ORIGINS] (default: none)
  --dev               generate an auth secret when none is set and print tokens to try the API
  --help              print this help
`

/** Exits with 2 for a mistake in the flags, printing the usage after the message. */
function fail(message: string): never {
  process.stderr.write(`readmark: ${message}\n\n${HELP}`)
  process.exit(2)
}

/** Exits with 1 for a failure at start-up that no flag syntax caused. */
function failToStart(message: string): never {
  process.stderr.write(`readmark: ${message}\n`)
  process.exit(1)
}

/** Names of createServer options as this command takes them, for error messages. */
const FLAGS: Record<string, string> = {
  port: '--port (PORT)',
  host: '--host (HOST)',
  dataDir: '--data-dir (DATA_DIR)',
  authSecret: '--auth-secret (AUTH_SECRET)',
  retentionDays: '--retention-days (RETENTION_DAYS)',
  corsOrigins: '--cors-origin (CORS_ORIGINS)',
}

function nameFlags(message: string): string {
  return message.replace(
    /\b(port|host|dataDir|authSecret|retentionDays|corsOrigins)(?:\.\d+)?:/g,
    (_match, name: string) => `${FLAGS[name]}:`,
  )
}

/** Describes the usual start-up failures in one line that names the setting to change. */
function describeStartError(
  error: unknown,
  settings: { port: number; host: string; dataDir: string },
): string {
  const code = (error as { code?: string }).code
  const causeCode = (error as { cause?: { code?: string } }).cause?.code
  if (code === 'EADDRINUSE')
    return `port ${settings.port} on ${settings.host} is in use; choose another with --port`
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return `cannot listen on host "${settings.host}" (${code}); set --host to an address of this machine`
  }
  if (code === 'EACCES')
    return `no permission to listen on port ${settings.port}; use a port above 1023`
  if (causeCode === 'LEVEL_LOCKED') {
    return `data directory ${settings.dataDir} is in use by another readmark server; stop it or choose another --data-dir`
  }
  if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EROFS') {
    return `cannot use data directory ${settings.dataDir} (${code}); set --data-dir to a writable folder`
  }
  return `start failed: ${error instanceof Error ? error.message : String(error)}`
}

function splitList(value: string | undefined): string[] {
  if (value === undefined) return []
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
}

function parseNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined
  const parsed = Number(value)
  if (!Number.isFinite(parsed)) fail(`--${name} must be a number, got "${value}"`)
  return parsed
}

async function main(): Promise<void> {
  let flags: ReturnType<typeof parse>
  try {
    flags = parse()
  } catch (error) {
    fail((error as Error).message)
  }
  if (flags.help === true) {
    process.stdout.write(HELP)
    return
  }

  const env = process.env
  let authSecret = flags['auth-secret'] ?? env.AUTH_SECRET
  const dev = flags.dev === true
  if (authSecret === undefined || authSecret === '') {
    if (!dev)
      fail('no auth secret: set --auth-secret or AUTH_SECRET, or run with --dev to generate one')
    authSecret = randomBytes(32).toString('hex')
  }

  const logger = pino({ name: 'readmark', level: env.LOG_LEVEL ?? 'info' })
  const retentionDays = parseNumber('retention-days', flags['retention-days'] ?? env.RETENTION_DAYS)
  const port = parseNumber('port', flags.port ?? env.PORT) ?? 8787
  const host = flags.host ?? env.HOST ?? '127.0.0.1'
  const dataDir = flags['data-dir'] ?? env.DATA_DIR ?? './data'
  let server: Awaited<ReturnType<typeof createServer>>
  try {
    server = await createServer({
      port,
      host,
      dataDir,
      authSecret,
      ...(retentionDays === undefined ? {} : { retentionDays }),
      corsOrigins: splitList(flags['cors-origin'] ?? env.CORS_ORIGINS),
      logger,
    })
  } catch (error) {
    if (error instanceof InvalidOptionsError) fail(nameFlags(error.message))
    failToStart(describeStartError(error, { port, host, dataDir }))
  }
  try {
    await server.listen()
  } catch (error) {
    await server.close()
    failToStart(describeStartError(error, { port, host, dataDir }))
  }

  if (dev) {
    const service = await mintToken(authSecret, 'backend', { service: true, ttlSeconds: 86_400 })
    process.stdout.write(
      [
        '',
        `readmark --dev: generated auth secret ${authSecret}`,
        'Tokens are HS256 JWTs with claim sub = user id, and role "service" for your backend.',
        `Mint one:  AUTH_SECRET=${authSecret} npm run token -- --sub alice`,
        `A service token valid for 24 hours:`,
        `  ${service}`,
        `Try:  curl -H "authorization: Bearer ${service}" ${server.url}/v1/users/alice/unread`,
        '',
      ].join('\n'),
    )
  }

  const stop = (signal: string) => {
    logger.info({ signal }, 'stopping')
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'stopping failed')
        process.exit(1)
      },
    )
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
}

function parse() {
  return parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'auth-secret': { type: 'string' },
      'retention-days': { type: 'string' },
      'cors-origin': { type: 'string' },
      dev: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  }).values
}

await main()
