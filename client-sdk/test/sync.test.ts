import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  createGroup,
  Fixture,
  freshGroupId,
  restartOnSamePort,
  serverWatermark,
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

/** Number of Yjs client ids in the server's copy of a group document. */
async function serverClientIds(groupId: string): Promise<number> {
  return test.server.rooms.use(groupId, (room) => room.doc.store.clients.size)
}

describe('group session sync', () => {
  it('confirms a receipt under the device key', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'], 3)
    const client = await fixture.client(test, 'bob', fixture.folder())
    const session = await client.group(groupId)
    await session.whenSynced()

    expect(session.markRead(2)).toBe(2)
    expect(session.unconfirmed).toBe(1)
    await session.whenConfirmed()

    expect(session.unconfirmed).toBe(0)
    expect(await serverWatermark(test, groupId, 'bob')).toBe(2)
    const receipts = await test.server.rooms.use(groupId, (room) => room.group.receipts.toJSON())
    expect(receipts['bob/bob-device']).toBe(2)
  })

  it('never lowers the watermark', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'], 4)
    const session = await (await fixture.client(test, 'bob', fixture.folder())).group(groupId)
    await session.whenSynced()
    session.markRead(3)
    await session.whenConfirmed()

    expect(session.markRead(1)).toBe(3)
    expect(session.markRead(3)).toBe(3)

    expect(session.unconfirmed).toBe(0)
    expect(session.watermark()).toBe(3)
  })

  it('writes a seq beyond head once reached', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'], 1)
    const session = await (await fixture.client(test, 'bob', fixture.folder())).group(groupId)
    await session.whenSynced()

    expect(session.markRead(3)).toBe(1)
    await test.server.groups.sendMessage(groupId, 'alice', 'm2', undefined)
    await test.server.groups.sendMessage(groupId, 'alice', 'm3', undefined)

    await waitFor(
      'bob W = 3 on the server',
      async () => (await serverWatermark(test, groupId, 'bob')) === 3,
    )
    expect(session.watermark()).toBe(3)
  })

  it('sends offline receipts after a restart', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'], 3)
    const folder = fixture.folder()
    const first = await fixture.client(test, 'bob', folder)
    const online = await first.group(groupId)
    await online.whenSynced()
    online.disconnect()

    expect(online.markRead(3)).toBe(3)
    expect(online.unconfirmed).toBe(1)
    await fixture.close(first)
    expect(await serverWatermark(test, groupId, 'bob')).toBe(0)

    const restarted = await fixture.client(test, 'bob', folder, { connect: false })
    const session = await restarted.group(groupId)
    expect(session.watermark()).toBe(3)
    expect(session.unconfirmed).toBe(1)
    session.connect()
    await session.whenConfirmed()

    expect(await serverWatermark(test, groupId, 'bob')).toBe(3)
    expect(session.unconfirmed).toBe(0)
  })

  it('keeps its Yjs client id across restarts', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'], 5)
    const folder = fixture.folder()
    const idsBefore = await serverClientIds(groupId)

    for (let seq = 1; seq <= 3; seq += 1) {
      const client = await fixture.client(test, 'bob', folder)
      const session = await client.group(groupId)
      await session.whenSynced()
      session.markRead(seq)
      await session.whenConfirmed()
      await fixture.close(client)
    }

    expect(await serverClientIds(groupId)).toBe(idsBefore + 1)
    expect(await serverWatermark(test, groupId, 'bob')).toBe(3)
  })

  it('keeps the unconfirmed count across a restart', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'], 3)
    const folder = fixture.folder()
    const first = await fixture.client(test, 'bob', folder)
    const session = await first.group(groupId)
    await session.whenSynced()
    session.markRead(1)
    await session.whenConfirmed()
    session.disconnect()
    session.markRead(2)
    await fixture.close(first)

    const restarted = await fixture.client(test, 'bob', folder, { connect: false })

    expect((await restarted.group(groupId)).unconfirmed).toBe(1)
  })

  it('updates counts live as other members read', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob', 'carol'], 2)
    const alice = await (await fixture.client(test, 'alice', fixture.folder())).group(groupId)
    const bob = await (await fixture.client(test, 'bob', fixture.folder())).group(groupId)
    await Promise.all([alice.whenSynced(), bob.whenSynced()])
    expect(alice.counts(2)).toEqual({ readCount: 0, unreadCount: 2 })
    const unreadCounts: Array<number | undefined> = []
    bob.on('unread', (count) => unreadCounts.push(count))
    let remoteChanges = 0
    alice.on('change', (change) => {
      if (!change.local && change.receipts) remoteChanges += 1
    })

    bob.markRead(2)

    await waitFor('alice to see bob read 2', () => alice.counts(2)?.readCount === 1)
    expect(alice.counts(2)).toEqual({ readCount: 1, unreadCount: 1 })
    expect(alice.readers(2)).toEqual(['bob'])
    expect(alice.unreadMembers(2)).toEqual(['carol'])
    expect(remoteChanges).toBeGreaterThan(0)
    expect(unreadCounts).toEqual([0])
    expect(bob.unreadCount()).toBe(0)
  })

  it('reconnects after the server restarts', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'], 3)
    const session = await (await fixture.client(test, 'bob', fixture.folder())).group(groupId)
    await session.whenSynced()
    const statuses: string[] = []
    session.on('status', (status) => statuses.push(status))

    test = await restartOnSamePort(test)
    await waitFor('offline', () => statuses.includes('offline'))
    session.markRead(2)
    await session.whenConfirmed()

    expect(session.status).toBe('synced')
    expect(await serverWatermark(test, groupId, 'bob')).toBe(2)
  })
})
