import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, mintToken, type ReadmarkServer } from '@readmark/server'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ReadmarkApi, ReadmarkApiError } from '../examples/backend/readmark-api.ts'
import { runWalkthrough } from '../examples/backend/walkthrough.ts'

describe('backend example', () => {
  let server: ReadmarkServer
  let dataDir: string
  let api: ReadmarkApi

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'readmark-backend-test-'))
    const secret = randomBytes(32).toString('hex')
    server = await createServer({ dataDir, authSecret: secret, port: 0, host: '127.0.0.1' })
    await server.listen()
    api = new ReadmarkApi(server.url, await mintToken(secret, 'backend', { service: true }))
  })

  afterEach(async () => {
    await server.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('walks through groups, messages and unread totals', async () => {
    const lines: string[] = []

    const result = await runWalkthrough(api, `team-${randomBytes(3).toString('hex')}`, (line) =>
      lines.push(line),
    )

    // bob read #1 by sending #2; carol marked #1 read; dave joined after both messages.
    expect(result.unread).toEqual({ alice: 1, bob: 0, carol: 1, dave: 0 })
    expect(result.firstMessage).toEqual({
      readCount: 2,
      unreadCount: 0,
      readers: ['bob', 'carol'],
      unread: [],
    })
    expect(result.events.length).toBeGreaterThan(1)
    expect(lines).toContain('unread totals: alice 1, bob 0, carol 1, dave 0')
  })

  it('surfaces error codes of the API', async () => {
    const failure = await api.unread('not a valid id').catch((error: unknown) => error)

    expect(failure).toBeInstanceOf(ReadmarkApiError)
    expect((failure as ReadmarkApiError).status).toBe(400)
    expect((failure as ReadmarkApiError).code).toBe('invalid_request')
  })
})
