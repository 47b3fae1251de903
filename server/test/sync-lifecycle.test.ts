import { CloseCode, openGroupDoc, readWatermark, writeDeviceReceipt } from '@readmark/shared'
import { afterEach, describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import { DocStore } from '../src/storage/doc-store.ts'
import {
  closeCodeOf,
  connectStock,
  freshGroupId,
  startServer,
  type TestServer,
  waitFor,
} from './helpers.ts'
import { RawClient } from './raw-client.ts'

let test: TestServer | undefined

afterEach(async () => {
  vi.restoreAllMocks()
  await test?.close()
  test = undefined
})

async function setUp(
  options: Parameters<typeof startServer>[0] = {},
): Promise<{ test: TestServer; groupId: string }> {
  test = await startServer(options)
  const groupId = freshGroupId()
  await test.server.groups.createGroup({
    id: groupId,
    members: [{ userId: 'alice' }, { userId: 'bob' }],
  })
  for (let i = 1; i <= 3; i += 1)
    await test.server.groups.sendMessage(groupId, 'alice', `m${i}`, undefined)
  return { test, groupId }
}

async function rawClient(server: TestServer, groupId: string, userId: string): Promise<RawClient> {
  const client = new RawClient(`${server.syncUrl}/${groupId}?token=${await server.token(userId)}`)
  await waitFor(`${userId} to sync`, () => client.synced)
  return client
}

describe('sync lifecycle', () => {
  it('keeps an update in memory when its store fails', async () => {
    const { test, groupId } = await setUp()
    const bob = await rawClient(test, groupId, 'bob')
    const store = vi
      .spyOn(DocStore.prototype, 'store')
      .mockRejectedValueOnce(new Error('disk full'))

    bob.change((doc) => openGroupDoc(doc).receipts.set('bob/phone', 1))
    await waitFor('the failed store', () => store.mock.calls.length === 1)
    await (await test.server.rooms.peek(groupId))?.settled()

    expect(bob.confirmed()).toBe(false)
    const failures = await test.server.metrics.registry.getSingleMetricAsString(
      'readmark_store_failures_total',
    )
    expect(failures).toContain('store="documents"} 1')
    expect((await test.server.rooms.peek(groupId))?.group.receipts.get('bob/phone')).toBe(1)

    bob.change((doc) => openGroupDoc(doc).receipts.set('bob/phone', 2))
    await waitFor('confirmation after the retry', () => bob.confirmed())
    bob.close()

    const restarted = await test.restart()
    await restarted.server.rooms.use(groupId, (room) => {
      expect(room.group.receipts.get('bob/phone')).toBe(2)
    })
    await restarted.close()
  })

  it('unloads an idle document and loads it again', async () => {
    const { test, groupId } = await setUp({ idleUnloadMs: 50 })
    const bob = await rawClient(test, groupId, 'bob')
    bob.change((doc) => openGroupDoc(doc).receipts.set('bob/phone', 3))
    await waitFor('confirmation', () => bob.confirmed())
    bob.close()

    await waitFor('unload', () => test.server.rooms.loadedCount === 0)

    const alice = await connectStock(test, groupId, 'alice')
    expect(readWatermark(openGroupDoc(alice.doc).receipts, 'bob')).toBe(3)
    alice.close()
  })

  it('keeps a document whose unload cannot store it', async () => {
    const { test, groupId } = await setUp({ idleUnloadMs: 50 })
    const bob = await rawClient(test, groupId, 'bob')
    const store = vi.spyOn(DocStore.prototype, 'store').mockRejectedValue(new Error('disk full'))
    bob.change((doc) => openGroupDoc(doc).receipts.set('bob/phone', 2))
    await waitFor('the failed store', () => store.mock.calls.length >= 1)
    bob.close()

    await waitFor('an unload attempt', () => store.mock.calls.length >= 2)
    store.mockRestore()

    const alice = await connectStock(test, groupId, 'alice')
    expect(openGroupDoc(alice.doc).receipts.get('bob/phone')).toBe(2)
    alice.close()
    await waitFor('unload', () => test.server.rooms.loadedCount === 0)
    const restarted = await test.restart()
    await restarted.server.rooms.use(groupId, (room) => {
      expect(room.group.receipts.get('bob/phone')).toBe(2)
    })
    await restarted.close()
  })

  it('drops an idle summary and reads it back', async () => {
    const { test, groupId } = await setUp({ idleUnloadMs: 20, summaryIdleMs: 1_000 })
    const bob = await rawClient(test, groupId, 'bob')
    bob.change((doc) => openGroupDoc(doc).receipts.set('bob/phone', 2))
    await waitFor('confirmation', () => bob.confirmed())

    test.server.summaries.dropIdle(Date.now() + 5_000)
    expect(test.server.summaries.peek(groupId)).toBeDefined()

    bob.close()
    await waitFor('unload', () => test.server.rooms.loadedCount === 0)
    test.server.summaries.dropIdle(Date.now() + 5_000)
    expect(test.server.summaries.peek(groupId)).toBeUndefined()

    const summary = await test.server.summaries.get(groupId)
    expect(summary?.watermarks.get('bob')).toBe(2)
    expect(summary?.head).toBe(3)
  })

  it('adds no server client id across reloads', async () => {
    const { test, groupId } = await setUp({ idleUnloadMs: 20 })
    await waitFor('unload', () => test.server.rooms.loadedCount === 0)
    await test.server.groups.sendMessage(groupId, 'alice', 'm4', undefined)
    await waitFor('unload', () => test.server.rooms.loadedCount === 0)
    await test.server.groups.sendMessage(groupId, 'alice', 'm5', undefined)

    await test.server.rooms.use(groupId, (room) => {
      expect(room.doc.store.clients.size).toBe(1)
    })
  })

  it('passes awareness states between members', async () => {
    const { test, groupId } = await setUp()
    const alice = await connectStock(test, groupId, 'alice')
    const bob = await connectStock(test, groupId, 'bob')

    alice.provider.awareness.setLocalStateField('user', { name: 'Alice' })

    await waitFor('bob to see alice', () =>
      [...bob.provider.awareness.getStates().values()].some(
        (state) => state.user?.name === 'Alice',
      ),
    )
    alice.close()
    await waitFor('alice to leave', () => bob.provider.awareness.getStates().size === 1)
    bob.close()
  })

  it('limits open connections per user', async () => {
    const { test, groupId } = await setUp({ maxConnectionsPerUser: 2 })
    const first = await rawClient(test, groupId, 'bob')
    const second = await rawClient(test, groupId, 'bob')

    expect(await closeCodeOf(`${test.syncUrl}/${groupId}?token=${await test.token('bob')}`)).toBe(
      CloseCode.tooManyConnections,
    )
    first.close()
    await waitFor('a free slot', async () => {
      const probe = new RawClient(`${test.syncUrl}/${groupId}?token=${await test.token('bob')}`)
      await waitFor('open or close', () => probe.synced || probe.closeCode !== null)
      const admitted = probe.synced
      probe.close()
      return admitted
    })
    second.close()
  })

  it('drops a socket that stops answering pings', async () => {
    const { test, groupId } = await setUp({ heartbeatMs: 100 })
    const token = await test.token('bob')
    const socket = new WebSocket(`${test.syncUrl}/${groupId}?token=${token}`, { autoPong: false })
    let closed = false
    socket.on('close', () => {
      closed = true
    })

    await waitFor('the server to drop the socket', () => closed, 3_000)
    expect(closed).toBe(true)
  })

  it('applies offline receipts of a stock client on reconnect', async () => {
    const { test, groupId } = await setUp()
    const bob = await connectStock(test, groupId, 'bob')
    bob.provider.disconnect()
    writeDeviceReceipt(openGroupDoc(bob.doc), 'bob', 'phone', 2)
    writeDeviceReceipt(openGroupDoc(bob.doc), 'bob', 'phone', 3)

    bob.provider.connect()

    await waitFor('the server to see W(bob) = 3', async () => {
      const summary = await test.server.summaries.get(groupId)
      return summary?.watermarks.get('bob') === 3
    })
    bob.close()
  })
})

describe('service connections', () => {
  it('syncs a service token read-only', async () => {
    const { test, groupId } = await setUp()
    const service = new RawClient(
      `${test.syncUrl}/${groupId}?token=${await test.token('backend', { service: true })}`,
    )
    await waitFor('the service to sync', () => service.synced)

    expect(openGroupDoc(service.doc).meta.get('head')).toBe(3)
    service.change((doc) => openGroupDoc(doc).receipts.set('backend/d', 1))
    await waitFor('permission denied', () => service.denied.length > 0)

    expect(service.denied[0]).toMatch(/^read-only/)
    expect(service.closeCode).toBeNull()
    service.close()
  })
})
