import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  addMessageToIndex,
  advanceInCountIndex,
  buildCountIndex,
  buildMessageIndex,
  countBelow,
  countMessage,
  countUnread,
  type GroupState,
  listReaders,
  listUnread,
  type MemberRecord,
  type MessageFacts,
  markDeletedInIndex,
  readRate,
  readTimeOf,
} from '../src/index.ts'

const member = (...periods: MemberRecord['periods']): MemberRecord => ({ role: 'member', periods })
const bot = (...periods: MemberRecord['periods']): MemberRecord => ({
  role: 'member',
  bot: true,
  periods,
})

function stateOf(
  head: number,
  members: Record<string, MemberRecord>,
  watermarks: Record<string, number>,
): GroupState {
  return {
    head,
    members: new Map(Object.entries(members)),
    watermarks: new Map(Object.entries(watermarks)),
  }
}

/** Messages 1..head, all from the sender, with the listed seqs deleted. */
function messagesFrom(sender: string, head: number, deleted: number[] = []): MessageFacts[] {
  return Array.from({ length: head }, (_, index) => ({
    seq: index + 1,
    sender,
    deleted: deleted.includes(index + 1),
  }))
}

describe('counts of an empty group', () => {
  const state = stateOf(0, {}, {})

  it('has no audience for a message', () => {
    expect(countMessage(buildCountIndex(state), { seq: 1, sender: 'alice' })).toEqual({
      readCount: 0,
      unreadCount: 0,
    })
  })

  it('has no readers', () => {
    expect(listReaders(state, { seq: 1, sender: 'alice' }, new Map())).toEqual([])
  })

  it('has no unread members', () => {
    expect(listUnread(state, { seq: 1, sender: 'alice' })).toEqual([])
  })

  it('has no unread count for a stranger', () => {
    expect(countUnread(state, buildMessageIndex([]), 'alice')).toBeUndefined()
  })

  it('has no read rate', () => {
    expect(readRate(buildCountIndex(state), [])).toBeNull()
  })
})

describe('countMessage', () => {
  it('counts readers and non-readers', () => {
    const state = stateOf(
      3,
      { alice: member({ from: 0 }), bob: member({ from: 0 }), carol: member({ from: 0 }) },
      { alice: 3, bob: 2, carol: 1 },
    )

    expect(countMessage(buildCountIndex(state), { seq: 2, sender: 'alice' })).toEqual({
      readCount: 1,
      unreadCount: 1,
    })
  })

  it('excludes the sender who read', () => {
    const state = stateOf(1, { alice: member({ from: 0 }), bob: member({ from: 0 }) }, { alice: 1 })

    expect(countMessage(buildCountIndex(state), { seq: 1, sender: 'alice' })).toEqual({
      readCount: 0,
      unreadCount: 1,
    })
  })

  it('excludes the sender who has not read', () => {
    const state = stateOf(1, { alice: member({ from: 0 }), bob: member({ from: 0 }) }, { bob: 1 })

    expect(countMessage(buildCountIndex(state), { seq: 1, sender: 'alice' })).toEqual({
      readCount: 1,
      unreadCount: 0,
    })
  })

  it('ignores a sender who is not a member', () => {
    const state = stateOf(1, { alice: member({ from: 0 }), bob: member({ from: 0 }) }, { bob: 1 })

    expect(countMessage(buildCountIndex(state), { seq: 1, sender: 'service' })).toEqual({
      readCount: 1,
      unreadCount: 1,
    })
  })

  it('excludes bots that read', () => {
    const state = stateOf(
      1,
      { alice: member({ from: 0 }), helper: bot({ from: 0 }) },
      { helper: 1 },
    )

    expect(countMessage(buildCountIndex(state), { seq: 1, sender: 'alice' })).toEqual({
      readCount: 0,
      unreadCount: 0,
    })
  })

  it('excludes bots that have not read', () => {
    const state = stateOf(
      1,
      { alice: member({ from: 0 }), bob: member({ from: 0 }), helper: bot({ from: 0 }) },
      {},
    )

    expect(countMessage(buildCountIndex(state), { seq: 1, sender: 'alice' })).toEqual({
      readCount: 0,
      unreadCount: 1,
    })
  })

  it('excludes members who joined later', () => {
    const state = stateOf(3, { alice: member({ from: 0 }), bob: member({ from: 2 }) }, { bob: 2 })

    expect(countMessage(buildCountIndex(state), { seq: 2, sender: 'alice' })).toEqual({
      readCount: 0,
      unreadCount: 0,
    })
  })

  it('keeps a former member who read', () => {
    const state = stateOf(
      4,
      { alice: member({ from: 0 }), bob: member({ from: 0, to: 3 }) },
      { bob: 2 },
    )

    expect(countMessage(buildCountIndex(state), { seq: 2, sender: 'alice' })).toEqual({
      readCount: 1,
      unreadCount: 0,
    })
  })

  it('drops a former member who has not read', () => {
    const state = stateOf(
      4,
      { alice: member({ from: 0 }), bob: member({ from: 0, to: 3 }) },
      { bob: 2 },
    )

    expect(countMessage(buildCountIndex(state), { seq: 3, sender: 'alice' })).toEqual({
      readCount: 0,
      unreadCount: 0,
    })
  })

  it('keeps a rejoined member who has not read', () => {
    const state = stateOf(
      8,
      { alice: member({ from: 0 }), bob: member({ from: 0, to: 4 }, { from: 6 }) },
      { bob: 2 },
    )
    const index = buildCountIndex(state)

    expect(countMessage(index, { seq: 3, sender: 'alice' })).toEqual({
      readCount: 0,
      unreadCount: 1,
    })
    expect(countMessage(index, { seq: 5, sender: 'alice' })).toEqual({
      readCount: 0,
      unreadCount: 0,
    })
    expect(countMessage(index, { seq: 7, sender: 'alice' })).toEqual({
      readCount: 0,
      unreadCount: 1,
    })
  })

  it('gives a deleted message no receipts', () => {
    const state = stateOf(1, { alice: member({ from: 0 }), bob: member({ from: 0 }) }, { bob: 1 })

    expect(
      countMessage(buildCountIndex(state), { seq: 1, sender: 'alice', deleted: true }),
    ).toEqual({ readCount: 0, unreadCount: 0 })
  })
})

describe('listReaders and listUnread', () => {
  const state = stateOf(
    3,
    {
      alice: member({ from: 0 }),
      dave: member({ from: 0 }),
      bob: member({ from: 0 }),
      carol: member({ from: 0, to: 2 }),
      erin: member({ from: 0, to: 2 }),
      helper: bot({ from: 0 }),
    },
    { alice: 3, dave: 2, bob: 1, carol: 2, erin: 1, helper: 3 },
  )
  const message = { seq: 2, sender: 'alice' }

  it('lists readers sorted by user id', () => {
    const advances = new Map([
      ['dave', [{ seq: 2, at: 500 }]],
      ['carol', [{ seq: 1, at: 100 }]],
    ])

    expect(listReaders(state, message, advances)).toEqual([
      { userId: 'carol', readAt: null },
      { userId: 'dave', readAt: 500 },
    ])
  })

  it('lists current non-readers sorted', () => {
    expect(listUnread(state, message)).toEqual(['bob'])
  })

  it('lists nobody for a deleted message', () => {
    const deleted = { ...message, deleted: true }

    expect(listReaders(state, deleted, new Map())).toEqual([])
    expect(listUnread(state, deleted)).toEqual([])
  })

  it('matches countMessage', () => {
    const counts = countMessage(buildCountIndex(state), message)

    expect(counts.readCount).toBe(listReaders(state, message, new Map()).length)
    expect(counts.unreadCount).toBe(listUnread(state, message).length)
  })
})

describe('readTimeOf', () => {
  const advances = [
    { seq: 2, at: 100 },
    { seq: 5, at: 200 },
    { seq: 9, at: 300 },
  ]

  it('returns the first advance covering seq', () => {
    expect(readTimeOf(advances, 3)).toBe(200)
  })

  it('returns the advance at exactly seq', () => {
    expect(readTimeOf(advances, 5)).toBe(200)
  })

  it('returns null beyond the last advance', () => {
    expect(readTimeOf(advances, 10)).toBeNull()
  })

  it('returns null without advances', () => {
    expect(readTimeOf([], 1)).toBeNull()
  })
})

describe('countUnread', () => {
  it('counts messages above W', () => {
    const state = stateOf(5, { alice: member({ from: 0 }), bob: member({ from: 0 }) }, { bob: 2 })

    expect(countUnread(state, buildMessageIndex(messagesFrom('alice', 5)), 'bob')).toBe(3)
  })

  it('skips own messages', () => {
    const state = stateOf(2, { alice: member({ from: 0 }) }, {})
    const messages = [
      { seq: 1, sender: 'alice' },
      { seq: 2, sender: 'bob' },
    ]

    expect(countUnread(state, buildMessageIndex(messages), 'alice')).toBe(1)
  })

  it('skips deleted messages', () => {
    const state = stateOf(4, { alice: member({ from: 0 }), bob: member({ from: 0 }) }, {})

    expect(countUnread(state, buildMessageIndex(messagesFrom('alice', 4, [2, 4])), 'bob')).toBe(2)
  })

  it('skips messages before joining', () => {
    const state = stateOf(5, { alice: member({ from: 0 }), bob: member({ from: 3 }) }, {})

    expect(countUnread(state, buildMessageIndex(messagesFrom('alice', 5)), 'bob')).toBe(2)
  })

  it('skips messages between two periods', () => {
    const state = stateOf(
      7,
      { alice: member({ from: 0 }), bob: member({ from: 0, to: 4 }, { from: 6 }) },
      { bob: 1 },
    )

    expect(countUnread(state, buildMessageIndex(messagesFrom('alice', 7)), 'bob')).toBe(4)
  })

  it('returns 0 for a member who read all', () => {
    const state = stateOf(3, { alice: member({ from: 0 }), bob: member({ from: 0 }) }, { bob: 3 })

    expect(countUnread(state, buildMessageIndex(messagesFrom('alice', 3)), 'bob')).toBe(0)
  })

  it('returns undefined for a former member', () => {
    const state = stateOf(3, { alice: member({ from: 0 }), bob: member({ from: 0, to: 1 }) }, {})

    expect(countUnread(state, buildMessageIndex(messagesFrom('alice', 3)), 'bob')).toBeUndefined()
  })

  it('counts seqs missing from the index', () => {
    const state = stateOf(5, { alice: member({ from: 0 }), bob: member({ from: 0 }) }, { bob: 1 })
    const newest = messagesFrom('alice', 5).slice(3)

    expect(countUnread(state, buildMessageIndex(newest), 'bob')).toBe(4)
  })

  it('ignores W beyond head', () => {
    const state = stateOf(2, { alice: member({ from: 0 }), bob: member({ from: 0 }) }, { bob: 9 })

    expect(countUnread(state, buildMessageIndex(messagesFrom('alice', 2)), 'bob')).toBe(0)
  })

  it('counts unread for a bot member', () => {
    const state = stateOf(2, { alice: member({ from: 0 }), helper: bot({ from: 0 }) }, {})

    expect(countUnread(state, buildMessageIndex(messagesFrom('alice', 2)), 'helper')).toBe(2)
  })
})

describe('message index', () => {
  it('gives the same counts built one message at a time', () => {
    const messages: MessageFacts[] = [
      { seq: 3, sender: 'bob' },
      { seq: 1, sender: 'alice' },
      { seq: 2, sender: 'bob' },
      { seq: 4, sender: 'alice' },
    ]
    const incremental = buildMessageIndex([])
    for (const message of messages) addMessageToIndex(incremental, message)
    markDeletedInIndex(incremental, { seq: 2, sender: 'bob' })
    const bulk = buildMessageIndex([
      ...messages.filter((message) => message.seq !== 2),
      { seq: 2, sender: 'bob', deleted: true },
    ])

    expect(incremental).toEqual(bulk)
  })

  it('ignores a message added twice', () => {
    const index = buildMessageIndex([{ seq: 1, sender: 'alice' }])
    addMessageToIndex(index, { seq: 1, sender: 'alice' })

    expect(index.bySender.get('alice')).toEqual([1])
  })
})

describe('readRate', () => {
  it('returns 0 when nobody read', () => {
    const state = stateOf(1, { alice: member({ from: 0 }), bob: member({ from: 0 }) }, { alice: 1 })

    expect(readRate(buildCountIndex(state), messagesFrom('alice', 1))).toBe(0)
  })

  it('divides read slots by audience slots', () => {
    const state = stateOf(
      2,
      { alice: member({ from: 0 }), bob: member({ from: 0 }), carol: member({ from: 0 }) },
      { alice: 2, bob: 2, carol: 1 },
    )

    expect(readRate(buildCountIndex(state), messagesFrom('alice', 2))).toBe(3 / 4)
  })

  it('returns null for deleted messages only', () => {
    const state = stateOf(1, { alice: member({ from: 0 }), bob: member({ from: 0 }) }, { bob: 1 })

    expect(readRate(buildCountIndex(state), messagesFrom('alice', 1, [1]))).toBeNull()
  })
})

describe('countBelow', () => {
  it.each([
    [[], 5, 0],
    [[1, 3, 3, 7], 0, 0],
    [[1, 3, 3, 7], 3, 1],
    [[1, 3, 3, 7], 4, 3],
    [[1, 3, 3, 7], 8, 4],
  ])('counts values of %j below %i', (sorted, value, expected) => {
    expect(countBelow(sorted, value)).toBe(expected)
  })
})

describe('advanceInCountIndex', () => {
  it('matches a rebuilt index after random advances', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            periods: fc.array(fc.tuple(fc.nat(30), fc.option(fc.nat(30), { nil: undefined })), {
              minLength: 1,
              maxLength: 3,
            }),
            bot: fc.boolean(),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        fc.array(fc.tuple(fc.nat(7), fc.nat(40)), { maxLength: 30 }),
        (users, advances) => {
          const members = new Map<string, MemberRecord>()
          users.forEach((user, i) => {
            const periods = user.periods.map(([from, length]) =>
              length === undefined ? { from } : { from, to: from + length },
            )
            members.set(`u${i}`, { role: 'member', bot: user.bot, periods })
          })
          const watermarks = new Map<string, number>()
          const state = { head: 80, members, watermarks }
          const index = buildCountIndex(state)

          for (const [user, seq] of advances) {
            const userId = `u${user % users.length}`
            const previous = watermarks.get(userId) ?? 0
            if (seq <= previous) continue
            watermarks.set(userId, seq)
            advanceInCountIndex(index, userId, previous, seq)
          }

          const rebuilt = buildCountIndex(state)
          expect(index.readStarts).toEqual(rebuilt.readStarts)
          expect(index.readEnds).toEqual(rebuilt.readEnds)
          expect(index.currentReadStarts).toEqual(rebuilt.currentReadStarts)
          expect(index.currentReadEnds).toEqual(rebuilt.currentReadEnds)
        },
      ),
      { numRuns: 300 },
    )
  })
})
