import {
  CloseCode,
  type Group,
  type Member,
  type ReceiptsResponse,
  type UnreadResponse,
} from '@readmark/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshGroupId, startServer, type TestServer, waitFor } from './helpers.ts'
import { RawClient } from './raw-client.ts'
import { expectError, type RestCall, restClient, SERVICE } from './rest-client.ts'

let test: TestServer
let rest: RestCall

beforeAll(async () => {
  test = await startServer()
  rest = restClient(test)
})

afterAll(async () => {
  await test.close()
})

async function createGroup(
  members: Array<{ userId: string; role?: string; bot?: boolean }>,
): Promise<string> {
  const id = freshGroupId()
  const created = await rest(SERVICE, 'POST', '/v1/groups', { id, members })
  expect(created.status).toBe(201)
  return id
}

async function send(groupId: string, sender: string, clientMessageId: string): Promise<number> {
  const sent = await rest<{ seq: number }>(sender, 'POST', `/v1/groups/${groupId}/messages`, {
    clientMessageId,
  })
  expect(sent.status).toBe(201)
  return sent.body.seq
}

describe('POST /v1/groups', () => {
  it('creates a group with its first members at head 0', async () => {
    const id = freshGroupId()

    const created = await rest<Group>(SERVICE, 'POST', '/v1/groups', {
      id,
      members: [
        { userId: 'olive', role: 'owner' },
        { userId: 'bob' },
        { userId: 'bot-1', bot: true },
      ],
    })

    expect(created.status).toBe(201)
    expect(created.body.id).toBe(id)
    expect(created.body.head).toBe(0)
    expect(created.body.members).toEqual([
      { userId: 'bob', role: 'member', periods: [{ from: 0 }], current: true, watermark: 0 },
      {
        userId: 'bot-1',
        role: 'member',
        bot: true,
        periods: [{ from: 0 }],
        current: true,
        watermark: 0,
      },
      { userId: 'olive', role: 'owner', periods: [{ from: 0 }], current: true, watermark: 0 },
    ])
  })

  it('rejects a user token', async () => {
    const response = await rest('olive', 'POST', '/v1/groups', { id: freshGroupId(), members: [] })

    expectError(response, 403, 'forbidden')
  })

  it('rejects an existing id with 409', async () => {
    const id = await createGroup([{ userId: 'olive' }])

    const again = await rest(SERVICE, 'POST', '/v1/groups', { id, members: [] })

    expectError(again, 409, 'conflict')
  })

  it('rejects a member listed twice', async () => {
    const response = await rest(SERVICE, 'POST', '/v1/groups', {
      id: freshGroupId(),
      members: [{ userId: 'bob' }, { userId: 'bob' }],
    })

    expectError(response, 400, 'invalid_request')
  })

  it('rejects an invalid group id with the zod issues', async () => {
    const response = await rest<{ error: { issues: Array<{ path: string[] }> } }>(
      SERVICE,
      'POST',
      '/v1/groups',
      { id: 'has space', members: [] },
    )

    expectError(response, 400, 'invalid_request')
    expect(response.body.error.issues[0]?.path).toEqual(['id'])
  })
})

describe('PUT /v1/groups/:gid/members/:uid', () => {
  it('joins a new member with W at the current head', async () => {
    const groupId = await createGroup([{ userId: 'olive', role: 'owner' }])
    await send(groupId, 'olive', 'm1')
    await send(groupId, 'olive', 'm2')

    const joined = await rest<Member>(SERVICE, 'PUT', `/v1/groups/${groupId}/members/dana`, {})

    expect(joined.status).toBe(201)
    expect(joined.body).toMatchObject({ userId: 'dana', role: 'member', watermark: 2 })
    expect(joined.body.periods).toEqual([{ from: 2 }])
    const unread = await rest<UnreadResponse>('dana', 'GET', '/v1/users/dana/unread')
    expect(unread.body.groups).toEqual([{ groupId, unread: 0, markedUnread: false }])
    const receipts = await rest<ReceiptsResponse>(
      'olive',
      'GET',
      `/v1/groups/${groupId}/messages/2/receipts`,
    )
    expect(receipts.body.unread).not.toContain('dana')
  })

  it('changes the role of a current member with 200', async () => {
    const groupId = await createGroup([{ userId: 'olive', role: 'owner' }, { userId: 'bob' }])

    const changed = await rest<Member>('olive', 'PUT', `/v1/groups/${groupId}/members/bob`, {
      role: 'admin',
    })

    expect(changed.status).toBe(200)
    expect(changed.body).toMatchObject({ userId: 'bob', role: 'admin', periods: [{ from: 0 }] })
  })

  it('lets an admin add members but not grant or change owners', async () => {
    const groupId = await createGroup([
      { userId: 'olive', role: 'owner' },
      { userId: 'adam', role: 'admin' },
      { userId: 'bob' },
    ])
    const path = (userId: string) => `/v1/groups/${groupId}/members/${userId}`

    expect((await rest('adam', 'PUT', path('carl'), { role: 'admin' })).status).toBe(201)
    expectError(await rest('adam', 'PUT', path('bob'), { role: 'owner' }), 403, 'forbidden')
    expectError(await rest('adam', 'PUT', path('olive'), { role: 'member' }), 403, 'forbidden')
    expectError(await rest('bob', 'PUT', path('dana'), {}), 403, 'forbidden')
    expectError(await rest('stranger', 'PUT', path('dana'), {}), 403, 'forbidden')
  })

  it('rejects an unknown role', async () => {
    const groupId = await createGroup([{ userId: 'olive', role: 'owner' }])

    const response = await rest(SERVICE, 'PUT', `/v1/groups/${groupId}/members/bob`, {
      role: 'king',
    })

    expectError(response, 400, 'invalid_request')
  })

  it('returns 404 for an unknown group', async () => {
    const response = await rest(SERVICE, 'PUT', `/v1/groups/${freshGroupId()}/members/bob`, {})

    expectError(response, 404, 'not_found')
  })
})

describe('DELETE /v1/groups/:gid/members/:uid', () => {
  it('drops the group from the removed member totals', async () => {
    const groupId = await createGroup([{ userId: 'olive', role: 'owner' }, { userId: 'bert' }])
    await send(groupId, 'olive', 'm1')
    const before = await rest<UnreadResponse>('bert', 'GET', '/v1/users/bert/unread')
    expect(before.body.groups).toContainEqual({ groupId, unread: 1, markedUnread: false })

    const removed = await rest<Member>('olive', 'DELETE', `/v1/groups/${groupId}/members/bert`)

    expect(removed.status).toBe(200)
    expect(removed.body).toMatchObject({ current: false, periods: [{ from: 0, to: 1 }] })
    const after = await rest<UnreadResponse>('bert', 'GET', '/v1/users/bert/unread')
    expect(after.body.groups.map((group) => group.groupId)).not.toContain(groupId)
    expect(after.body.total).toBe(before.body.total - 1)
  })

  it('keeps a removed member only in counts its W reached', async () => {
    const groupId = await createGroup([
      { userId: 'olive', role: 'owner' },
      { userId: 'bob' },
      { userId: 'carl' },
    ])
    await send(groupId, 'olive', 'm1')
    await send(groupId, 'olive', 'm2')
    await rest('bob', 'POST', `/v1/groups/${groupId}/read`, { seq: 1 })

    await rest(SERVICE, 'DELETE', `/v1/groups/${groupId}/members/bob`)

    const first = await rest<ReceiptsResponse>(
      'olive',
      'GET',
      `/v1/groups/${groupId}/messages/1/receipts`,
    )
    expect(first.body).toMatchObject({ readCount: 1, unreadCount: 1, unread: ['carl'] })
    expect(first.body.readers.map((reader) => reader.userId)).toEqual(['bob'])
    const second = await rest<ReceiptsResponse>(
      'olive',
      'GET',
      `/v1/groups/${groupId}/messages/2/receipts`,
    )
    expect(second.body).toMatchObject({
      readCount: 0,
      unreadCount: 1,
      readers: [],
      unread: ['carl'],
    })
  })

  it('lets a member leave but not remove others', async () => {
    const groupId = await createGroup([
      { userId: 'olive', role: 'owner' },
      { userId: 'adam', role: 'admin' },
      { userId: 'bob' },
      { userId: 'carl' },
    ])
    const path = (userId: string) => `/v1/groups/${groupId}/members/${userId}`

    expectError(await rest('bob', 'DELETE', path('carl')), 403, 'forbidden')
    expectError(await rest('adam', 'DELETE', path('olive')), 403, 'forbidden')
    expect((await rest('adam', 'DELETE', path('carl'))).status).toBe(200)
    expect((await rest('bob', 'DELETE', path('bob'))).status).toBe(200)
    expectError(await rest(SERVICE, 'DELETE', path('bob')), 404, 'not_found')
  })

  it('closes the removed member sync connections', async () => {
    const groupId = await createGroup([{ userId: 'olive', role: 'owner' }, { userId: 'bob' }])
    const bob = new RawClient(`${test.syncUrl}/${groupId}?token=${await rest.token('bob')}`)
    await waitFor('bob to sync', () => bob.synced)

    await rest('olive', 'DELETE', `/v1/groups/${groupId}/members/bob`)

    await waitFor('bob closed', () => bob.closeCode !== null)
    expect(bob.closeCode).toBe(CloseCode.notMember)
  })

  it('opens a second period when a member comes back', async () => {
    const groupId = await createGroup([{ userId: 'olive', role: 'owner' }, { userId: 'bob' }])
    await send(groupId, 'olive', 'm1')
    await rest(SERVICE, 'DELETE', `/v1/groups/${groupId}/members/bob`)
    await send(groupId, 'olive', 'm2')

    const back = await rest<Member>(SERVICE, 'PUT', `/v1/groups/${groupId}/members/bob`, {})
    await send(groupId, 'olive', 'm3')

    expect(back.status).toBe(201)
    expect(back.body.periods).toEqual([{ from: 0, to: 1 }, { from: 2 }])
    // A rejoin keeps W at 0: message 1 of the first period stays unread, message 2 never counts.
    const unread = await rest<UnreadResponse>('bob', 'GET', '/v1/users/bob/unread')
    expect(unread.body.total).toBe(2)
    const first = await rest<ReceiptsResponse>(
      'olive',
      'GET',
      `/v1/groups/${groupId}/messages/1/receipts`,
    )
    expect(first.body).toMatchObject({ readCount: 0, unreadCount: 1, unread: ['bob'] })
    const missed = await rest<ReceiptsResponse>(
      'olive',
      'GET',
      `/v1/groups/${groupId}/messages/2/receipts`,
    )
    expect(missed.body).toMatchObject({ readCount: 0, unreadCount: 0 })
  })
})
