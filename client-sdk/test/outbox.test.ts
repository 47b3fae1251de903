import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mintToken } from '../../server/src/auth.ts'
import type { SentMessage } from '../src/node.ts'
import {
  createGroup,
  Fixture,
  freshGroupId,
  startServer,
  type TestServer,
  waitFor,
} from './helpers.ts'

let test: TestServer
let fixture: Fixture

beforeEach(async () => {
  test = await startServer()
  fixture = new Fixture()
})

afterEach(async () => {
  await fixture.cleanup()
  await test.close()
})

/** Messages of the server's log with a clientMessageId. */
async function loggedWithId(groupId: string, clientMessageId: string): Promise<number[]> {
  const messages = await test.server.summaries.store.listMessages(groupId, 0, 1_000)
  return messages.filter((message) => message.id === clientMessageId).map((message) => message.seq)
}

/** Fails every request like an unreachable network. */
const offlineFetch: typeof fetch = async () => {
  throw new TypeError('fetch failed: connect ECONNREFUSED')
}

/** Delivers the request but loses the response, as a dropped connection does. */
const lostResponseFetch: typeof fetch = async (input, init) => {
  await fetch(input, init)
  throw new TypeError('fetch failed: socket hang up')
}

describe('outbox', () => {
  it('sends a message and moves the sender watermark', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'], 2)
    const session = await (await fixture.client(test, 'bob', fixture.folder())).group(groupId)
    const sent: SentMessage[] = []
    session.on('sent', (message) => sent.push(message))

    const message = await session.send('hello', { clientMessageId: 'bob-1' })

    expect(message).toEqual({ clientMessageId: 'bob-1', seq: 3, created: true })
    expect(sent).toEqual([message])
    expect(session.outbox()).toEqual([])
    await waitFor('the message in the replica', () => session.head() === 3)
    expect(session.messages().at(-1)).toMatchObject({ seq: 3, sender: 'bob', body: 'hello' })
    expect(session.watermark()).toBe(3)
  })

  it('retries with backoff until the network is back', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'])
    let calls = 0
    const flakyFetch: typeof fetch = (input, init) => {
      calls += 1
      return calls <= 3 ? offlineFetch(input, init) : fetch(input, init)
    }
    const client = await fixture.client(test, 'bob', fixture.folder(), { fetch: flakyFetch })
    const session = await client.group(groupId)

    const message = await session.send('hello')

    expect(calls).toBe(4)
    expect(message.seq).toBe(1)
    expect(await loggedWithId(groupId, message.clientMessageId)).toEqual([1])
  })

  it('sends once after a lost response', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'])
    let calls = 0
    const lossyFetch: typeof fetch = (input, init) => {
      calls += 1
      return calls === 1 ? lostResponseFetch(input, init) : fetch(input, init)
    }
    const client = await fixture.client(test, 'bob', fixture.folder(), { fetch: lossyFetch })
    const session = await client.group(groupId)

    const message = await session.send('hello', { clientMessageId: 'bob-lost' })

    expect(message).toEqual({ clientMessageId: 'bob-lost', seq: 1, created: false })
    expect(await loggedWithId(groupId, 'bob-lost')).toEqual([1])
  })

  it.each([
    ['the network was down', offlineFetch],
    ['the response was lost', lostResponseFetch],
  ])('sends once after a restart when %s', async (_name, brokenFetch) => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'])
    const folder = fixture.folder()
    const first = await fixture.client(test, 'bob', folder, { fetch: brokenFetch })
    const session = await first.group(groupId)
    const pending = session.send('queued', { clientMessageId: 'bob-queued' })
    pending.catch(() => undefined)
    await waitFor('a failed attempt', () => (session.outbox()[0]?.attempts ?? 0) > 0)
    await fixture.close(first)
    await expect(pending).rejects.toMatchObject({ code: 'closed' })

    const restarted = await fixture.client(test, 'bob', folder)
    const sent: SentMessage[] = []
    const replay = await restarted.group(groupId)
    replay.on('sent', (message) => sent.push(message))

    await waitFor('the queued message to be sent', () => sent.length === 1)
    expect(sent[0]?.clientMessageId).toBe('bob-queued')
    expect(replay.outbox()).toEqual([])
    expect(await loggedWithId(groupId, 'bob-queued')).toEqual([1])
  })

  it('drops a permanently rejected message', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'])
    const session = await (await fixture.client(test, 'bob', fixture.folder())).group(groupId)
    await session.send('first', { clientMessageId: 'bob-1' })
    const failed: string[] = []
    session.on('failed', ({ clientMessageId, error }) =>
      failed.push(`${clientMessageId} ${error.status} ${error.serverCode}`),
    )

    await expect(session.send('other body', { clientMessageId: 'bob-1' })).rejects.toMatchObject({
      code: 'send-rejected',
      status: 409,
    })

    expect(failed).toEqual(['bob-1 409 conflict'])
    expect(session.outbox()).toEqual([])
  })

  it('retries with a new token after a 401', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'])
    const forged = await mintToken('a-secret-the-server-does-not-know-0123456789', 'bob')
    let calls = 0
    const client = await fixture.client(test, 'bob', fixture.folder(), {
      connect: false,
      getToken: () => {
        calls += 1
        return calls === 1 ? forged : test.token('bob')
      },
    })
    const session = await client.group(groupId)

    const message = await session.send('hello')

    expect(message.seq).toBe(1)
    expect(calls).toBe(2)
  })

  it('rejects invalid ids and bodies', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'])
    const session = await (await fixture.client(test, 'bob', fixture.folder())).group(groupId)

    await expect(session.send('x', { clientMessageId: 'has space' })).rejects.toMatchObject({
      code: 'invalid-argument',
    })
    await expect(session.send('x'.repeat(20_000))).rejects.toMatchObject({
      code: 'invalid-argument',
    })
    expect(session.outbox()).toEqual([])
  })
})
