import type { CountsEvent } from '@readmark/shared'
import type { ReadmarkApi } from './readmark-api.ts'

/** The results the walkthrough observed, for its test. */
export interface WalkthroughResult {
  /** Total unread count per user at the end. */
  unread: Record<string, number>
  /** Counts of message 1 and its readers at the end. */
  firstMessage: { readCount: number; unreadCount: number; readers: string[]; unread: string[] }
  /** Every `counts` event the subscription received. */
  events: CountsEvent[]
}

const EVENT_TIMEOUT_MS = 10_000

/**
 * Makes the calls of a chat app's backend, in order: create a group, subscribe to its events, send
 * messages for users, add a member, mark read for a user, and read unread totals and receipts.
 * Prints each step with print.
 */
export async function runWalkthrough(
  api: ReadmarkApi,
  groupId: string,
  print: (line: string) => void,
): Promise<WalkthroughResult> {
  const group = await api.createGroup(groupId, [
    { userId: 'alice', role: 'owner' },
    { userId: 'bob' },
    { userId: 'carol' },
  ])
  print(`created group ${group.id} with ${group.members.map((member) => member.userId).join(', ')}`)

  const events: CountsEvent[] = []
  const waiters: Array<{ check: (event: CountsEvent) => boolean; resolve: () => void }> = []
  const abort = new AbortController()
  const following = api.followEvents(
    groupId,
    (event) => {
      events.push(event)
      const counts = event.messages.map(
        (message) => `#${message.seq} read ${message.readCount}/unread ${message.unreadCount}`,
      )
      print(`  event: head ${event.head}, ${counts.join(', ') || 'no messages yet'}`)
      for (const waiter of [...waiters]) {
        if (!waiter.check(event)) continue
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
    },
    abort.signal,
  )
  /** Resolves at the first event, past or future, that passes check. */
  const eventWhere = (description: string, check: (event: CountsEvent) => boolean) => {
    if (events.some(check)) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no event with ${description} within ${EVENT_TIMEOUT_MS} ms`)),
        EVENT_TIMEOUT_MS,
      )
      waiters.push({
        check,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
      })
    })
  }

  try {
    await eventWhere('the group state', () => true)

    const first = await api.sendMessage(groupId, 'alice', 'standup-1', 'Standup at 10?')
    const second = await api.sendMessage(groupId, 'bob', 'standup-2', 'Yes, see you there')
    print(`alice sent #${first.seq}, bob sent #${second.seq}; sending counts as reading`)

    const dave = await api.putMember(groupId, 'dave')
    print(`dave joined at head ${dave.watermark}: messages before joining are not unread for him`)

    const read = await api.markRead(groupId, 'carol', first.seq)
    print(`carol read up to #${first.seq}: her watermark is ${read.watermark}`)
    await eventWhere(`message #${first.seq} read by 2`, (event) =>
      event.messages.some((message) => message.seq === first.seq && message.readCount === 2),
    )

    const unread: Record<string, number> = {}
    for (const userId of ['alice', 'bob', 'carol', 'dave']) {
      unread[userId] = (await api.unread(userId)).total
    }
    print(
      `unread totals: ${Object.entries(unread)
        .map(([userId, count]) => `${userId} ${count}`)
        .join(', ')}`,
    )

    const receipts = await api.receipts(groupId, first.seq)
    const readers = receipts.readers.map((reader) => reader.userId)
    print(
      `#${first.seq}: read by ${readers.join(', ')} (at ${receipts.readers
        .map((reader) =>
          reader.readAt === null ? 'unknown' : new Date(reader.readAt).toISOString(),
        )
        .join(', ')}); unread by ${receipts.unread.join(', ') || 'nobody'}`,
    )

    return {
      unread,
      firstMessage: {
        readCount: receipts.readCount,
        unreadCount: receipts.unreadCount,
        readers,
        unread: receipts.unread,
      },
      events,
    }
  } finally {
    abort.abort()
    await following
  }
}
