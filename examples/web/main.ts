import { parseArgs } from 'node:util'
import { startWebExample, USERS } from './server.ts'

const HELP = `Usage: npm run example:web -- [--port N] [--data-dir PATH]

Serves the web chat example and the readmark API on 127.0.0.1.
  --port N         TCP port (default 8788; 0 picks a free one)
  --data-dir PATH  the server's LevelDB folder (default: a temporary one, removed on exit)
`

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    help: { type: 'boolean' },
  },
  strict: true,
})
if (values.help === true) {
  process.stdout.write(HELP)
  process.exit(0)
}
const port = Number(values.port ?? 8788)
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`web example: --port must be a port number, got "${values.port}"\n\n${HELP}`)
  process.exit(2)
}

const example = await startWebExample({
  port,
  ...(values['data-dir'] === undefined ? {} : { dataDir: values['data-dir'] }),
})
process.stdout.write(`web chat example on ${example.url}; open one window per user:\n`)
for (const user of USERS) process.stdout.write(`  ${example.url}/?user=${user}\n`)
process.stdout.write('Ctrl-C stops it.\n')

const stop = () => {
  void example.close().then(() => process.exit(0))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
