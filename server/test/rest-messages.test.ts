import {
  type GroupSummaryResponse,
  MAX_BODY_LENGTH,
  type MessagePage,
  type MessageRecord,
  type SentMessage,
  type UnreadResponse,
} from '@readmark/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshGroupId, startServer, type TestServer } from './helpers.ts'
import { expectError, type RestCall, restClient, SERVICE } from './rest-client.ts'

/** Messages the group document's window keeps in these tests. */
const WINDOW = 3

let test: TestServer
let rest: RestCall

beforeAll(async () => {
  test = await startServer({ messageWindow: WINDOW })
  rest = restClient(test)
})

afterAll(async () => {
  await test.close()
})

async function createGroup(
  members: Array<{ userId: string; role?: string }> = [
    { userId: 'olive', role: 'owner' },
    { userId: 'adam', role: 'admin' },
    { userId: 'bob' },
    { userId: 'carl' },
  ],
): Promise<string> {
  const id = freshGroupId()
  expect((await rest(SERVICE, 'POST', '/v1/groups', { id, members })).status).toBe(201)
  return id
}

function send(groupId: string, sender: string, clientMessageId: string, body?: string) {
  return rest<SentMessage>(sender, 'POST', `/v1/groups/${groupId}/messages`, {
    clientMessageId,
    ...(body === undefined ? {} : { body }),
  })
}

describe('POST /v1/groups/:gid/messages', () => {
  it('gives concurrent sends distinct consecutive seqs', async () => {
    const groupId = await createGroup()

    const sends = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        send(groupId, i % 2 === 0 ? 'bob' : 'carl', `burst-${i}`),
      ),
    )

    const seqs = sends.map((response) => response.body.seq).sort((a, b) => a - b)
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
  })

  it('returns one seq for concurrent retries of one message', async () => {
    const groupId = await createGroup()

    const retries = await Promise.all(
      Array.from({ length: 5 }, () => send(groupId, 'bob', 'same', 'hi')),
    )

    expect(new Set(retries.map((response) => response.body.seq))).toEqual(new Set([1]))
    expect(retries.filter((response) => response.status === 201)).toHaveLength(1)
  })

  it("assigns the next seq and moves the sender's watermark", async () => {
    const groupId = await createGroup()

    const first = await send(groupId, 'bob', 'c1', 'hello')
    const second = await send(groupId, 'carl', 'c2')

    expect(first.status).toBe(201)
    expect(first.body).toMatchObject({
      seq: 1,
      id: 'c1',
      sender: 'bob',
      body: 'hello',
      created: true,
    })
    expect(second.body.seq).toBe(2)
    const summary = await rest<GroupSummaryResponse>('bob', 'GET', `/v1/groups/${groupId}/summary`)
    expect(summary.body.watermarks).toMatchObject({ bob: 1, carl: 2, olive: 0 })
  })

  it('returns the same message for a repeated clientMessageId', async () => {
    const groupId = await createGroup()
    const first = await send(groupId, 'bob', 'c1', 'hello')

    const again = await send(groupId, 'bob', 'c1', 'hello')

    expect(again.status).toBe(200)
    expect(again.body).toEqual({ ...first.body, created: false })
    const page = await rest<MessagePage>('bob', 'GET', `/v1/groups/${groupId}/messages`)
    expect(page.body.messages).toHaveLength(1)
  })

  it('rejects a reused clientMessageId with another body or sender', async () => {
    const groupId = await createGroup()
    await send(groupId, 'bob', 'c1', 'hello')

    expectError(await send(groupId, 'bob', 'c1', 'changed'), 409, 'conflict')
    expectError(await send(groupId, 'carl', 'c1', 'hello'), 409, 'conflict')
  })

  it('sends for the user a service token names', async () => {
    const groupId = await createGroup()
    const path = `/v1/groups/${groupId}/messages`

    const sent = await rest<SentMessage>(SERVICE, 'POST', path, {
      clientMessageId: 'c1',
      userId: 'carl',
    })

    expect(sent.status).toBe(201)
    expect(sent.body.sender).toBe('carl')
    expectError(
      await rest(SERVICE, 'POST', path, { clientMessageId: 'c2' }),
      400,
      'invalid_request',
    )
    expectError(
      await rest('bob', 'POST', path, { clientMessageId: 'c3', userId: 'carl' }),
      403,
      'forbidden',
    )
  })

  it('rejects a sender who is not a member', async () => {
    const groupId = await createGroup()

    expectError(await send(groupId, 'mallory', 'c1'), 403, 'forbidden')
  })

  it('rejects a body over the maximum length', async () => {
    const groupId = await createGroup()

    const response = await send(groupId, 'bob', 'c1', 'x'.repeat(MAX_BODY_LENGTH + 1))

    expectError(response, 400, 'invalid_request')
  })

  it('keeps older messages in the log once they leave the window', async () => {
    const groupId = await createGroup()

    for (let i = 1; i <= 5; i += 1) await send(groupId, 'bob', `c${i}`, `body ${i}`)

    await test.server.rooms.use(groupId, (room) => {
      const window = room.group.messages.toArray().map((message) => message.seq)
      expect(window).toEqual([3, 4, 5])
    })
    const page = await rest<MessagePage>('bob', 'GET', `/v1/groups/${groupId}/messages`)
    expect(page.body.messages.map((message) => message.body)).toEqual([
      'body 1',
      'body 2',
      'body 3',
      'body 4',
      'body 5',
    ])
  })
})

describe('GET /v1/groups/:gid/messages', () => {
  it('pages the log with counts per message', async () => {
    const groupId = await createGroup()
    for (let i = 1; i <= 5; i += 1) await send(groupId, 'olive', `c${i}`)
    await rest('bob', 'POST', `/v1/groups/${groupId}/read`, { seq: 4 })
    await rest('carl', 'POST', `/v1/groups/${groupId}/read`, { seq: 2 })
    const path = `/v1/groups/${groupId}/messages`

    const first = await rest<MessagePage>('bob', 'GET', `${path}?limit=2`)
    const second = await rest<MessagePage>(
      'bob',
      'GET',
      `${path}?after=${first.body.nextAfter}&limit=2`,
    )
    const last = await rest<MessagePage>(
      'bob',
      'GET',
      `${path}?after=${second.body.nextAfter}&limit=2`,
    )

    const counts = [...first.body.messages, ...second.body.messages, ...last.body.messages].map(
      ({ seq, readCount, unreadCount }) => ({ seq, readCount, unreadCount }),
    )
    expect(counts).toEqual([
      { seq: 1, readCount: 2, unreadCount: 1 },
      { seq: 2, readCount: 2, unreadCount: 1 },
      { seq: 3, readCount: 1, unreadCount: 2 },
      { seq: 4, readCount: 1, unreadCount: 2 },
      { seq: 5, readCount: 0, unreadCount: 3 },
    ])
    expect(first.body.nextAfter).toBe(2)
    expect(second.body.nextAfter).toBe(4)
    expect(last.body.nextAfter).toBeNull()
  })

  it('rejects a caller who is not a member', async () => {
    const groupId = await createGroup()

    expectError(await rest('mallory', 'GET', `/v1/groups/${groupId}/messages`), 403, 'forbidden')
    expect((await rest(SERVICE, 'GET', `/v1/groups/${groupId}/messages`)).status).toBe(200)
  })

  it.each([
    ['a negative after', '?after=-1'],
    ['a zero limit', '?limit=0'],
    ['a limit over 200', '?limit=201'],
    ['a limit that is no number', '?limit=ten'],
  ])('rejects %s', async (_name, query) => {
    const groupId = await createGroup()

    const response = await rest('bob', 'GET', `/v1/groups/${groupId}/messages${query}`)

    expectError(response, 400, 'invalid_request')
  })

  it('returns 404 for an unknown group', async () => {
    const response = await rest(SERVICE, 'GET', `/v1/groups/${freshGroupId()}/messages`)

    expectError(response, 404, 'not_found')
  })
})

describe('DELETE /v1/groups/:gid/messages/:seq', () => {
  it('removes the message from counts, history and the window', async () => {
    const groupId = await createGroup()
    await send(groupId, 'olive', 'c1', 'secret')
    await send(groupId, 'olive', 'c2', 'kept')

    const deleted = await rest<MessageRecord>('olive', 'DELETE', `/v1/groups/${groupId}/messages/1`)

    expect(deleted.status).toBe(200)
    expect(deleted.body).toEqual({
      seq: 1,
      id: 'c1',
      sender: 'olive',
      at: expect.any(Number),
      deleted: true,
    })
    const page = await rest<MessagePage>('bob', 'GET', `/v1/groups/${groupId}/messages`)
    expect(page.body.messages[0]).toMatchObject({
      seq: 1,
      deleted: true,
      readCount: 0,
      unreadCount: 0,
    })
    expect(page.body.messages[0]?.body).toBeUndefined()
    const unread = await rest<UnreadResponse>('bob', 'GET', '/v1/users/bob/unread')
    expect(unread.body.groups).toContainEqual({ groupId, unread: 1, markedUnread: false })
    await test.server.rooms.use(groupId, (room) => {
      expect(room.group.messages.get(0)).toMatchObject({ seq: 1, deleted: true })
      expect(room.group.messages.get(0)?.body).toBeUndefined()
    })
  })

  it('allows the sender, owners, admins and the service only', async () => {
    const groupId = await createGroup()
    for (let i = 1; i <= 4; i += 1) await send(groupId, 'bob', `c${i}`)
    const path = (seq: number) => `/v1/groups/${groupId}/messages/${seq}`

    expectError(await rest('carl', 'DELETE', path(1)), 403, 'forbidden')
    expectError(await rest('mallory', 'DELETE', path(1)), 403, 'forbidden')
    expect((await rest('bob', 'DELETE', path(1))).status).toBe(200)
    expect((await rest('adam', 'DELETE', path(2))).status).toBe(200)
    expect((await rest('olive', 'DELETE', path(3))).status).toBe(200)
    expect((await rest(SERVICE, 'DELETE', path(4))).status).toBe(200)
  })

  it('returns 404 for an unknown seq and 400 for an invalid one', async () => {
    const groupId = await createGroup()

    expectError(await rest('olive', 'DELETE', `/v1/groups/${groupId}/messages/9`), 404, 'not_found')
    expectError(
      await rest('olive', 'DELETE', `/v1/groups/${groupId}/messages/0`),
      400,
      'invalid_request',
    )
    expectError(
      await rest('olive', 'DELETE', `/v1/groups/${groupId}/messages/x`),
      400,
      'invalid_request',
    )
  })
})
