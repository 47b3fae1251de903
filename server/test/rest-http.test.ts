import {
  type CountsEvent,
  openGroupDoc,
  type ReceiptsResponse,
  readWatermark,
  type SentMessage,
  type UnreadResponse,
  writeDeviceReceipt,
} from '@readmark/shared'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { connectStock, freshGroupId, startServer, type TestServer, waitFor } from './helpers.ts'
import { EventReader, expectError, type RestCall, restClient, SERVICE } from './rest-client.ts'

let test: TestServer
let rest: RestCall

beforeEach(async () => {
  test = await startServer()
  rest = restClient(test, 'http')
})

afterEach(async () => {
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

describe('REST over HTTP with sync clients', () => {
  it('updates counts when a stock client reads', async () => {
    const groupId = await createGroup(['olive', 'bob', 'carl'])
    for (const clientMessageId of ['c1', 'c2']) {
      await rest('olive', 'POST', `/v1/groups/${groupId}/messages`, { clientMessageId })
    }
    await rest('bob', 'POST', `/v1/groups/${groupId}/unread`)
    const events = new EventReader(
      await fetch(
        `${test.server.url}/v1/groups/${groupId}/events?token=${await rest.token('olive')}`,
      ),
    )
    const bob = await connectStock(test, groupId, 'bob')

    writeDeviceReceipt(openGroupDoc(bob.doc), 'bob', 'laptop', 2)

    const receiptsPath = `/v1/groups/${groupId}/messages/2/receipts`
    await waitFor('the REST counts to change', async () => {
      const receipts = await rest<ReceiptsResponse>('olive', 'GET', receiptsPath)
      return receipts.body.readCount === 1
    })
    const receipts = await rest<ReceiptsResponse>('olive', 'GET', receiptsPath)
    expect(receipts.body).toMatchObject({ readCount: 1, unreadCount: 1, unread: ['carl'] })
    expect(receipts.body.readers.map((reader) => reader.userId)).toEqual(['bob'])
    const unread = await rest<UnreadResponse>('bob', 'GET', '/v1/users/bob/unread')
    expect(unread.body.groups).toEqual([{ groupId, unread: 0, markedUnread: false }])
    await waitFor('an event with the receipt', () =>
      events.dataOf<CountsEvent>('counts').some((event) => event.messages[1]?.readCount === 1),
    )
    bob.close()
    await events.close()
  })

  it('shows a REST read to stock clients', async () => {
    const groupId = await createGroup(['olive', 'bob', 'carl'])
    await rest('olive', 'POST', `/v1/groups/${groupId}/messages`, { clientMessageId: 'c1' })
    const carl = await connectStock(test, groupId, 'carl')

    await rest('bob', 'POST', `/v1/groups/${groupId}/read`, { seq: 1 })

    await waitFor(
      'carl to see W(bob) = 1',
      () => readWatermark(openGroupDoc(carl.doc).receipts, 'bob') === 1,
    )
    carl.close()
  })

  it('keeps sending idempotent across a restart', async () => {
    const groupId = await createGroup(['olive', 'bob'])
    const path = `/v1/groups/${groupId}/messages`
    const first = await rest<SentMessage>('bob', 'POST', path, {
      clientMessageId: 'c1',
      body: 'hi',
    })

    test = await test.restart()
    rest = restClient(test, 'http')
    const again = await rest<SentMessage>('bob', 'POST', path, {
      clientMessageId: 'c1',
      body: 'hi',
    })
    const next = await rest<SentMessage>('bob', 'POST', path, { clientMessageId: 'c2' })

    expect(first.status).toBe(201)
    expect(again.status).toBe(200)
    expect(again.body).toEqual({ ...first.body, created: false })
    expect(next.body.seq).toBe(2)
  })

  it('rejects an oversized body by its content-length', async () => {
    await test.close()
    test = await startServer({ maxBodyBytes: 2_048 })
    rest = restClient(test, 'http')
    const groupId = await createGroup(['bob'])

    const response = await rest(SERVICE, 'POST', `/v1/groups/${groupId}/messages`, {
      clientMessageId: 'c1',
      userId: 'bob',
      body: 'x'.repeat(4_000),
    })

    expectError(response, 413, 'payload_too_large')
  })
})
