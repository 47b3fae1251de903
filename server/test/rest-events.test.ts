import type { CountsEvent } from '@readmark/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshGroupId, startServer, type TestServer, waitFor } from './helpers.ts'
import { EventReader, expectError, type RestCall, restClient, SERVICE } from './rest-client.ts'

let test: TestServer
let rest: RestCall

beforeAll(async () => {
  test = await startServer({ eventIntervalMs: 200 })
  rest = restClient(test)
})

afterAll(async () => {
  await test.close()
})

async function createGroup(members: string[]): Promise<string> {
  const id = freshGroupId()
  const created = await rest(SERVICE, 'POST', '/v1/groups', {
    id,
    members: members.map((userId) => ({ userId })),
  })
  expect(created.status).toBe(201)
  return id
}

async function follow(groupId: string, token: string): Promise<EventReader> {
  const response = await test.server.app.request(`/v1/groups/${groupId}/events`, {
    headers: { authorization: `Bearer ${token}` },
  })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toBe('text/event-stream')
  const reader = new EventReader(response)
  await waitFor('the first event', () => reader.events.length > 0)
  return reader
}

describe('GET /v1/groups/:gid/events', () => {
  it('sends the current counts at once', async () => {
    const groupId = await createGroup(['olive', 'bob'])
    await rest('olive', 'POST', `/v1/groups/${groupId}/messages`, { clientMessageId: 'c1' })

    const bob = await follow(groupId, await rest.token('bob'))

    expect(bob.dataOf<CountsEvent>('counts')[0]).toEqual({
      groupId,
      head: 1,
      changes: [],
      unread: 1,
      messages: [{ seq: 1, readCount: 0, unreadCount: 1 }],
    })
    await bob.close()
  })

  it('coalesces a burst of receipts into a few events', async () => {
    const readers = Array.from({ length: 30 }, (_, i) => `reader${i}`)
    const groupId = await createGroup(['olive', ...readers])
    await rest('olive', 'POST', `/v1/groups/${groupId}/messages`, { clientMessageId: 'c1' })
    const olive = await follow(groupId, await rest.token('olive'))

    await Promise.all(
      readers.map((userId) => rest(userId, 'POST', `/v1/groups/${groupId}/read`, { seq: 1 })),
    )

    await waitFor('an event with every receipt', () =>
      olive.dataOf<CountsEvent>('counts').some((event) => event.messages[0]?.readCount === 30),
    )
    const events = olive.dataOf<CountsEvent>('counts')
    expect(events.length - 1).toBeGreaterThanOrEqual(1)
    expect(events.length - 1).toBeLessThanOrEqual(4)
    expect(events.at(-1)?.changes).toEqual(['receipts'])
    await olive.close()
  })

  it('reports changes of messages and members', async () => {
    const groupId = await createGroup(['olive', 'bob'])
    const service = await follow(groupId, await rest.token(SERVICE))

    await rest('olive', 'POST', `/v1/groups/${groupId}/messages`, { clientMessageId: 'c1' })
    await rest(SERVICE, 'PUT', `/v1/groups/${groupId}/members/carl`, {})

    await waitFor('an event with the message and the member', () => {
      const changes = new Set(
        service.dataOf<CountsEvent>('counts').flatMap((event) => event.changes),
      )
      return changes.has('messages') && changes.has('members')
    })
    const last = service.dataOf<CountsEvent>('counts').at(-1)
    expect(last?.head).toBe(1)
    expect(last?.unread).toBeUndefined()
    expect(last?.messages).toEqual([{ seq: 1, readCount: 0, unreadCount: 1 }])
    await service.close()
  })

  it('ends the stream of a member who is removed', async () => {
    const groupId = await createGroup(['olive', 'bob'])
    const bob = await follow(groupId, await rest.token('bob'))

    await rest(SERVICE, 'DELETE', `/v1/groups/${groupId}/members/bob`)

    await waitFor('the stream to end', () => bob.ended)
  })

  it('accepts the token as a query parameter', async () => {
    const groupId = await createGroup(['olive', 'bob'])
    const token = await rest.token('bob')

    const response = await test.server.app.request(`/v1/groups/${groupId}/events?token=${token}`)

    expect(response.status).toBe(200)
    const reader = new EventReader(response)
    await waitFor('the first event', () => reader.events.length > 0)
    await reader.close()
  })

  it('rejects a caller who is not a member and an unknown group', async () => {
    const groupId = await createGroup(['olive'])

    expectError(await rest('mallory', 'GET', `/v1/groups/${groupId}/events`), 403, 'forbidden')
    expectError(await rest('olive', 'GET', `/v1/groups/${freshGroupId()}/events`), 404, 'not_found')
  })
})
