import { sign } from 'hono/jwt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshGroupId, startServer, type TestServer } from './helpers.ts'
import { expectError, type RestCall, restClient, SERVICE } from './rest-client.ts'

let test: TestServer
let rest: RestCall

beforeAll(async () => {
  test = await startServer({ maxBodyBytes: 4_096 })
  rest = restClient(test)
})

afterAll(async () => {
  await test.close()
})

function request(path: string, init: RequestInit = {}) {
  return test.server.app.request(path, init)
}

describe('authentication', () => {
  it('rejects a request without a token', async () => {
    expectError(await rest(null, 'GET', '/v1/users/bob/unread'), 401, 'unauthorized')
  })

  it.each([
    ['a non-Bearer scheme', async () => 'Basic Ym9iOnNlY3JldA=='],
    ['a malformed token', async () => 'Bearer not-a-jwt'],
    ['an expired token', async () => `Bearer ${await test.token('bob', { ttlSeconds: -60 })}`],
    [
      'a token signed with another key',
      async () =>
        `Bearer ${await sign({ sub: 'bob' }, 'another-secret-of-at-least-32-chars!', 'HS256')}`,
    ],
    [
      'a token without a valid sub',
      async () => `Bearer ${await sign({ sub: 'a b' }, test.secret, 'HS256')}`,
    ],
  ])('rejects %s', async (_name, authorization) => {
    const response = await request('/v1/users/bob/unread', {
      headers: { authorization: await authorization() },
    })

    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: { code: 'unauthorized' } })
  })

  it('ignores a query token outside the events path', async () => {
    const token = await rest.token('bob')

    const unread = await request(`/v1/users/bob/unread?token=${token}`)

    expect(unread.status).toBe(401)
  })
})

describe('error responses', () => {
  it('returns 404 for an unknown route', async () => {
    expectError(await rest(SERVICE, 'GET', '/v1/nothing-here'), 404, 'not_found')
    expectError(await rest(null, 'GET', '/nothing-here'), 404, 'not_found')
  })

  it('rejects malformed JSON with 400', async () => {
    const response = await rest(SERVICE, 'POST', '/v1/groups', '{"id": ')

    expectError(response, 400, 'invalid_request')
  })

  it('names invalid fields and lists zod issues', async () => {
    const response = await rest<{ error: { message: string; issues: unknown[] } }>(
      SERVICE,
      'POST',
      '/v1/groups',
      { id: freshGroupId(), members: 'everyone' },
    )

    expectError(response, 400, 'invalid_request')
    expect(response.body.error.message).toMatch(/^invalid body: members: /)
    expect(response.body.error.issues).toHaveLength(1)
  })

  it('rejects a body larger than maxBodyBytes with 413', async () => {
    const body = JSON.stringify({ clientMessageId: 'c1', body: 'x'.repeat(5_000) })

    const response = await rest(SERVICE, 'POST', `/v1/groups/${freshGroupId()}/messages`, body)

    expectError(response, 413, 'payload_too_large')
  })

  it('rejects an oversized content-length header', async () => {
    const response = await request(`/v1/groups/${freshGroupId()}/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await rest.token(SERVICE)}`,
        'content-type': 'application/json',
        'content-length': '5000',
      },
      body: 'x'.repeat(5_000),
    })

    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ error: { code: 'payload_too_large' } })
  })
})

describe('rate limit', () => {
  it('returns 429 with Retry-After past the budget', async () => {
    const limited = await startServer({ rateLimitPerMinute: 3 })
    try {
      const call = restClient(limited)
      for (let i = 0; i < 3; i += 1) {
        expect((await call('bob', 'GET', '/v1/users/bob/unread')).status).toBe(200)
      }

      const refused = await call('bob', 'GET', '/v1/users/bob/unread')
      const otherToken = await call('carl', 'GET', '/v1/users/carl/unread')

      expectError(refused, 429, 'rate_limited')
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(20)
      expect(otherToken.status).toBe(200)
    } finally {
      await limited.close()
    }
  })
})

describe('OpenAPI', () => {
  it('serves a document with every route and no token', async () => {
    const response = await request('/openapi.json')
    const document = (await response.json()) as {
      openapi: string
      paths: Record<string, Record<string, unknown>>
      components: { schemas: Record<string, unknown> }
    }

    expect(response.status).toBe(200)
    expect(document.openapi).toBe('3.1.0')
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    )
    expect(operations.sort()).toEqual(
      [
        'POST /v1/groups',
        'PUT /v1/groups/{gid}/members/{uid}',
        'DELETE /v1/groups/{gid}/members/{uid}',
        'POST /v1/groups/{gid}/messages',
        'GET /v1/groups/{gid}/messages',
        'DELETE /v1/groups/{gid}/messages/{seq}',
        'POST /v1/groups/{gid}/read',
        'POST /v1/groups/{gid}/unread',
        'DELETE /v1/groups/{gid}/unread',
        'GET /v1/groups/{gid}/messages/{seq}/receipts',
        'GET /v1/groups/{gid}/summary',
        'GET /v1/users/{uid}/unread',
        'GET /v1/groups/{gid}/stats',
        'GET /v1/groups/{gid}/events',
      ].sort(),
    )
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining(['Receipts', 'UserUnread', 'CountsEvent', 'Error']),
    )
  })

  it('serves the interactive page at /docs', async () => {
    const response = await request('/docs')

    expect(response.status).toBe(200)
    expect(await response.text()).toContain('/openapi.json')
  })
})
