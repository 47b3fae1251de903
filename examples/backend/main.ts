import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, mintToken, type ReadmarkServer } from '@readmark/server'
import { ReadmarkApi, ReadmarkApiError } from './readmark-api.ts'
import { runWalkthrough } from './walkthrough.ts'

/**
 * Runs the walkthrough against the server at READMARK_URL, signing the service token with
 * AUTH_SECRET. Without READMARK_URL it starts a server of its own on 127.0.0.1 and a temporary
 * folder, and removes both at the end.
 */
async function main(): Promise<void> {
  const print = (line: string) => process.stdout.write(`${line}\n`)
  let url = process.env.READMARK_URL
  let secret = process.env.AUTH_SECRET
  let server: ReadmarkServer | undefined
  let dataDir: string | undefined

  if (url === undefined || url === '') {
    dataDir = mkdtempSync(join(tmpdir(), 'readmark-backend-example-'))
    secret = randomBytes(32).toString('hex')
    server = await createServer({ dataDir, authSecret: secret, port: 0, host: '127.0.0.1' })
    await server.listen()
    url = server.url
    print(`no READMARK_URL set: started a server at ${url}`)
  } else if (secret === undefined || secret === '') {
    process.stderr.write('backend example: READMARK_URL is set but AUTH_SECRET is missing\n')
    process.exit(2)
  }

  try {
    const serviceToken = await mintToken(secret as string, 'example-backend', { service: true })
    const api = new ReadmarkApi(url, serviceToken)
    const groupId = `team-${randomBytes(3).toString('hex')}`
    await runWalkthrough(api, groupId, print)
  } catch (error) {
    process.exitCode = 1
    if (error instanceof ReadmarkApiError) {
      process.stderr.write(`backend example: ${error.code} (${error.status}): ${error.message}\n`)
    } else {
      const cause = (error as { cause?: { code?: string } }).cause?.code
      process.stderr.write(
        `backend example: request to ${url} failed${cause === undefined ? '' : ` (${cause})`}: ${(error as Error).message}\n`,
      )
    }
  } finally {
    await server?.close()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
  }
}

await main()
