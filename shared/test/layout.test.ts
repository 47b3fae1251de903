import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  closePeriod,
  isCurrentMember,
  openGroupDoc,
  openPeriod,
  parseReceiptKey,
  readHead,
  readWatermark,
  readWatermarks,
  receiptKey,
  SERVER_DEVICE,
  wasMemberAt,
  writeDeviceReceipt,
} from '../src/index.ts'
import { sync, TestDevice, TestServer } from './helpers.ts'

describe('receipt keys', () => {
  it('builds a key from user and device', () => {
    expect(receiptKey('alice', 'phone')).toBe('alice/phone')
  })

  it('parses a device key', () => {
    expect(parseReceiptKey('alice/phone')).toEqual({ userId: 'alice', deviceId: 'phone' })
  })

  it('parses the server device key', () => {
    expect(parseReceiptKey(`alice/${SERVER_DEVICE}`)).toEqual({
      userId: 'alice',
      deviceId: SERVER_DEVICE,
    })
  })

  it.each([
    ['no slash', 'alice'],
    ['an empty user', '/phone'],
    ['an empty device', 'alice/'],
    ['a space in the device', 'alice/my phone'],
    ['a second slash', 'alice/phone/2'],
    ['a user id of 129 characters', `${'a'.repeat(129)}/phone`],
  ])('rejects a key with %s', (_, key) => {
    expect(parseReceiptKey(key)).toBeNull()
  })
})

describe('readWatermark', () => {
  it('returns 0 without receipts', () => {
    const group = openGroupDoc(new Y.Doc())

    expect(readWatermark(group.receipts, 'alice')).toBe(0)
  })

  it('takes the maximum over devices and server', () => {
    const group = openGroupDoc(new Y.Doc())
    group.receipts.set('alice/phone', 3)
    group.receipts.set('alice/laptop', 7)
    group.receipts.set(`alice/${SERVER_DEVICE}`, 5)

    expect(readWatermark(group.receipts, 'alice')).toBe(7)
  })

  it('ignores users sharing a prefix', () => {
    const group = openGroupDoc(new Y.Doc())
    group.receipts.set('al/phone', 9)
    group.receipts.set('alice2/phone', 8)
    group.receipts.set('alice/phone', 2)

    expect(readWatermark(group.receipts, 'alice')).toBe(2)
  })

  it('agrees with readWatermarks', () => {
    const group = openGroupDoc(new Y.Doc())
    group.receipts.set('alice/phone', 3)
    group.receipts.set('bob/phone', 4)
    group.receipts.set(`bob/${SERVER_DEVICE}`, 6)

    expect(readWatermarks(group.receipts)).toEqual(
      new Map([
        ['alice', readWatermark(group.receipts, 'alice')],
        ['bob', readWatermark(group.receipts, 'bob')],
      ]),
    )
  })

  it('keeps W while an overwrite waits', () => {
    const { device } = deviceMissingOneUpdate()

    expect(device.doc.store.pendingStructs).not.toBeNull()
    expect(device.group.receipts.has(`bob/${SERVER_DEVICE}`)).toBe(false)
    expect(device.watermarkOf('bob')).toBe(2)
  })

  it('counts pending values in readWatermarks', () => {
    const { device } = deviceMissingOneUpdate()

    expect(readWatermarks(device.group.receipts).get('bob')).toBe(2)
  })

  it('drops pending values once applied', () => {
    const { server, device } = deviceMissingOneUpdate()
    device.apply(Y.encodeStateAsUpdate(server.doc, Y.encodeStateVector(device.doc)))

    expect(device.doc.store.pendingStructs).toBeNull()
    expect(device.watermarkOf('bob')).toBe(2)
  })
})

/**
 * Returns alice's device after bob sent m1 and m2, where the device has seen m1 but got only the
 * update that moves bob's W to 2: Yjs has deleted bob's old value and keeps the new one pending.
 */
function deviceMissingOneUpdate(): { server: TestServer; device: TestDevice } {
  const server = new TestServer([{ userId: 'alice' }, { userId: 'bob' }])
  server.send('bob')
  const device = new TestDevice('alice', 'phone')
  sync(server, device)
  const broadcasts: Uint8Array[] = []
  server.doc.on('update', (update: Uint8Array) => broadcasts.push(update))
  server.send('bob')

  device.apply(broadcasts.at(-1) as Uint8Array)
  return { server, device }
}

describe('writeDeviceReceipt', () => {
  it('writes a receipt above W', () => {
    const group = openGroupDoc(new Y.Doc())

    expect(writeDeviceReceipt(group, 'alice', 'phone', 4)).toBe(4)
    expect(group.receipts.get('alice/phone')).toBe(4)
  })

  it('skips a receipt that W covers', () => {
    const group = openGroupDoc(new Y.Doc())
    group.receipts.set('alice/laptop', 6)
    let events = 0
    group.receipts.observe(() => {
      events += 1
    })

    expect(writeDeviceReceipt(group, 'alice', 'phone', 6)).toBe(6)
    expect(group.receipts.has('alice/phone')).toBe(false)
    expect(events).toBe(0)
  })
})

describe('membership periods', () => {
  it('excludes the join seq itself', () => {
    expect(wasMemberAt([{ from: 4 }], 4)).toBe(false)
  })

  it('includes the seq after the join', () => {
    expect(wasMemberAt([{ from: 4 }], 5)).toBe(true)
  })

  it('includes the leave seq', () => {
    expect(wasMemberAt([{ from: 0, to: 4 }], 4)).toBe(true)
  })

  it('excludes seqs after leaving', () => {
    expect(wasMemberAt([{ from: 0, to: 4 }], 5)).toBe(false)
  })

  it('includes a second period', () => {
    expect(wasMemberAt([{ from: 0, to: 4 }, { from: 6 }], 7)).toBe(true)
  })

  it('opens a period at head', () => {
    expect(openPeriod(undefined, 3, 'member', undefined)).toEqual({
      role: 'member',
      periods: [{ from: 3 }],
    })
  })

  it('keeps earlier periods on rejoin', () => {
    const left = closePeriod(openPeriod(undefined, 0, 'admin', true), 4)

    expect(openPeriod(left, 6, 'member', true)).toEqual({
      role: 'member',
      bot: true,
      periods: [{ from: 0, to: 4 }, { from: 6 }],
    })
  })

  it('closes the open period at head', () => {
    const record = openPeriod(undefined, 2, 'member', undefined)

    expect(closePeriod(record, 5).periods).toEqual([{ from: 2, to: 5 }])
  })

  it('tells a current member', () => {
    expect(isCurrentMember(openPeriod(undefined, 0, 'member', undefined))).toBe(true)
  })

  it('tells a former member', () => {
    expect(isCurrentMember(closePeriod(openPeriod(undefined, 0, 'member', undefined), 1))).toBe(
      false,
    )
  })

  it('tells an unknown user', () => {
    expect(isCurrentMember(undefined)).toBe(false)
  })
})

describe('readHead', () => {
  it('returns 0 for a new document', () => {
    expect(readHead(openGroupDoc(new Y.Doc()))).toBe(0)
  })
})
