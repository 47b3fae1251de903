import type {
  GroupStats,
  GroupSummaryResponse,
  MessagePage,
  ReceiptsResponse,
  UnreadResponse,
} from '@readmark/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshGroupId, startServer, type TestServer } from './helpers.ts'
import { type As, expectError, type RestCall, restClient, SERVICE } from './rest-client.ts'

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
  expect((await rest(SERVICE, 'POST', '/v1/groups', { id, members })).status).toBe(201)
  return id
}

async function send(groupId: string, sender: string, clientMessageId: string): Promise<void> {
  const sent = await rest(sender, 'POST', `/v1/groups/${groupId}/messages`, { clientMessageId })
  expect(sent.status).toBe(201)
}

async function read(groupId: string, userId: string, seq: number): Promise<void> {
  expect((await rest(userId, 'POST', `/v1/groups/${groupId}/read`, { seq })).status).toBe(200)
}

describe('GET /v1/groups/:gid/messages/:seq/receipts', () => {
  it('pages readers and unread members in user id order', async () => {
    const members = Array.from({ length: 25 }, (_, i) => `m${String(i).padStart(2, '0')}`)
    const groupId = await createGroup([
      { userId: 'sender' },
      ...members.map((userId) => ({ userId })),
      { userId: 'bot', bot: true },
    ])
    await send(groupId, 'sender', 'c1')
    const readers = members.filter((_, i) => i % 3 === 0)
    for (const userId of readers) await read(groupId, userId, 1)
    const path = `/v1/groups/${groupId}/messages/1/receipts`

    const pages: ReceiptsResponse[] = []
    let cursor: string | null = null
    do {
      const query: string = cursor === null ? '?limit=10' : `?limit=10&cursor=${cursor}`
      const page = await rest<ReceiptsResponse>('sender', 'GET', `${path}${query}`)
      expect(page.status).toBe(200)
      pages.push(page.body)
      cursor = page.body.nextCursor
    } while (cursor !== null)

    expect(pages.map((page) => page.readers.length + page.unread.length)).toEqual([10, 10, 5])
    for (const page of pages) expect(page).toMatchObject({ seq: 1, readCount: 9, unreadCount: 16 })
    expect(pages.flatMap((page) => page.readers.map((reader) => reader.userId))).toEqual(readers)
    expect(pages.flatMap((page) => page.unread)).toEqual(
      members.filter((userId) => !readers.includes(userId)),
    )
  })

  it('allows the sender, owners, admins and the service only', async () => {
    const groupId = await createGroup([
      { userId: 'olive', role: 'owner' },
      { userId: 'adam', role: 'admin' },
      { userId: 'sam' },
      { userId: 'bob' },
      { userId: 'leaver' },
    ])
    await send(groupId, 'sam', 'c1')
    await send(groupId, 'leaver', 'c2')
    await rest(SERVICE, 'DELETE', `/v1/groups/${groupId}/members/leaver`)
    const cases: Array<[As, number, number]> = [
      ['sam', 1, 200],
      ['olive', 1, 200],
      ['adam', 1, 200],
      [SERVICE, 1, 200],
      ['bob', 1, 403],
      ['stranger', 1, 403],
      ['leaver', 2, 403],
    ]

    for (const [as, seq, status] of cases) {
      const response = await rest(as, 'GET', `/v1/groups/${groupId}/messages/${seq}/receipts`)
      expect({ as: String(as), status: response.status }).toEqual({ as: String(as), status })
    }
  })

  it('shows no receipts for a deleted message', async () => {
    const groupId = await createGroup([{ userId: 'olive', role: 'owner' }, { userId: 'bob' }])
    await send(groupId, 'olive', 'c1')
    await read(groupId, 'bob', 1)
    await rest('olive', 'DELETE', `/v1/groups/${groupId}/messages/1`)

    const receipts = await rest<ReceiptsResponse>(
      'olive',
      'GET',
      `/v1/groups/${groupId}/messages/1/receipts`,
    )

    expect(receipts.body).toEqual({
      seq: 1,
      readCount: 0,
      unreadCount: 0,
      readers: [],
      unread: [],
      nextCursor: null,
    })
  })

  it('returns 404 for an unknown message and 400 for an invalid cursor', async () => {
    const groupId = await createGroup([{ userId: 'olive', role: 'owner' }])
    await send(groupId, 'olive', 'c1')
    const path = `/v1/groups/${groupId}/messages`

    expectError(await rest('olive', 'GET', `${path}/2/receipts`), 404, 'not_found')
    expectError(
      await rest('olive', 'GET', `${path}/1/receipts?cursor=a%20b`),
      400,
      'invalid_request',
    )
    expectError(await rest('olive', 'GET', `${path}/1/receipts?limit=1001`), 400, 'invalid_request')
  })
})

describe('GET /v1/groups/:gid/summary', () => {
  it('reports head, current members, watermarks and read rate', async () => {
    const groupId = await createGroup([
      { userId: 'olive', role: 'owner' },
      { userId: 'bob' },
      { userId: 'carl' },
      { userId: 'bot', bot: true },
    ])
    await send(groupId, 'olive', 'c1')
    await send(groupId, 'olive', 'c2')
    await read(groupId, 'bob', 2)
    await rest(SERVICE, 'DELETE', `/v1/groups/${groupId}/members/carl`)

    const summary = await rest<GroupSummaryResponse>('bob', 'GET', `/v1/groups/${groupId}/summary`)

    expect(summary.status).toBe(200)
    expect(summary.body).toEqual({
      groupId,
      head: 2,
      createdAt: expect.any(Number),
      memberCount: 3,
      watermarks: { olive: 2, bob: 2, bot: 0 },
      readRate: 1,
      readRateMessages: 2,
    })
  })

  it('rejects a caller who is not a member', async () => {
    const groupId = await createGroup([{ userId: 'olive', role: 'owner' }])

    expectError(await rest('mallory', 'GET', `/v1/groups/${groupId}/summary`), 403, 'forbidden')
    expectError(
      await rest('olive', 'GET', `/v1/groups/${freshGroupId()}/summary`),
      404,
      'not_found',
    )
  })
})

describe('GET /v1/users/:uid/unread', () => {
  it('adds up the unread counts of the current groups', async () => {
    const user = `reader-${freshGroupId()}`
    const first = await createGroup([{ userId: 'olive' }, { userId: user }])
    const second = await createGroup([{ userId: 'olive' }, { userId: user }])
    const left = await createGroup([{ userId: 'olive' }, { userId: user }])
    for (const groupId of [first, second, left]) {
      for (let i = 1; i <= 3; i += 1) await send(groupId, 'olive', `c${i}`)
    }
    await read(second, user, 2)
    await send(second, user, 'mine')
    await rest(SERVICE, 'DELETE', `/v1/groups/${left}/members/${user}`)

    const unread = await rest<UnreadResponse>(user, 'GET', `/v1/users/${user}/unread`)

    expect(unread.status).toBe(200)
    expect(unread.body.total).toBe(3)
    expect(unread.body.groups).toEqual(
      [
        { groupId: first, unread: 3, markedUnread: false },
        { groupId: second, unread: 0, markedUnread: false },
      ].sort((a, b) => (a.groupId < b.groupId ? -1 : 1)),
    )
  })

  it('returns zero for a user in no group', async () => {
    const unread = await rest<UnreadResponse>('loner', 'GET', '/v1/users/loner/unread')

    expect(unread.body).toEqual({ userId: 'loner', total: 0, groups: [] })
  })

  it('allows the user and the service but not another user', async () => {
    expect((await rest(SERVICE, 'GET', '/v1/users/bob/unread')).status).toBe(200)
    expectError(await rest('mallory', 'GET', '/v1/users/bob/unread'), 403, 'forbidden')
    expectError(await rest('bob', 'GET', '/v1/users/not%20an%20id/unread'), 400, 'invalid_request')
  })
})

describe('GET /v1/groups/:gid/stats', () => {
  it('reports read rate and percentiles of the time to read', async () => {
    const groupId = await createGroup([
      { userId: 'olive', role: 'owner' },
      { userId: 'bob' },
      { userId: 'carl' },
      { userId: 'dana' },
    ])
    for (let i = 1; i <= 3; i += 1) await send(groupId, 'olive', `c${i}`)
    await read(groupId, 'bob', 3)
    await read(groupId, 'carl', 1)
    await read(groupId, 'dana', 2)

    const stats = await rest<GroupStats>('olive', 'GET', `/v1/groups/${groupId}/stats`)

    // The expected times come from the message times and read times the API reports.
    const page = await rest<MessagePage>('olive', 'GET', `/v1/groups/${groupId}/messages`)
    const times: number[] = []
    for (const message of page.body.messages) {
      const receipts = await rest<ReceiptsResponse>(
        'olive',
        'GET',
        `/v1/groups/${groupId}/messages/${message.seq}/receipts`,
      )
      for (const reader of receipts.body.readers) times.push((reader.readAt as number) - message.at)
    }
    times.sort((a, b) => a - b)
    expect(stats.status).toBe(200)
    expect(stats.body).toMatchObject({ groupId, messages: 3, truncated: false, reads: 6 })
    expect(stats.body.readRate).toBeCloseTo(6 / 9)
    expect(stats.body.medianTimeToReadMs).toBe(times[2])
    expect(stats.body.p90TimeToReadMs).toBe(times[5])
  })

  it('counts only the range and at most limit messages', async () => {
    const groupId = await createGroup([{ userId: 'olive', role: 'owner' }, { userId: 'bob' }])
    for (let i = 1; i <= 3; i += 1) await send(groupId, 'olive', `c${i}`)
    const path = `/v1/groups/${groupId}/stats`
    const future = Date.now() + 60_000

    const empty = await rest<GroupStats>('olive', 'GET', `${path}?from=${future}&to=${future + 1}`)
    const limited = await rest<GroupStats>('olive', 'GET', `${path}?limit=1`)

    expect(empty.body).toMatchObject({
      messages: 0,
      readRate: null,
      reads: 0,
      medianTimeToReadMs: null,
      p90TimeToReadMs: null,
    })
    expect(limited.body).toMatchObject({ messages: 1, truncated: true, readRate: 0 })
  })

  it('allows owners, admins and the service only', async () => {
    const groupId = await createGroup([
      { userId: 'olive', role: 'owner' },
      { userId: 'adam', role: 'admin' },
      { userId: 'bob' },
    ])
    const path = `/v1/groups/${groupId}/stats`

    expect((await rest('adam', 'GET', path)).status).toBe(200)
    expect((await rest(SERVICE, 'GET', path)).status).toBe(200)
    expectError(await rest('bob', 'GET', path), 403, 'forbidden')
    expectError(await rest('olive', 'GET', `${path}?from=10&to=5`), 400, 'invalid_request')
  })
})

describe('queries after a restart', () => {
  it('never load a group document', async () => {
    const groupId = await createGroup([{ userId: 'olive', role: 'owner' }, { userId: 'bob' }])
    await send(groupId, 'olive', 'c1')
    await read(groupId, 'bob', 1)
    test = await test.restart()
    rest = restClient(test)
    const group = `/v1/groups/${groupId}`

    const statuses = [
      (await rest('olive', 'GET', `${group}/messages/1/receipts`)).status,
      (await rest('olive', 'GET', `${group}/messages`)).status,
      (await rest('olive', 'GET', `${group}/summary`)).status,
      (await rest('olive', 'GET', `${group}/stats`)).status,
      (await rest('bob', 'GET', '/v1/users/bob/unread')).status,
      (await rest('bob', 'POST', `${group}/unread`)).status,
    ]

    expect(statuses).toEqual([200, 200, 200, 200, 200, 200])
    expect(test.server.rooms.loadedCount).toBe(0)
  })
})
