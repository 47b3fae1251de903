import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { ClientOwners, openGroupDoc, SERVER_DEVICE, validateUpdate } from '../src/index.ts'
import { forgeUpdate, REMOTE, reasonOf, sync, TestDevice, TestServer } from './helpers.ts'

/** Builds a group of alice and bob with three messages from carol, who has left. */
function groupWithMessages(): TestServer {
  const server = new TestServer([{ userId: 'alice' }, { userId: 'bob' }, { userId: 'carol' }])
  server.send('carol')
  server.send('carol')
  server.send('carol')
  server.leave('carol')
  return server
}

/** Returns a device of the user whose receipt for seq the server has accepted. */
function deviceThatRead(server: TestServer, userId: string, seq: number): TestDevice {
  const device = new TestDevice(userId, 'phone')
  sync(server, device)
  device.read(seq)
  expect(reasonOf(sync(server, device))).toBe('accepted')
  return device
}

/** Splits a V1 update of at most one client block into its block and its delete set. */
function splitUpdate(update: Uint8Array, deleteSet: Uint8Array): Uint8Array {
  expect(update[0]).toBe(1)
  return update.slice(1, update.length - deleteSet.length)
}

/** Returns a copy of bytes with the first occurrence of `find` replaced by `replacement`. */
function replaceBytes(bytes: Uint8Array, find: number[], replacement: number[]): Uint8Array {
  const text = (values: Iterable<number>): string => [...values].join(',')
  const start = text(bytes).indexOf(text(find))
  expect(start, `bytes ${text(find)} not found`).toBeGreaterThanOrEqual(0)

  const position = text(bytes).slice(0, start).split(',').length - 1
  return new Uint8Array([
    ...bytes.slice(0, position),
    ...replacement,
    ...bytes.slice(position + find.length),
  ])
}

const utf8 = (text: string): number[] => [...new TextEncoder().encode(text)]

describe('validateUpdate on honest updates', () => {
  it('accepts a first receipt from a device', () => {
    const server = groupWithMessages()
    const device = new TestDevice('alice', 'phone')
    sync(server, device)
    device.read(2)

    const verdict = server.receive('alice', device.outbox[0] as Uint8Array)

    expect(verdict).toEqual({
      ok: true,
      newClients: [device.doc.clientID],
      keys: ['alice/phone'],
      changes: true,
    })
  })

  it('accepts an offline chain as one diff', () => {
    const server = groupWithMessages()
    const device = deviceThatRead(server, 'alice', 1)
    device.read(2)
    device.read(3)

    const verdict = server.receive('alice', device.diffFor(server))

    expect(reasonOf(verdict)).toBe('accepted')
    expect(server.group.receipts.get('alice/phone')).toBe(3)
  })

  it('accepts a full-state resend', () => {
    const server = groupWithMessages()
    const device = deviceThatRead(server, 'alice', 1)
    device.read(3)

    const verdict = server.receive('alice', Y.encodeStateAsUpdate(device.doc))

    expect(reasonOf(verdict)).toBe('accepted')
    expect(server.group.receipts.get('alice/phone')).toBe(3)
  })

  it('accepts a full-state resend with pending structs', () => {
    const server = groupWithMessages()
    const device = deviceThatRead(server, 'alice', 1)
    const broadcasts: Uint8Array[] = []
    server.doc.on('update', (update: Uint8Array) => broadcasts.push(update))
    server.send('bob')
    server.send('bob')
    device.apply(broadcasts.at(-1) as Uint8Array)
    device.read(3)

    const verdict = server.receive('alice', Y.encodeStateAsUpdate(device.doc))

    expect(device.doc.store.pendingStructs).not.toBeNull()
    expect(reasonOf(verdict)).toBe('accepted')
  })

  it('accepts a duplicate without changes', () => {
    const server = groupWithMessages()
    const device = deviceThatRead(server, 'alice', 2)

    const verdict = server.receive('alice', device.outbox[0] as Uint8Array)

    expect(verdict).toEqual({ ok: true, newClients: [], keys: [], changes: false })
  })

  it('accepts rewriting the stored value', () => {
    const server = groupWithMessages()
    deviceThatRead(server, 'alice', 2)

    const update = forgeUpdate(server, (group) => group.receipts.set('alice/phone', 2))

    expect(reasonOf(server.receive('alice', update))).toBe('accepted')
  })

  it('accepts writes to two own devices', () => {
    const server = groupWithMessages()
    const update = forgeUpdate(server, (group) => {
      group.receipts.set('alice/phone', 1)
      group.receipts.set('alice/laptop', 3)
    })

    const verdict = server.receive('alice', update)

    expect(verdict).toMatchObject({
      ok: true,
      keys: expect.arrayContaining(['alice/laptop', 'alice/phone']),
    })
  })

  it('accepts a value equal to head', () => {
    const server = groupWithMessages()
    const update = forgeUpdate(server, (group) => group.receipts.set('alice/phone', server.head))

    expect(reasonOf(server.receive('alice', update))).toBe('accepted')
  })

  it('accepts a later update from a known client', () => {
    const server = groupWithMessages()
    const device = deviceThatRead(server, 'alice', 1)
    device.read(2)

    const verdict = server.receive('alice', device.outbox[1] as Uint8Array)

    expect(verdict).toMatchObject({ ok: true, newClients: [] })
  })

  it('changes nothing in the document', () => {
    const server = groupWithMessages()
    const device = new TestDevice('alice', 'phone')
    sync(server, device)
    device.read(3)
    const before = Y.encodeStateAsUpdate(server.doc)

    validateUpdate(server.doc, server.owners, 'alice', device.outbox[0] as Uint8Array)

    expect(Y.encodeStateAsUpdate(server.doc)).toEqual(before)
  })
})

describe('validateUpdate rejects', () => {
  it('rejects bytes that are not an update', () => {
    const server = groupWithMessages()
    const verdict = server.receive('alice', new Uint8Array([255, 255, 255, 255, 255, 255]))

    expect(reasonOf(verdict)).toBe('malformed')
  })

  it('rejects a truncated update', () => {
    const server = groupWithMessages()
    const update = forgeUpdate(server, (group) => group.receipts.set('alice/phone', 1))

    const verdict = server.receive('alice', update.slice(0, update.length - 6))

    expect(reasonOf(verdict)).toBe('malformed')
  })

  it('rejects a client listed in two blocks', () => {
    const server = groupWithMessages()
    const receipt = forgeUpdate(server, (group) => group.receipts.set('alice/phone', 1), {
      clientId: 7,
    })
    const promotion = forgeUpdate(
      server,
      (group) => group.members.set('alice2', { role: 'owner', periods: [{ from: 0 }] }),
      { clientId: 7 },
    )
    const twoBlocks = new Uint8Array([
      2,
      ...splitUpdate(receipt, new Uint8Array([0])),
      ...splitUpdate(promotion, new Uint8Array([0])),
      0,
    ])

    const verdict = server.receive('alice', twoBlocks)

    expect(reasonOf(verdict)).toBe('malformed')
    expect(server.group.members.has('alice2')).toBe(false)
  })

  it('rejects an empty block that drops a write', () => {
    const server = groupWithMessages()
    deviceThatRead(server, 'alice', 2)
    const overwrite = forgeUpdate(server, (group) => group.receipts.set('alice/phone', 3), {
      clientId: 7,
    })
    const deletion = forgeUpdate(server, (group) => group.receipts.delete('alice/phone'))
    const deleteSet = deletion.slice(1)
    const emptyBlock = [0, 7, 0]
    const dropped = new Uint8Array([
      2,
      ...splitUpdate(overwrite, deleteSet),
      ...emptyBlock,
      ...deleteSet,
    ])

    const verdict = server.receive('alice', dropped)

    expect(reasonOf(verdict)).toBe('malformed')
    expect(server.group.receipts.get('alice/phone')).toBe(2)
  })

  it('rejects the second update delivered alone', () => {
    const server = groupWithMessages()
    const device = new TestDevice('alice', 'phone')
    sync(server, device)
    device.read(1)
    device.read(2)

    const verdict = server.receive('alice', device.outbox[1] as Uint8Array)

    expect(reasonOf(verdict)).toBe('gap')
  })

  it('rejects a skip past the server state', () => {
    const server = groupWithMessages()
    const device = new TestDevice('alice', 'phone')
    sync(server, device)
    device.read(1)
    device.read(2)
    device.read(3)
    const first = device.outbox[0] as Uint8Array
    const third = device.outbox[2] as Uint8Array

    const verdict = server.receive('alice', Y.mergeUpdates([first, third]))

    expect(reasonOf(verdict)).toBe('gap')
  })

  it('rejects a deletion the server lacks', () => {
    const server = groupWithMessages()
    const device = new TestDevice('alice', 'phone')
    sync(server, device)
    device.read(1)
    device.group.receipts.delete('alice/phone')

    const verdict = server.receive('alice', device.outbox[1] as Uint8Array)

    expect(reasonOf(verdict)).toBe('gap')
  })

  it('rejects an empty struct', () => {
    const server = groupWithMessages()
    deviceThatRead(server, 'alice', 2)
    const overwrite = forgeUpdate(server, (group) => group.receipts.set('alice/phone', 3))
    const lengthAndValue = [1, 125, 3]

    const empty = replaceBytes(overwrite, lengthAndValue, [0])

    expect(reasonOf(server.receive('alice', empty))).toBe('malformed')
    expect(server.group.receipts.get('alice/phone')).toBe(2)
  })

  it('rejects an empty deletion', () => {
    const server = groupWithMessages()
    const noStructs = 0
    const deletion = [1, 7, 1, 2, 0]

    const verdict = server.receive('alice', new Uint8Array([noStructs, ...deletion]))

    expect(reasonOf(verdict)).toBe('malformed')
  })

  it('rejects a made-up root in a known part', () => {
    const server = groupWithMessages()
    const device = deviceThatRead(server, 'alice', 1)
    const full = Y.encodeStateAsUpdate(device.doc)

    const renamed = replaceBytes(full, utf8('members'), utf8('memberz'))

    expect(reasonOf(server.receive('alice', renamed))).toBe('server-root')
    expect(server.doc.share.has('memberz')).toBe(false)
  })

  it('rejects a known part referring elsewhere', () => {
    const server = groupWithMessages()
    const device = deviceThatRead(server, 'alice', 1)
    const crafted = new Y.Doc()
    crafted.clientID = 7
    crafted.getMap('receipts').set('alice/phone', 0)
    crafted.clientID = device.doc.clientID
    crafted.getMap('receipts').set('alice/phone', 1)
    const withoutClient7 = Y.encodeStateAsUpdate(crafted, Y.encodeStateVector(new Map([[7, 1]])))

    const verdict = server.receive('alice', withoutClient7)

    expect(verdict).toMatchObject({ reason: 'gap', detail: expect.stringContaining('refers to') })
  })

  it('rejects a partly known item under another key', () => {
    const server = groupWithMessages()
    const device = deviceThatRead(server, 'alice', 1)
    device.read(2)
    device.read(3)
    const full = Y.encodeStateAsUpdate(device.doc)

    const moved = replaceBytes(full, utf8('alice/phone'), utf8('alice/other'))

    expect(reasonOf(server.receive('alice', moved))).toBe('invalid-structure')
    expect(server.group.receipts.get('alice/phone')).toBe(1)
  })

  it("rejects another user's client id", () => {
    const server = groupWithMessages()
    const bobs = deviceThatRead(server, 'bob', 1)
    const update = forgeUpdate(server, (group) => group.receipts.set('alice/phone', 1), {
      clientId: bobs.doc.clientID,
    })

    expect(reasonOf(server.receive('alice', update))).toBe('foreign-client')
  })

  it("rejects the server's recorded client id", () => {
    const server = groupWithMessages()
    const update = forgeUpdate(server, (group) => group.receipts.set('alice/phone', 1), {
      clientId: server.doc.clientID,
    })

    expect(reasonOf(server.receive('alice', update))).toBe('foreign-client')
  })

  it("rejects the server's unused client id", () => {
    const doc = new Y.Doc()
    const owners = ClientOwners.fromDoc(doc)
    const attacker = new Y.Doc()
    attacker.clientID = doc.clientID
    attacker.getMap('receipts').set('alice/phone', 0)

    const verdict = validateUpdate(doc, owners, 'alice', Y.encodeStateAsUpdate(attacker))

    expect(reasonOf(verdict)).toBe('foreign-client')
  })

  it('rejects a known client id without owner', () => {
    const server = groupWithMessages()
    const bobs = deviceThatRead(server, 'bob', 1)
    const owners = new ClientOwners()
    const update = forgeUpdate(server, (group) => group.receipts.set('alice/phone', 1), {
      clientId: bobs.doc.clientID,
    })

    const verdict = validateUpdate(server.doc, owners, 'alice', update)

    expect(reasonOf(verdict)).toBe('foreign-client')
  })

  it("rejects a write to another user's key", () => {
    const server = groupWithMessages()
    const update = forgeUpdate(server, (group) => group.receipts.set('bob/phone', 1))

    expect(reasonOf(server.receive('alice', update))).toBe('foreign-key')
  })

  it("rejects an overwrite of another user's value", () => {
    const server = groupWithMessages()
    deviceThatRead(server, 'bob', 1)
    const update = forgeUpdate(server, (group) => group.receipts.set('bob/phone', 3))

    expect(reasonOf(server.receive('alice', update))).toBe('foreign-key')
    expect(server.group.receipts.get('bob/phone')).toBe(1)
  })

  it.each([
    ['a key without a device', 'alice'],
    ['an empty device id', 'alice/'],
    ['the server device', `alice/${SERVER_DEVICE}`],
    ['a device id with a space', 'alice/my phone'],
    ['a second slash', 'alice/phone/2'],
  ])('rejects %s', (_, key) => {
    const server = groupWithMessages()
    const update = forgeUpdate(server, (group) => group.receipts.set(key, 1))

    expect(reasonOf(server.receive('alice', update))).toBe('invalid-key')
  })

  it.each([
    [
      'members',
      (server: TestServer) =>
        forgeUpdate(server, (g) =>
          g.members.set('alice', { role: 'owner', periods: [{ from: 0 }] }),
        ),
    ],
    [
      'messages',
      (server: TestServer) =>
        forgeUpdate(server, (g) => g.messages.push([{ seq: 4, id: 'm4', sender: 'bob', at: 0 }])),
    ],
    ['meta', (server: TestServer) => forgeUpdate(server, (g) => g.meta.set('head', 99))],
    [
      'a new root',
      (server: TestServer) => forgeUpdate(server, (g) => g.doc.getMap('extra').set('x', 1)),
    ],
  ])('rejects a write to %s', (_, forge) => {
    const server = groupWithMessages()

    expect(reasonOf(server.receive('alice', forge(server)))).toBe('server-root')
  })

  it.each([
    ['a map', () => new Y.Map()],
    ['an array', () => new Y.Array()],
    ['a text', () => new Y.Text('1')],
  ])('rejects %s as a receipt value', (_, create) => {
    const server = groupWithMessages()
    const update = forgeUpdate(server, (group) => {
      group.receipts.set('alice/phone', create() as unknown as number)
    })

    expect(reasonOf(server.receive('alice', update))).toBe('nested-type')
  })

  it('rejects a write into a nested type', () => {
    const server = groupWithMessages()
    const update = forgeUpdate(server, (group) => {
      const nested = new Y.Map<number>()
      group.receipts.set('alice/phone', nested as unknown as number)
      nested.set('alice/laptop', 1)
    })

    expect(reasonOf(server.receive('alice', update))).toBe('nested-type')
  })

  it('rejects receipts written as a list', () => {
    const server = new TestServer([{ userId: 'alice' }])
    const attacker = new Y.Doc()
    attacker.getArray('receipts').insert(0, [0])

    const verdict = server.receive('alice', Y.encodeStateAsUpdate(attacker))

    expect(reasonOf(verdict)).toBe('invalid-structure')
  })

  it('rejects garbage-collected structs from a new client', () => {
    const server = groupWithMessages()
    const update = forgeUpdate(server, (group) => {
      const nested = new Y.Map<number>()
      group.receipts.set('alice/phone', nested as unknown as number)
      nested.set('x', 1)
      group.receipts.delete('alice/phone')
    })

    expect(reasonOf(server.receive('alice', update))).toBe('invalid-structure')
  })

  it.each([
    ['a fraction', 1.5],
    ['a negative number', -1],
    ['a string', '1'],
    ['null', null],
    ['a boolean', true],
    ['NaN', Number.NaN],
    ['infinity', Number.POSITIVE_INFINITY],
    ['an unsafe integer', 2 ** 53],
    ['an array', [1]],
    ['an object', { seq: 1 }],
    ['bytes', new Uint8Array([1])],
  ])('rejects %s as a receipt value', (_, value) => {
    const server = groupWithMessages()
    const update = forgeUpdate(server, (group) => {
      group.receipts.set('alice/phone', value as unknown as number)
    })

    expect(reasonOf(server.receive('alice', update))).toBe('invalid-value')
  })

  it('rejects a value beyond head', () => {
    const server = groupWithMessages()
    const update = forgeUpdate(server, (group) => group.receipts.set('alice/phone', 4))

    expect(reasonOf(server.receive('alice', update))).toBe('beyond-head')
  })

  it('rejects a value lower than stored', () => {
    const server = groupWithMessages()
    deviceThatRead(server, 'alice', 2)
    const update = forgeUpdate(server, (group) => group.receipts.set('alice/phone', 1))

    expect(reasonOf(server.receive('alice', update))).toBe('lower-value')
    expect(server.group.receipts.get('alice/phone')).toBe(2)
  })

  it('rejects a value lower than one before it', () => {
    const server = groupWithMessages()
    const attacker = new Y.Doc({ gc: false })
    Y.applyUpdate(attacker, Y.encodeStateAsUpdate(server.doc), REMOTE)
    attacker.getMap('receipts').set('alice/phone', 3)
    attacker.getMap('receipts').set('alice/phone', 2)
    const chain = Y.encodeStateAsUpdate(attacker, Y.encodeStateVector(server.doc))

    expect(reasonOf(server.receive('alice', chain))).toBe('lower-value')
  })

  it('rejects deleting the own current value', () => {
    const server = groupWithMessages()
    deviceThatRead(server, 'alice', 2)
    const update = forgeUpdate(server, (group) => group.receipts.delete('alice/phone'))

    expect(reasonOf(server.receive('alice', update))).toBe('forbidden-delete')
    expect(server.group.receipts.get('alice/phone')).toBe(2)
  })

  it("rejects deleting another user's value", () => {
    const server = groupWithMessages()
    deviceThatRead(server, 'bob', 2)
    const update = forgeUpdate(server, (group) => group.receipts.delete('bob/phone'))

    expect(reasonOf(server.receive('alice', update))).toBe('forbidden-delete')
  })

  it('rejects deleting the server-set watermark', () => {
    const server = groupWithMessages()
    const update = forgeUpdate(server, (group) => group.receipts.delete(`carol/${SERVER_DEVICE}`))

    expect(reasonOf(server.receive('alice', update))).toBe('forbidden-delete')
  })

  it('rejects deleting a message', () => {
    const server = groupWithMessages()
    const update = forgeUpdate(server, (group) => group.messages.delete(0, 1))

    expect(reasonOf(server.receive('alice', update))).toBe('forbidden-delete')
  })

  it('rejects an overwrite that ends deleted', () => {
    const server = groupWithMessages()
    deviceThatRead(server, 'alice', 2)
    const update = forgeUpdate(server, (group) => {
      group.receipts.set('alice/phone', 3)
      group.receipts.delete('alice/phone')
    })

    expect(reasonOf(server.receive('alice', update))).toBe('forbidden-delete')
  })
})

describe('ClientOwners.fromDoc', () => {
  it('records the owner of every writing client', () => {
    const server = groupWithMessages()
    const device = deviceThatRead(server, 'alice', 1)

    const owners = ClientOwners.fromDoc(server.doc)

    expect(owners.get(device.doc.clientID)).toBe('alice')
  })

  it('records the server as owner of its client', () => {
    const server = groupWithMessages()

    const owners = ClientOwners.fromDoc(server.doc)

    expect(owners.get(server.doc.clientID)).toBe('')
  })

  it('keeps owners across a reload', () => {
    const server = groupWithMessages()
    const device = deviceThatRead(server, 'alice', 1)
    device.read(3)
    sync(server, device)
    const reloaded = new Y.Doc()
    Y.applyUpdate(reloaded, Y.encodeStateAsUpdate(server.doc))

    const owners = ClientOwners.fromDoc(reloaded)

    expect(owners.get(device.doc.clientID)).toBe('alice')
    expect(openGroupDoc(reloaded).receipts.get('alice/phone')).toBe(3)
  })
})
