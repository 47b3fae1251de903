import type { MessagePage, SentMessage, UnreadResponse } from '@readmark/shared'
import { afterEach, describe, expect, it } from 'vitest'
import { freshGroupId, startServer, type TestServer, waitFor } from './helpers.ts'
import { expectError, type RestCall, restClient, SERVICE } from './rest-client.ts'

let test: TestServer | undefined

afterEach(async () => {
  await test?.close()
  test = undefined
})

async function createGroup(rest: RestCall): Promise<string> {
  const id = freshGroupId()
  await rest(SERVICE, 'POST', '/v1/groups', {
    id,
    members: [{ userId: 'olive', role: 'owner' }, { userId: 'bob' }, { userId: 'carl' }],
  })
  return id
}

async function unreadIn(rest: RestCall, userId: string, groupId: string) {
  const response = await rest<UnreadResponse>(userId, 'GET', `/v1/users/${userId}/unread`)
  return response.body.groups.find((group) => group.groupId === groupId)?.unread
}

describe('retention', () => {
  it('removes old messages from the log, the counts and the window', async () => {
    test = await startServer()
    let rest = restClient(test)
    const groupId = await createGroup(rest)
    const path = `/v1/groups/${groupId}/messages`
    const sent: SentMessage[] = []
    for (let i = 1; i <= 4; i += 1) {
      const previous = sent.at(-1)?.at ?? 0
      // Distinct send times, so that a cut between messages 2 and 3 exists.
      if (i === 3) await waitFor('the clock to move on', () => Date.now() > previous)
      const response = await rest<SentMessage>('olive', 'POST', path, { clientMessageId: `c${i}` })
      sent.push(response.body)
    }
    await rest('bob', 'POST', `/v1/groups/${groupId}/read`, { seq: 1 })
    await rest('bob', 'POST', `/v1/groups/${groupId}/read`, { seq: 3 })

    const removed = await test.server.groups.expireMessages(groupId, sent[2]?.at as number)

    expect(removed).toBe(2)
    for (const restarted of [false, true]) {
      if (restarted) {
        test = await test.restart()
        rest = restClient(test)
      }
      const page = await rest<MessagePage>('olive', 'GET', path)
      expect(page.body.messages.map((message) => message.seq)).toEqual([3, 4])
      expectError(await rest('olive', 'GET', `${path}/1/receipts`), 404, 'not_found')
      expect(await unreadIn(rest, 'carl', groupId)).toBe(2)
      expect(await unreadIn(rest, 'bob', groupId)).toBe(1)
      const summary = await test.server.summaries.get(groupId)
      expect(summary?.advances.get('bob')?.map((advance) => advance.seq)).toEqual([3])
    }
    await test.server.rooms.use(groupId, (room) => {
      expect(room.group.messages.toArray().map((message) => message.seq)).toEqual([3, 4])
    })
    const reused = await rest<SentMessage>('olive', 'POST', path, { clientMessageId: 'c1' })
    expect(reused.body).toMatchObject({ seq: 5, created: true })
  })

  it('sweeps every group on its interval when retentionDays is set', async () => {
    test = await startServer({ retentionDays: 1 / 86_400_000, retentionIntervalMs: 20 })
    const rest = restClient(test)
    const groupId = await createGroup(rest)
    await rest('olive', 'POST', `/v1/groups/${groupId}/messages`, { clientMessageId: 'c1' })

    await waitFor('the message to expire', async () => {
      const page = await rest<MessagePage>('olive', 'GET', `/v1/groups/${groupId}/messages`)
      return page.body.messages.length === 0
    })
    expect(await unreadIn(rest, 'bob', groupId)).toBe(0)
  })
})
