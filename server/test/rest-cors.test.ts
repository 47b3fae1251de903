import { afterEach, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from './helpers.ts'

let test: TestServer | undefined

afterEach(async () => {
  await test?.close()
  test = undefined
})

async function preflight(server: TestServer, origin: string): Promise<Response> {
  return server.server.app.request('/v1/users/bob/unread', {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'authorization',
    },
  })
}

describe('CORS', () => {
  it('allows a configured origin', async () => {
    test = await startServer({ corsOrigins: ['https://chat.example.com'] })

    const response = await preflight(test, 'https://chat.example.com')

    expect(response.status).toBe(204)
    expect(response.headers.get('access-control-allow-origin')).toBe('https://chat.example.com')
    expect(response.headers.get('access-control-allow-headers')).toContain('authorization')
  })

  it('sends no allow-origin to other origins', async () => {
    test = await startServer({ corsOrigins: ['https://chat.example.com'] })

    const response = await preflight(test, 'https://evil.example.net')

    expect(response.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('sends no CORS headers by default', async () => {
    test = await startServer()

    const response = await test.server.app.request('/v1/users/bob/unread', {
      headers: {
        origin: 'https://chat.example.com',
        authorization: `Bearer ${await test.token('bob')}`,
      },
    })

    expect(response.status).toBe(200)
    expect(response.headers.get('access-control-allow-origin')).toBeNull()
  })
})
