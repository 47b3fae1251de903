import type { ReadState, ReceiptsResponse, UnreadResponse } from '@readmark/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshGroupId, startServer, type TestServer } from './helpers.ts'
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

/** Creates a group of olive (owner), bob and carl with `messages` messages from olive. */
async function groupWithMessages(messages: number): Promise<string> {
  const id = freshGroupId()
  await rest(SERVICE, 'POST', '/v1/groups', {
    id,
    members: [{ userId: 'olive', role: 'owner' }, { userId: 'bob' }, { userId: 'carl' }],
  })
  for (let i = 1; i <= messages; i += 1) {
    await rest('olive', 'POST', `/v1/groups/${id}/messages`, { clientMessageId: `c${i}` })
  }
  return id
}

async function unreadEntry(userId: string, groupId: string) {
  const response = await rest<UnreadResponse>(userId, 'GET', `/v1/users/${userId}/unread`)
  return response.body.groups.find((group) => group.groupId === groupId)
}

describe('POST /v1/groups/:gid/read', () => {
  it('advances the watermark and records the read time', async () => {
    const groupId = await groupWithMessages(3)
    const before = Date.now()

    const read = await rest<ReadState>('bob', 'POST', `/v1/groups/${groupId}/read`, { seq: 2 })

    expect(read.status).toBe(200)
    expect(read.body).toEqual({ userId: 'bob', watermark: 2, markedUnread: false })
    expect(await unreadEntry('bob', groupId)).toEqual({ groupId, unread: 1, markedUnread: false })
    const receipts = await rest<ReceiptsResponse>(
      'olive',
      'GET',
      `/v1/groups/${groupId}/messages/1/receipts`,
    )
    expect(receipts.body.readers).toEqual([{ userId: 'bob', readAt: expect.any(Number) }])
    expect(receipts.body.readers[0]?.readAt).toBeGreaterThanOrEqual(before)
  })

  it('never lowers the watermark', async () => {
    const groupId = await groupWithMessages(3)
    await rest('bob', 'POST', `/v1/groups/${groupId}/read`, { seq: 3 })

    const lower = await rest<ReadState>('bob', 'POST', `/v1/groups/${groupId}/read`, { seq: 1 })

    expect(lower.status).toBe(200)
    expect(lower.body.watermark).toBe(3)
    expect(await unreadEntry('bob', groupId)).toMatchObject({ unread: 0 })
  })

  it.each([
    ['a seq beyond head', { seq: 4 }],
    ['a negative seq', { seq: -1 }],
    ['a fractional seq', { seq: 1.5 }],
    ['a missing seq', {}],
    ['a seq as a string', { seq: '2' }],
  ])('rejects %s', async (_name, body) => {
    const groupId = await groupWithMessages(3)

    const response = await rest('bob', 'POST', `/v1/groups/${groupId}/read`, body)

    expectError(response, 400, 'invalid_request')
  })

  it('rejects a caller who is not a member', async () => {
    const groupId = await groupWithMessages(1)

    expectError(
      await rest('mallory', 'POST', `/v1/groups/${groupId}/read`, { seq: 1 }),
      403,
      'forbidden',
    )
  })

  it('advances the watermark of the user a service token names', async () => {
    const groupId = await groupWithMessages(2)
    const path = `/v1/groups/${groupId}/read`

    const read = await rest<ReadState>(SERVICE, 'POST', path, { seq: 2, userId: 'carl' })

    expect(read.body).toEqual({ userId: 'carl', watermark: 2, markedUnread: false })
    expectError(await rest(SERVICE, 'POST', path, { seq: 2 }), 400, 'invalid_request')
    expectError(await rest('bob', 'POST', path, { seq: 2, userId: 'carl' }), 403, 'forbidden')
  })
})

describe('marked unread flag', () => {
  it('is set without lowering the watermark', async () => {
    const groupId = await groupWithMessages(2)
    await rest('bob', 'POST', `/v1/groups/${groupId}/read`, { seq: 2 })

    const marked = await rest<ReadState>('bob', 'POST', `/v1/groups/${groupId}/unread`)

    expect(marked.status).toBe(200)
    expect(marked.body).toEqual({ userId: 'bob', watermark: 2, markedUnread: true })
    expect(await unreadEntry('bob', groupId)).toEqual({ groupId, unread: 0, markedUnread: true })
  })

  it('is cleared by the next advance', async () => {
    const groupId = await groupWithMessages(2)
    await rest('bob', 'POST', `/v1/groups/${groupId}/unread`)

    const read = await rest<ReadState>('bob', 'POST', `/v1/groups/${groupId}/read`, { seq: 1 })

    expect(read.body).toEqual({ userId: 'bob', watermark: 1, markedUnread: false })
    expect(await unreadEntry('bob', groupId)).toEqual({ groupId, unread: 1, markedUnread: false })
  })

  it('is cleared by a read that leaves the watermark as it is', async () => {
    const groupId = await groupWithMessages(2)
    await rest('bob', 'POST', `/v1/groups/${groupId}/read`, { seq: 2 })
    await rest('bob', 'POST', `/v1/groups/${groupId}/unread`)

    const read = await rest<ReadState>('bob', 'POST', `/v1/groups/${groupId}/read`, { seq: 2 })

    expect(read.body.markedUnread).toBe(false)
    expect(await unreadEntry('bob', groupId)).toMatchObject({ markedUnread: false })
  })

  it('is cleared by DELETE, also for the user a service token names', async () => {
    const groupId = await groupWithMessages(1)
    await rest('bob', 'POST', `/v1/groups/${groupId}/unread`)
    await rest(SERVICE, 'POST', `/v1/groups/${groupId}/unread`, { userId: 'carl' })
    expect(await unreadEntry('carl', groupId)).toMatchObject({ markedUnread: true })

    const bob = await rest<ReadState>('bob', 'DELETE', `/v1/groups/${groupId}/unread`)
    const carl = await rest<ReadState>(
      SERVICE,
      'DELETE',
      `/v1/groups/${groupId}/unread?userId=carl`,
    )

    expect(bob.body).toEqual({ userId: 'bob', watermark: 0, markedUnread: false })
    expect(carl.body).toEqual({ userId: 'carl', watermark: 0, markedUnread: false })
    expect(await unreadEntry('carl', groupId)).toMatchObject({ markedUnread: false })
  })

  it('persists across a restart', async () => {
    const groupId = await groupWithMessages(1)
    await rest('bob', 'POST', `/v1/groups/${groupId}/unread`)

    test = await test.restart()
    rest = restClient(test)

    expect(await unreadEntry('bob', groupId)).toEqual({ groupId, unread: 1, markedUnread: true })
  })

  it('rejects a caller who is not a member and an unknown group', async () => {
    const groupId = await groupWithMessages(1)

    expectError(await rest('mallory', 'POST', `/v1/groups/${groupId}/unread`), 403, 'forbidden')
    expectError(await rest('bob', 'POST', `/v1/groups/${freshGroupId()}/unread`), 404, 'not_found')
    expectError(
      await rest('bob', 'DELETE', `/v1/groups/${groupId}/unread?userId=carl`),
      403,
      'forbidden',
    )
  })
})
