import { parseArgs } from 'node:util'
import { mintToken } from './auth.ts'

const USAGE = 'Usage: AUTH_SECRET=... npm run token -- --sub USER_ID [--service] [--ttl SECONDS]\n'

const { values } = parseArgs({
  options: { sub: { type: 'string' }, service: { type: 'boolean' }, ttl: { type: 'string' } },
})
const secret = process.env.AUTH_SECRET
if (secret === undefined || values.sub === undefined) {
  process.stderr.write(USAGE)
  process.exit(2)
}
const ttlSeconds = values.ttl === undefined ? 3_600 : Number(values.ttl)
process.stdout.write(
  `${await mintToken(secret, values.sub, { service: values.service === true, ttlSeconds })}\n`,
)
