import { parseArgs } from 'node:util'
import { ID_PATTERN } from '@readmark/shared'
import { mintToken } from './auth.ts'

const USAGE = `Usage: AUTH_SECRET=... npm run token -- --sub USER_ID [--service] [--ttl SECONDS]

Prints an HS256 token for the readmark server.
  --sub USER_ID   the user id (claim "sub"): 1 to 128 characters from A-Z a-z 0-9 _ . : @ -
  --service       mark the token as the application backend's (claim role "service")
  --ttl SECONDS   lifetime in seconds (default 3600)
`

/** Maximum lifetime of a minted token, ten years in seconds. */
const MAX_TTL_SECONDS = 315_360_000

function fail(message: string): never {
  process.stderr.write(`readmark token: ${message}\n\n${USAGE}`)
  process.exit(2)
}

let values: { sub?: string; service?: boolean; ttl?: string; help?: boolean }
try {
  values = parseArgs({
    options: {
      sub: { type: 'string' },
      service: { type: 'boolean' },
      ttl: { type: 'string' },
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

const secret = process.env.AUTH_SECRET
if (secret === undefined || secret === '') fail('AUTH_SECRET is not set')
if (secret.length < 32) fail('AUTH_SECRET must be at least 32 characters, as the server requires')
if (values.sub === undefined) fail('--sub is missing')
if (!ID_PATTERN.test(values.sub)) fail(`--sub "${values.sub}" is not a valid user id`)
const ttlSeconds = values.ttl === undefined ? 3_600 : Number(values.ttl)
if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > MAX_TTL_SECONDS)
  fail(`--ttl must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS}, got "${values.ttl}"`)

process.stdout.write(
  `${await mintToken(secret, values.sub, { service: values.service === true, ttlSeconds })}\n`,
)
