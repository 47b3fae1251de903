import { messagePageSchema, unreadResponseSchema } from '@readmark/shared'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { GroupSession } from '../src/node.ts'
import { createGroup, Fixture, freshGroupId, startServer, type TestServer } from './helpers.ts'

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

async function getJson(path: string, userId: string): Promise<unknown> {
  const response = await fetch(`${test.server.url}${path}`, {
    headers: { authorization: `Bearer ${await test.token(userId)}` },
  })
  expect(response.status).toBe(200)
  return response.json()
}

describe('local counts', () => {
  it("equal the server's REST counts after sync", async () => {
    const groupId = freshGroupId()
    const users = ['alice', 'bob', 'carol', 'dave', 'erin']
    await createGroup(test, groupId, users, 3)
    const { groups } = test.server
    await groups.sendMessage(groupId, 'bob', 'b1', 'from bob')
    await groups.removeMember(groupId, 'erin')
    await groups.putMember(groupId, 'frank', {})
    await groups.putMember(groupId, 'robot', { bot: true })
    await groups.sendMessage(groupId, 'carol', 'c1', 'from carol')
    await groups.deleteMessage(groupId, 2)
    await groups.sendMessage(groupId, 'alice', 'a4', 'again')

    const sessions = new Map<string, GroupSession>()
    for (const userId of ['alice', 'bob', 'carol', 'dave', 'frank']) {
      const client = await fixture.client(test, userId, fixture.folder())
      sessions.set(userId, await client.group(groupId))
    }
    const reads: Array<[string, number]> = [
      ['bob', 5],
      ['carol', 2],
      ['dave', 6],
      ['frank', 5],
    ]
    for (const [userId, seq] of reads) {
      const session = sessions.get(userId) as GroupSession
      await session.whenSynced()
      session.markRead(seq)
      await session.whenConfirmed()
    }
    const alice = sessions.get('alice') as GroupSession
    await alice.whenSynced()
    await Promise.all(
      reads.map(([userId, seq]) =>
        expect.poll(() => alice.watermark(userId)).toBeGreaterThanOrEqual(seq),
      ),
    )

    const page = messagePageSchema.parse(
      await getJson(`/v1/groups/${groupId}/messages?after=0&limit=100`, 'alice'),
    )
    const local = alice.messages()
    expect(local.map((message) => message.seq)).toEqual(page.messages.map((message) => message.seq))
    for (const message of page.messages) {
      expect(alice.counts(message.seq)).toEqual({
        readCount: message.readCount,
        unreadCount: message.unreadCount,
      })
    }
    for (const [userId, session] of sessions) {
      const unread = unreadResponseSchema.parse(await getJson(`/v1/users/${userId}/unread`, userId))
      const group = unread.groups.find((entry) => entry.groupId === groupId)
      expect(session.unreadCount()).toBe(group?.unread)
    }
  })
})
