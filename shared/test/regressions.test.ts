import { describe, expect, it } from 'vitest'
import {
  addMessageToIndex,
  buildMessageIndex,
  countUnread,
  type GroupDoc,
  type GroupState,
  type MemberRecord,
  readWatermark,
} from '../src/index.ts'
import { reasonOf, stateOf, sync, TestDevice, TestServer } from './helpers.ts'

/** unread(userId) as a replica computes it from its own document. */
function unreadOn(group: GroupDoc, userId: string): number | undefined {
  return countUnread(stateOf(group), buildMessageIndex(group.messages.toArray()), userId)
}

/** unread(userId) as the server computes it from its full message log. */
function unreadOnServer(server: TestServer, userId: string): number | undefined {
  return countUnread(server.state(), buildMessageIndex(server.log), userId)
}

describe('regressions', () => {
  it('keeps W at m2 after a late duplicate receipt for m1', () => {
    const server = new TestServer([{ userId: 'alice' }, { userId: 'bob' }])
    server.send('alice')
    server.send('alice')
    const phone = new TestDevice('bob', 'phone')
    sync(server, phone)
    phone.read(1)
    phone.read(2)
    const [forM1, forM2] = phone.outbox as [Uint8Array, Uint8Array]

    const verdicts = [forM1, forM2, forM1].map((update) => reasonOf(server.receive('bob', update)))
    phone.read(1)

    expect(verdicts).toEqual(['accepted', 'accepted', 'accepted'])
    expect(readWatermark(server.group.receipts, 'bob')).toBe(2)
    expect(phone.watermarkOf('bob')).toBe(2)
    expect(phone.outbox).toHaveLength(2)
  })

  it('raises an offline device to m5 on reconnect', () => {
    const server = new TestServer([{ userId: 'alice' }, { userId: 'bob' }])
    const alicePhone = new TestDevice('alice', 'phone')
    const bobPhone = new TestDevice('bob', 'phone')
    const bobLaptop = new TestDevice('bob', 'laptop')
    for (const device of [alicePhone, bobPhone, bobLaptop]) sync(server, device)
    for (let sent = 0; sent < 5; sent++) server.send('alice')
    sync(server, bobPhone)
    bobPhone.read(5)
    sync(server, bobPhone)

    const verdict = sync(server, bobLaptop)
    const unreadRightAfter = unreadOn(bobLaptop.group, 'bob')
    sync(server, alicePhone)
    sync(server, bobPhone)

    expect(reasonOf(verdict)).toBe('accepted')
    expect(unreadRightAfter).toBe(0)
    expect(readWatermark(server.group.receipts, 'bob')).toBe(5)
    expect(bobLaptop.watermarkOf('bob')).toBe(5)
    expect(bobPhone.watermarkOf('bob')).toBe(5)
    expect(alicePhone.watermarkOf('bob')).toBe(5)
  })

  it('totals unread over two groups', () => {
    const first = new TestServer([{ userId: 'alice' }, { userId: 'bob' }])
    const second = new TestServer([{ userId: 'alice' }, { userId: 'carol' }])
    for (let sent = 0; sent < 3; sent++) first.send('bob')
    for (let sent = 0; sent < 2; sent++) second.send('carol')
    const inFirst = new TestDevice('alice', 'phone')
    const inSecond = new TestDevice('alice', 'phone')
    sync(first, inFirst)
    sync(second, inSecond)
    const total = (): number =>
      (unreadOn(inFirst.group, 'alice') ?? 0) + (unreadOn(inSecond.group, 'alice') ?? 0)
    const before = [unreadOn(inFirst.group, 'alice'), unreadOn(inSecond.group, 'alice'), total()]

    inFirst.read(first.head)
    sync(first, inFirst)

    expect(before).toEqual([3, 2, 5])
    expect(unreadOn(inFirst.group, 'alice')).toBe(0)
    expect(unreadOn(inSecond.group, 'alice')).toBe(2)
    expect(total()).toBe(2)
    expect(unreadOnServer(first, 'alice')).toBe(0)
  })

  it('counts both periods of a rejoined member', () => {
    // Bob joined at head 0, was removed at head 4 and added again at head 6; alice sent m1..m7
    // and bob's W is still 0. Unread are m1..m4 from the first period and m7 from the second.
    const members = new Map<string, MemberRecord>([
      ['alice', { role: 'member', periods: [{ from: 0 }] }],
      ['bob', { role: 'member', periods: [{ from: 0, to: 4 }, { from: 6 }] }],
    ])
    const state: GroupState = { head: 7, members, watermarks: new Map([['alice', 7]]) }
    const messages = Array.from({ length: 7 }, (_, index) => ({ seq: index + 1, sender: 'alice' }))
    const incremental = buildMessageIndex([])
    for (const message of messages) addMessageToIndex(incremental, message)

    const answers = [
      countUnread(state, buildMessageIndex(messages), 'bob'),
      countUnread(state, buildMessageIndex(messages), 'bob'),
      countUnread(state, incremental, 'bob'),
    ]

    expect(answers).toEqual([5, 5, 5])
  })

  it('keeps earlier unread after a rejoin', () => {
    // A rejoin keeps W at 0: m1..m4 stay unread, m5 and m6 were sent while bob was away.
    const server = new TestServer([{ userId: 'alice' }, { userId: 'bob' }])
    for (let sent = 0; sent < 4; sent++) server.send('alice')
    server.leave('bob')
    server.send('alice')
    server.send('alice')
    server.join('bob')
    server.send('alice')
    const phone = new TestDevice('bob', 'phone')
    sync(server, phone)

    expect(server.group.members.get('bob')?.periods).toEqual([{ from: 0, to: 4 }, { from: 6 }])
    expect(readWatermark(server.group.receipts, 'bob')).toBe(0)
    expect(unreadOnServer(server, 'bob')).toBe(5)
    expect(unreadOn(phone.group, 'bob')).toBe(5)
  })

  it('counts 2 unread after joining at 1000', () => {
    const server = new TestServer([{ userId: 'alice' }], { windowSize: 100 })
    for (let sent = 0; sent < 1000; sent++) server.send('alice')
    server.join('bob')
    const phone = new TestDevice('bob', 'phone')
    sync(server, phone)

    server.send('alice')
    server.send('alice')
    server.send('alice')
    server.deleteMessage(1002)
    sync(server, phone)

    expect(unreadOnServer(server, 'bob')).toBe(2)
    expect(unreadOn(phone.group, 'bob')).toBe(2)
    expect(phone.group.messages.length).toBe(100)
  })

  it('leaves 0 unread when the newest is deleted', () => {
    const server = new TestServer([{ userId: 'alice' }, { userId: 'bob' }])
    server.send('alice')
    server.send('alice')
    server.send('alice')
    server.deleteMessage(3)
    const phone = new TestDevice('bob', 'phone')
    sync(server, phone)

    phone.read(2)
    const verdict = sync(server, phone)

    expect(reasonOf(verdict)).toBe('accepted')
    expect(unreadOn(phone.group, 'bob')).toBe(0)
    expect(unreadOnServer(server, 'bob')).toBe(0)
  })

  it('accepts a receipt for a deleted message', () => {
    const server = new TestServer([{ userId: 'alice' }, { userId: 'bob' }])
    server.send('alice')
    server.send('alice')
    server.deleteMessage(2)
    const phone = new TestDevice('bob', 'phone')
    sync(server, phone)

    phone.read(2)
    const verdict = server.receive('bob', phone.outbox[0] as Uint8Array)

    expect(reasonOf(verdict)).toBe('accepted')
    expect(readWatermark(server.group.receipts, 'bob')).toBe(2)
  })

  it('keeps W at 9 after a receipt for 5', () => {
    const server = new TestServer([{ userId: 'alice' }, { userId: 'bob' }])
    for (let sent = 0; sent < 9; sent++) server.send('alice')
    const phone = new TestDevice('bob', 'phone')
    sync(server, phone)
    let deviceEvents = 0
    let serverEvents = 0
    phone.group.receipts.observe(() => {
      deviceEvents += 1
    })
    server.group.receipts.observe(() => {
      serverEvents += 1
    })

    phone.read(9)
    phone.read(5)
    for (const update of phone.outbox) server.receive('bob', update)

    expect(phone.watermarkOf('bob')).toBe(9)
    expect(readWatermark(server.group.receipts, 'bob')).toBe(9)
    expect(deviceEvents).toBe(1)
    expect(serverEvents).toBe(1)
  })
})
