import {
  buildCountIndex,
  buildMessageIndex,
  CloseCode,
  countMessage,
  countUnread,
  openGroupDoc,
  readWatermark,
  readWatermarks,
  writeDeviceReceipt,
} from '@readmark/shared'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  closeCodeOf,
  connectStock,
  freshGroupId,
  startServer,
  type TestServer,
  waitFor,
} from './helpers.ts'
import { RawClient } from './raw-client.ts'

let test: TestServer

beforeEach(async () => {
  test = await startServer()
})

afterEach(async () => {
  await test.close()
})

async function createGroup(members: string[]): Promise<string> {
  const id = freshGroupId()
  await test.server.groups.createGroup({ id, members: members.map((userId) => ({ userId })) })
  return id
}

async function rawClient(groupId: string, userId: string): Promise<RawClient> {
  const client = new RawClient(`${test.syncUrl}/${groupId}?token=${await test.token(userId)}`)
  await waitFor(`${userId} to sync`, () => client.synced)
  return client
}

describe('sync endpoint', () => {
  it('syncs receipts both ways between stock clients', async () => {
    const groupId = await createGroup(['alice', 'bob', 'carol'])
    await test.server.groups.sendMessage(groupId, 'carol', 'm1', 'hello')
    await test.server.groups.sendMessage(groupId, 'carol', 'm2', 'again')
    const alice = await connectStock(test, groupId, 'alice')
    const bob = await connectStock(test, groupId, 'bob')

    writeDeviceReceipt(openGroupDoc(bob.doc), 'bob', 'phone', 2)
    await waitFor(
      'alice to see bob read 2',
      () => readWatermark(openGroupDoc(alice.doc).receipts, 'bob') === 2,
    )

    writeDeviceReceipt(openGroupDoc(alice.doc), 'alice', 'laptop', 2)
    await waitFor(
      'bob to see alice laptop',
      () => openGroupDoc(bob.doc).receipts.get('alice/laptop') === 2,
    )

    const summary = await test.server.summaries.get(groupId)
    expect(summary?.watermarks.get('bob')).toBe(2)
    alice.close()
    bob.close()
  })

  it('sends the stored messages window on first sync', async () => {
    const groupId = await createGroup(['alice', 'bob'])
    await test.server.groups.sendMessage(groupId, 'alice', 'm1', 'hello')
    const bob = await connectStock(test, groupId, 'bob')

    const messages = openGroupDoc(bob.doc).messages.toArray()
    expect(messages.map((message) => message.body)).toEqual(['hello'])
    expect(openGroupDoc(bob.doc).meta.get('head')).toBe(1)
    bob.close()
  })

  it("rejects an update that writes another user's receipt", async () => {
    const groupId = await createGroup(['alice', 'bob'])
    await test.server.groups.sendMessage(groupId, 'alice', 'm1', undefined)
    const observer = await rawClient(groupId, 'alice')
    const mallory = await rawClient(groupId, 'bob')

    mallory.change((doc) => openGroupDoc(doc).receipts.set('alice/forged', 1))
    await waitFor('permission denied', () => mallory.denied.length > 0)

    expect(mallory.denied[0]).toMatch(/^foreign-key/)
    const room = await test.server.rooms.peek(groupId)
    expect(room?.group.receipts.get('alice/forged')).toBeUndefined()
    expect(openGroupDoc(observer.doc).receipts.get('alice/forged')).toBeUndefined()
    const metrics = await test.server.metrics.registry.getSingleMetricAsString(
      'readmark_updates_rejected_total',
    )
    expect(metrics).toContain('reason="foreign-key"')
    observer.close()
    mallory.close()
  })

  it.each([
    ['a server-only root', (doc: Y.Doc) => openGroupDoc(doc).meta.set('head', 99), 'server-root'],
    [
      'a value beyond head',
      (doc: Y.Doc) => openGroupDoc(doc).receipts.set('bob/d', 5),
      'beyond-head',
    ],
    [
      'a negative value',
      (doc: Y.Doc) => openGroupDoc(doc).receipts.set('bob/d', -1),
      'invalid-value',
    ],
    [
      'a fractional value',
      (doc: Y.Doc) => openGroupDoc(doc).receipts.set('bob/d', 0.5),
      'invalid-value',
    ],
    [
      'a nested type',
      (doc: Y.Doc) => openGroupDoc(doc).receipts.set('bob/d', new Y.Map() as never),
      'nested-type',
    ],
    [
      'a message',
      (doc: Y.Doc) => openGroupDoc(doc).messages.push([{ seq: 2, id: 'x', sender: 'bob', at: 0 }]),
      'server-root',
    ],
  ])('rejects an update that writes %s', async (_name, write, reason) => {
    const groupId = await createGroup(['alice', 'bob'])
    await test.server.groups.sendMessage(groupId, 'alice', 'm1', undefined)
    const bob = await rawClient(groupId, 'bob')

    bob.change(write)
    await waitFor('permission denied', () => bob.denied.length > 0)

    expect(bob.denied[0]?.split(':')[0]).toBe(reason)
    const room = await test.server.rooms.peek(groupId)
    expect(room?.group.meta.get('head')).toBe(1)
    expect(room?.group.receipts.get('bob/d')).toBeUndefined()
    bob.close()
  })

  it('rejects a lower value under the same key', async () => {
    const groupId = await createGroup(['alice', 'bob'])
    for (const id of ['m1', 'm2', 'm3'])
      await test.server.groups.sendMessage(groupId, 'alice', id, undefined)
    const bob = await rawClient(groupId, 'bob')
    bob.change((doc) => openGroupDoc(doc).receipts.set('bob/phone', 3))
    await waitFor('bob confirmed', () => bob.confirmed())

    const forger = new Y.Doc()
    Y.applyUpdate(forger, Y.encodeStateAsUpdate(bob.doc))
    forger.clientID = bob.doc.clientID
    const before = Y.encodeStateVector(forger)
    openGroupDoc(forger).receipts.set('bob/phone', 1)
    bob.sendUpdate(Y.encodeStateAsUpdate(forger, before))
    await waitFor('permission denied', () => bob.denied.length > 0)

    expect(bob.denied[0]).toMatch(/^lower-value/)
    const room = await test.server.rooms.peek(groupId)
    expect(room?.group.receipts.get('bob/phone')).toBe(3)
    bob.close()
  })

  it('rejects a client id another user writes with', async () => {
    const groupId = await createGroup(['alice', 'bob'])
    await test.server.groups.sendMessage(groupId, 'alice', 'm1', undefined)
    const alice = await rawClient(groupId, 'alice')
    alice.change((doc) => openGroupDoc(doc).receipts.set('alice/phone', 1))
    await waitFor('alice confirmed', () => alice.confirmed())

    const bobDoc = new Y.Doc()
    Y.applyUpdate(bobDoc, Y.encodeStateAsUpdate(alice.doc))
    bobDoc.clientID = alice.doc.clientID
    const bob = new RawClient(`${test.syncUrl}/${groupId}?token=${await test.token('bob')}`, bobDoc)
    await waitFor('bob to sync', () => bob.synced)
    bob.change((doc) => openGroupDoc(doc).receipts.set('bob/phone', 1))
    await waitFor('permission denied', () => bob.denied.length > 0)

    expect(bob.denied[0]).toMatch(/^foreign-client/)
    alice.close()
    bob.close()
  })

  it('confirms an update only after storing it', async () => {
    const groupId = await createGroup(['alice', 'bob'])
    await test.server.groups.sendMessage(groupId, 'alice', 'm1', undefined)
    const bob = await rawClient(groupId, 'bob')
    const vectorsBefore = bob.serverStateVectors.length

    bob.change((doc) => openGroupDoc(doc).receipts.set('bob/phone', 1))
    await waitFor('confirmation', () => bob.confirmed())

    expect(bob.serverStateVectors.length).toBeGreaterThan(vectorsBefore)
    bob.close()
    const restarted = await test.restart()
    test = restarted
    await restarted.server.rooms.use(groupId, (room) => {
      expect(room.group.receipts.get('bob/phone')).toBe(1)
    })
  })

  it('keeps every confirmed receipt across a restart', async () => {
    const members = ['alice', 'bob', 'carol', 'dave']
    const groupId = await createGroup(members)
    for (let i = 1; i <= 5; i += 1)
      await test.server.groups.sendMessage(groupId, 'alice', `m${i}`, undefined)
    const clients = await Promise.all(members.slice(1).map((userId) => rawClient(groupId, userId)))
    clients.forEach((client, index) => {
      const userId = members[index + 1] as string
      client.change((doc) => openGroupDoc(doc).receipts.set(`${userId}/d`, index + 2))
    })
    await waitFor('all confirmed', () => clients.every((client) => client.confirmed()))
    for (const client of clients) client.close()

    test = await test.restart()

    await test.server.rooms.use(groupId, (room) => {
      expect(readWatermarks(room.group.receipts)).toEqual(
        new Map([
          ['alice', 5],
          ['bob', 2],
          ['carol', 3],
          ['dave', 4],
        ]),
      )
    })
    const summary = await test.server.summaries.get(groupId)
    expect(summary?.watermarks.get('dave')).toBe(4)
  })

  it('converges a second connection of the same user', async () => {
    const groupId = await createGroup(['alice', 'bob'])
    for (let i = 1; i <= 6; i += 1)
      await test.server.groups.sendMessage(groupId, 'alice', `m${i}`, undefined)
    const phone = await connectStock(test, groupId, 'bob')
    const laptop = await connectStock(test, groupId, 'bob')

    writeDeviceReceipt(openGroupDoc(phone.doc), 'bob', 'phone', 3)
    writeDeviceReceipt(openGroupDoc(laptop.doc), 'bob', 'laptop', 6)

    for (const client of [phone, laptop]) {
      await waitFor(
        'W(bob) = 6 everywhere',
        () => readWatermark(openGroupDoc(client.doc).receipts, 'bob') === 6,
      )
      expect(openGroupDoc(client.doc).receipts.get('bob/phone')).toBe(3)
    }
    phone.close()
    laptop.close()
  })

  it('refuses connections with distinct close codes', async () => {
    const groupId = await createGroup(['alice'])
    const base = `${test.syncUrl}/${groupId}`
    const expired = await test.token('alice', { ttlSeconds: -60 })

    expect(await closeCodeOf(base)).toBe(CloseCode.invalidToken)
    expect(await closeCodeOf(`${base}?token=not-a-jwt`)).toBe(CloseCode.invalidToken)
    expect(await closeCodeOf(`${base}?token=${expired}`)).toBe(CloseCode.invalidToken)
    expect(await closeCodeOf(`${base}?token=${await test.token('eve')}`)).toBe(CloseCode.notMember)
    expect(
      await closeCodeOf(`${test.syncUrl}/${freshGroupId()}?token=${await test.token('alice')}`),
    ).toBe(CloseCode.groupNotFound)
    expect(await closeCodeOf(`${test.syncUrl}/bad%20id?token=${await test.token('alice')}`)).toBe(
      CloseCode.invalidGroupId,
    )
  })

  it('closes the connection of a removed member', async () => {
    const groupId = await createGroup(['alice', 'bob'])
    const bob = await rawClient(groupId, 'bob')

    await test.server.groups.removeMember(groupId, 'bob')

    await waitFor('close', () => bob.closeCode !== null)
    expect(bob.closeCode).toBe(CloseCode.notMember)
  })

  it('closes a connection that sends a frame over the limit', async () => {
    await test.close()
    test = await startServer({ maxFrameBytes: 2_048 })
    const groupId = await createGroup(['alice'])
    const alice = await rawClient(groupId, 'alice')

    alice.sendRaw(new Uint8Array(4_096))

    await waitFor('close', () => alice.closeCode !== null)
    expect(alice.closeCode).toBe(CloseCode.messageTooBig)
  })

  it('closes a connection that keeps sending rejected updates', async () => {
    await test.close()
    test = await startServer({ maxRejectionsPerMinute: 3 })
    const groupId = await createGroup(['alice', 'bob'])
    const bob = await rawClient(groupId, 'bob')

    for (let i = 0; i < 5; i += 1) {
      const forger = new Y.Doc()
      openGroupDoc(forger).receipts.set('alice/x', 0)
      bob.sendUpdate(Y.encodeStateAsUpdate(forger))
    }

    await waitFor('close', () => bob.closeCode !== null)
    expect(bob.closeCode).toBe(CloseCode.policyViolation)
  })

  it('closes a connection that sends an unknown message type', async () => {
    const groupId = await createGroup(['alice'])
    const alice = await rawClient(groupId, 'alice')

    alice.sendRaw(new Uint8Array([42, 0]))

    await waitFor('close', () => alice.closeCode !== null)
    expect(alice.closeCode).toBe(CloseCode.policyViolation)
  })

  it('batches a burst of receipts into few transactions', async () => {
    await test.close()
    test = await startServer({ batchWindowMs: 50 })
    const members = Array.from({ length: 20 }, (_, i) => `u${i}`)
    const groupId = await createGroup(members)
    await test.server.groups.sendMessage(groupId, 'u0', 'm1', undefined)
    const clients = await Promise.all(members.map((userId) => rawClient(groupId, userId)))
    let transactions = 0
    const room = await test.server.rooms.peek(groupId)
    room?.doc.on('afterTransaction', () => {
      transactions += 1
    })

    for (const [index, client] of clients.entries()) {
      client.change((doc) => openGroupDoc(doc).receipts.set(`u${index}/d`, 1))
    }
    await waitFor('every client sees every receipt', () =>
      clients.every((client) =>
        members.every((userId) => openGroupDoc(client.doc).receipts.get(`${userId}/d`) === 1),
      ),
    )

    expect(transactions).toBeLessThan(5)
    for (const client of clients) client.close()
  })

  it('persists summaries equal to the pure count functions', async () => {
    const members = ['alice', 'bob', 'carol', 'dave']
    const groupId = await createGroup(members)
    for (let i = 1; i <= 4; i += 1)
      await test.server.groups.sendMessage(groupId, 'alice', `a${i}`, undefined)
    await test.server.groups.removeMember(groupId, 'dave')
    await test.server.groups.sendMessage(groupId, 'bob', 'b1', undefined)
    await test.server.groups.deleteMessage(groupId, 2)
    const bob = await rawClient(groupId, 'bob')
    const carol = await rawClient(groupId, 'carol')
    bob.change((doc) => openGroupDoc(doc).receipts.set('bob/d', 3))
    carol.change((doc) => openGroupDoc(doc).receipts.set('carol/d', 5))
    await waitFor('confirmed', () => bob.confirmed() && carol.confirmed())
    bob.close()
    carol.close()

    test = await test.restart()

    const summary = await test.server.summaries.get(groupId)
    if (summary === undefined) throw new Error('summary missing after restart')
    await test.server.rooms.use(groupId, (room) => {
      const members = new Map(room.group.members.entries())
      const state = { head: 5, members, watermarks: readWatermarks(room.group.receipts) }
      const index = buildCountIndex(state)
      const messages = room.group.messages.toArray()
      const messageIndex = buildMessageIndex(messages)
      expect(summary.head).toBe(5)
      expect(summary.watermarks).toEqual(state.watermarks)
      expect(summary.members).toEqual(members)
      for (const message of messages) {
        expect(countMessage(summary.countIndex(), message)).toEqual(countMessage(index, message))
      }
      for (const userId of ['alice', 'bob', 'carol', 'dave']) {
        expect(countUnread(summary.state(), summary.messageIndex, userId)).toEqual(
          countUnread(state, messageIndex, userId),
        )
      }
    })
  })
})
