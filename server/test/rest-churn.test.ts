import type { MessagePage, ReceiptsResponse, UnreadResponse } from '@readmark/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshGroupId, startServer, type TestServer } from './helpers.ts'
import { type RestCall, restClient, SERVICE } from './rest-client.ts'

/**
 * Membership churn against an oracle: random joins, leaves, sends, reads and deletions through
 * REST, then every count the API reports compared with the same rules written as plain loops.
 */

let test: TestServer
let rest: RestCall

beforeAll(async () => {
  test = await startServer()
  rest = restClient(test)
})

afterAll(async () => {
  await test.close()
})

const USERS = ['ann', 'ben', 'cat', 'dan', 'eve', 'fay']
const BOT = 'bot'

interface OracleMessage {
  seq: number
  sender: string
  deleted: boolean
}

/** The group as the spec describes it, kept with plain arrays. */
class Oracle {
  head = 0
  readonly periods = new Map<string, Array<{ from: number; to?: number }>>()
  readonly watermarks = new Map<string, number>()
  readonly messages: OracleMessage[] = []

  isCurrent(userId: string): boolean {
    const periods = this.periods.get(userId) ?? []
    return periods.length > 0 && periods[periods.length - 1]?.to === undefined
  }

  watermark(userId: string): number {
    return this.watermarks.get(userId) ?? 0
  }

  raise(userId: string, seq: number): void {
    if (seq > this.watermark(userId)) this.watermarks.set(userId, seq)
  }

  join(userId: string): void {
    const periods = this.periods.get(userId) ?? []
    // A first join counts history as read; a rejoin keeps W.
    if (periods.length === 0) this.raise(userId, this.head)
    periods.push({ from: this.head })
    this.periods.set(userId, periods)
  }

  leave(userId: string): void {
    const periods = this.periods.get(userId) ?? []
    const open = periods[periods.length - 1]
    if (open !== undefined) open.to = this.head
  }

  wasMember(userId: string, seq: number): boolean {
    for (const period of this.periods.get(userId) ?? []) {
      if (period.from < seq && (period.to === undefined || seq <= period.to)) return true
    }
    return false
  }

  /** Readers and unread members of a message, sorted. */
  receipts(message: OracleMessage): { readers: string[]; unread: string[] } {
    const readers: string[] = []
    const unread: string[] = []
    if (message.deleted) return { readers, unread }
    for (const userId of [...this.periods.keys()].sort()) {
      if (userId === message.sender || userId === BOT) continue
      if (!this.wasMember(userId, message.seq)) continue
      if (this.watermark(userId) >= message.seq) readers.push(userId)
      else if (this.isCurrent(userId)) unread.push(userId)
    }
    return { readers, unread }
  }

  /** unread(u), or undefined for a user who is not a member now. */
  unreadOf(userId: string): number | undefined {
    if (!this.isCurrent(userId)) return undefined
    let unread = 0
    for (const message of this.messages) {
      if (message.deleted || message.sender === userId) continue
      if (message.seq <= this.watermark(userId)) continue
      if (this.wasMember(userId, message.seq)) unread += 1
    }
    return unread
  }
}

/** mulberry32: a small seeded generator, so a failing seed can be replayed. */
function random(seed: number): () => number {
  let state = seed
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

async function expectCountsMatch(groupId: string, oracle: Oracle, step: string): Promise<void> {
  const page = await rest<MessagePage>(SERVICE, 'GET', `/v1/groups/${groupId}/messages?limit=200`)
  expect(
    page.body.messages.map((message) => message.seq),
    step,
  ).toEqual(oracle.messages.map((message) => message.seq))

  for (const message of oracle.messages) {
    const expected = oracle.receipts(message)
    const receipts = await rest<ReceiptsResponse>(
      SERVICE,
      'GET',
      `/v1/groups/${groupId}/messages/${message.seq}/receipts?limit=1000`,
    )
    const listed = page.body.messages[message.seq - 1]
    const where = `${step}, message ${message.seq}`
    expect(
      receipts.body.readers.map((reader) => reader.userId),
      where,
    ).toEqual(expected.readers)
    expect(receipts.body.unread, where).toEqual(expected.unread)
    expect(receipts.body.readCount, where).toBe(expected.readers.length)
    expect(receipts.body.unreadCount, where).toBe(expected.unread.length)
    expect(listed?.readCount, where).toBe(expected.readers.length)
    expect(listed?.unreadCount, where).toBe(expected.unread.length)
  }

  for (const userId of [...USERS, BOT]) {
    const response = await rest<UnreadResponse>(SERVICE, 'GET', `/v1/users/${userId}/unread`)
    const entry = response.body.groups.find((group) => group.groupId === groupId)
    expect(entry?.unread, `${step}, unread of ${userId}`).toBe(oracle.unreadOf(userId))
  }
}

describe('membership churn', () => {
  it.each([1, 2, 3, 4, 5])('matches the oracle for seed %i', async (seed) => {
    const next = random(seed)
    const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)] as T
    const groupId = freshGroupId()
    const oracle = new Oracle()
    const initial = USERS.slice(0, 3)
    await rest(SERVICE, 'POST', '/v1/groups', {
      id: groupId,
      members: [...initial.map((userId) => ({ userId })), { userId: BOT, bot: true }],
    })
    for (const userId of [...initial, BOT]) oracle.join(userId)
    // Users share ids across seeds, so each seed uses its own clientMessageId prefix.
    let sent = 0

    for (let step = 1; step <= 100; step += 1) {
      const current = [...USERS, BOT].filter((userId) => oracle.isCurrent(userId))
      const outside = USERS.filter((userId) => !oracle.isCurrent(userId))
      const roll = next()

      if (roll < 0.15 && outside.length > 0) {
        const userId = pick(outside)
        await rest(SERVICE, 'PUT', `/v1/groups/${groupId}/members/${userId}`, {})
        oracle.join(userId)
      } else if (roll < 0.27 && current.length > 1) {
        const userId = pick(current.filter((id) => id !== BOT))
        await rest(SERVICE, 'DELETE', `/v1/groups/${groupId}/members/${userId}`)
        oracle.leave(userId)
      } else if (roll < 0.6 && current.length > 0) {
        const sender = pick(current)
        sent += 1
        const response = await rest<{ seq: number }>(
          sender,
          'POST',
          `/v1/groups/${groupId}/messages`,
          {
            clientMessageId: `s${seed}-${sent}`,
          },
        )
        oracle.head += 1
        expect(response.body.seq).toBe(oracle.head)
        oracle.messages.push({ seq: oracle.head, sender, deleted: false })
        oracle.raise(sender, oracle.head)
      } else if (roll < 0.92 && current.length > 0) {
        const userId = pick(current)
        const seq = Math.floor(next() * (oracle.head + 1))
        await rest(userId, 'POST', `/v1/groups/${groupId}/read`, { seq })
        oracle.raise(userId, seq)
      } else if (oracle.messages.length > 0) {
        const message = pick(oracle.messages)
        await rest(SERVICE, 'DELETE', `/v1/groups/${groupId}/messages/${message.seq}`)
        message.deleted = true
      }

      if (step % 25 === 0) await expectCountsMatch(groupId, oracle, `seed ${seed}, step ${step}`)
    }
  })
})
