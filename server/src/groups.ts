import {
  CloseCode,
  type CreateGroupBody,
  closePeriod,
  isCurrentMember,
  META_HEAD,
  META_SERVER_CLIENT_ID,
  type MemberRecord,
  type MessageRecord,
  openPeriod,
  type PutMemberBody,
  receiptKey,
  SERVER_DEVICE,
} from '@readmark/shared'
import type { Logger } from 'pino'
import * as Y from 'yjs'
import { AppError } from './errors.ts'
import type { GroupRecord } from './storage/summary-store.ts'
import type { GroupSummary, SummaryService } from './summaries.ts'
import type { Room } from './sync/room.ts'
import type { Rooms } from './sync/rooms.ts'

/** Messages that one retention step reads and removes at a time. */
const EXPIRE_BATCH_SIZE = 1_000

export interface GroupServiceDependencies {
  rooms: Rooms
  summaries: SummaryService
  logger: Logger
  messageWindow: number
  /** Closes the sync connections of a user in a group, after the user was removed. */
  closeConnections: (groupId: string, userId: string, code: number, reason: string) => void
}

/**
 * The server's writes to groups: creation, membership, messages and server-set watermarks. Each
 * changes the group document and the summaries together, one write at a time per group, and
 * resolves once both are stored.
 */
export class GroupService {
  readonly #deps: GroupServiceDependencies
  /** Tail of the write queue of each group, so that seqs and idempotency checks never interleave. */
  readonly #queues = new Map<string, Promise<unknown>>()

  constructor(deps: GroupServiceDependencies) {
    this.#deps = deps
  }

  /** Creates a group with its first members, all joining at head 0. */
  createGroup(body: CreateGroupBody): Promise<GroupSummary> {
    return this.#serialize(body.id, async () => {
      const { summaries, rooms } = this.#deps
      if ((await summaries.get(body.id)) !== undefined) {
        throw new AppError('conflict', `group "${body.id}" already exists`)
      }

      const members = new Map<string, MemberRecord>()
      for (const member of body.members) {
        if (members.has(member.userId)) {
          throw new AppError('invalid_request', `member "${member.userId}" is listed twice`)
        }
        members.set(member.userId, openPeriod(undefined, 0, member.role ?? 'member', member.bot))
      }

      const doc = new Y.Doc()
      const group: GroupRecord = {
        id: body.id,
        head: 0,
        createdAt: Date.now(),
        serverClientId: doc.clientID,
      }
      await summaries.create(group, members)
      const room = await rooms.create(group, doc)
      await room.change((groupDoc) => {
        groupDoc.meta.set(META_HEAD, 0)
        groupDoc.meta.set(META_SERVER_CLIENT_ID, doc.clientID)
        for (const [userId, record] of members) groupDoc.members.set(userId, record)
      })
      rooms.scheduleUnload(body.id)

      this.#deps.logger.info({ group: body.id, members: members.size }, 'group created')
      return room.summary
    })
  }

  /**
   * Adds a member, joining at the current head (a first join raises W to it), or changes the role or bot
   * flag of a current member. Returns the record and whether the user joined.
   */
  putMember(
    groupId: string,
    userId: string,
    body: PutMemberBody,
  ): Promise<{ member: MemberRecord; joined: boolean }> {
    return this.#withRoom(groupId, async (room) => {
      const existing = room.summary.members.get(userId)
      const joined = !isCurrentMember(existing)
      const head = room.summary.head
      let record: MemberRecord
      if (joined) {
        record = openPeriod(
          existing,
          head,
          body.role ?? existing?.role ?? 'member',
          body.bot ?? existing?.bot,
        )
      } else {
        record = { ...(existing as MemberRecord), ...definedFields(body) }
      }

      await room.change((groupDoc) => {
        groupDoc.members.set(userId, record)
        // Only a first join counts history as read. A rejoin keeps W, so what the user had not
        // read before it left stays unread, and messages sent while it was away never count.
        if (joined && existing === undefined && head > (room.summary.watermarks.get(userId) ?? 0)) {
          groupDoc.receipts.set(receiptKey(userId, SERVER_DEVICE), head)
        }
      })
      await this.#deps.summaries.setMember(room.summary, userId, record, true)

      if (joined) this.#deps.logger.info({ group: groupId, user: userId, head }, 'member joined')
      return { member: record, joined }
    })
  }

  /** Removes a current member at the current head and closes its sync connections. */
  removeMember(groupId: string, userId: string): Promise<MemberRecord> {
    return this.#withRoom(groupId, async (room) => {
      const existing = room.summary.members.get(userId)
      if (existing === undefined || !isCurrentMember(existing)) {
        throw new AppError('not_found', `user "${userId}" is not a member of group "${groupId}"`)
      }

      const record = closePeriod(existing, room.summary.head)
      await room.change((groupDoc) => groupDoc.members.set(userId, record))
      await this.#deps.summaries.setMember(room.summary, userId, record, false)
      this.#deps.closeConnections(groupId, userId, CloseCode.notMember, 'removed from the group')

      this.#deps.logger.info(
        { group: groupId, user: userId, head: room.summary.head },
        'member removed',
      )
      return record
    })
  }

  /**
   * Sends a message as sender: assigns the next seq, appends it to the log and the document's
   * window, and moves the sender's watermark to it. The same clientMessageId returns the message
   * it first created, with `created: false`.
   */
  sendMessage(
    groupId: string,
    sender: string,
    clientMessageId: string,
    body: string | undefined,
  ): Promise<{ message: MessageRecord; created: boolean }> {
    return this.#withRoom(groupId, async (room) => {
      const { summaries, messageWindow } = this.#deps
      const existingSeq = await summaries.store.getSeqOfClientMessageId(groupId, clientMessageId)
      if (existingSeq !== undefined) {
        const existing = await summaries.store.getMessage(groupId, existingSeq)
        if (existing !== undefined) {
          const sameBody = existing.deleted === true || existing.body === body
          if (existing.sender !== sender || !sameBody) {
            throw new AppError(
              'conflict',
              `clientMessageId "${clientMessageId}" already identifies message ${existing.seq} with another sender or body; use a new id for a new message`,
            )
          }
          return { message: existing, created: false }
        }
      }
      if (!isCurrentMember(room.summary.members.get(sender))) {
        throw new AppError('forbidden', `user "${sender}" is not a member of group "${groupId}"`)
      }

      const seq = room.summary.head + 1
      const message: MessageRecord = { seq, id: clientMessageId, sender, at: Date.now() }
      if (body !== undefined) message.body = body

      await summaries.addMessage(room.summary, message, clientMessageId)
      await room.change((groupDoc) => {
        groupDoc.meta.set(META_HEAD, seq)
        groupDoc.messages.push([message])
        const excess = groupDoc.messages.length - messageWindow
        if (excess > 0) groupDoc.messages.delete(0, excess)
        groupDoc.receipts.set(receiptKey(sender, SERVER_DEVICE), seq)
      })
      return { message, created: true }
    })
  }

  /** Marks a message deleted in the log and in the window; a deleted message counts nowhere. */
  deleteMessage(groupId: string, seq: number): Promise<MessageRecord> {
    return this.#withRoom(groupId, async (room) => {
      const message = await this.#deps.summaries.store.getMessage(groupId, seq)
      if (message === undefined)
        throw new AppError('not_found', `message ${seq} not found in group "${groupId}"`)
      if (message.deleted === true) return message

      const { body: _body, ...rest } = message
      const deleted: MessageRecord = { ...rest, deleted: true }
      await room.change((groupDoc) => {
        const index = groupDoc.messages.toArray().findIndex((entry) => entry.seq === seq)
        if (index >= 0) {
          groupDoc.messages.delete(index, 1)
          groupDoc.messages.insert(index, [deleted])
        }
      })
      await this.#deps.summaries.deleteMessage(room.summary, message)
      return deleted
    })
  }

  /**
   * Raises the user's watermark to seq through the server's own receipt key, for backends and
   * clients without a replica, and clears the "marked unread" flag. A seq at or below W leaves W
   * as it is but still clears the flag. Returns W after the call.
   */
  markRead(groupId: string, userId: string, seq: number): Promise<number> {
    return this.#withRoom(groupId, async (room) => {
      if (!isCurrentMember(room.summary.members.get(userId))) {
        throw new AppError('forbidden', `user "${userId}" is not a member of group "${groupId}"`)
      }
      if (seq > room.summary.head) {
        throw new AppError(
          'invalid_request',
          `seq ${seq} is beyond the group's head ${room.summary.head}`,
        )
      }

      const watermark = room.summary.watermarks.get(userId) ?? 0
      if (seq <= watermark) {
        if (room.summary.markedUnread.has(userId)) {
          await this.#deps.summaries.setMarkedUnread(room.summary, userId, false)
        }
        return watermark
      }
      // The advance clears the flag too: SummaryService.advance does it for every advance.
      await room.change((groupDoc) => groupDoc.receipts.set(receiptKey(userId, SERVER_DEVICE), seq))
      return room.summary.watermarks.get(userId) ?? seq
    })
  }

  /**
   * Sets or clears the "marked unread" flag of a current member. W stays as it is, and the
   * group's document is not loaded. Returns the summary the flag was set in.
   */
  setMarkedUnread(groupId: string, userId: string, marked: boolean): Promise<GroupSummary> {
    return this.#serialize(groupId, async () => {
      const summary = await this.#deps.summaries.get(groupId)
      if (summary === undefined) throw new AppError('not_found', `group "${groupId}" not found`)
      if (!isCurrentMember(summary.members.get(userId))) {
        throw new AppError('forbidden', `user "${userId}" is not a member of group "${groupId}"`)
      }

      if (summary.markedUnread.has(userId) !== marked) {
        await this.#deps.summaries.setMarkedUnread(summary, userId, marked)
      }
      return summary
    })
  }

  /**
   * Removes every message sent before `before` (ms since the epoch) from the log, the summaries
   * and the document's window, for retention. Returns how many messages were removed.
   */
  expireMessages(groupId: string, before: number): Promise<number> {
    return this.#serialize(groupId, async () => {
      const { summaries, rooms, messageWindow } = this.#deps
      const summary = await summaries.get(groupId)
      if (summary === undefined) return 0

      let removed = 0
      for (;;) {
        const batch = await summaries.store.listMessagesBefore(groupId, before, EXPIRE_BATCH_SIZE)
        if (batch.length === 0) break
        await summaries.forgetMessages(
          summary,
          batch,
          batch.map((message) => message.id),
        )
        removed += batch.length
      }
      if (removed === 0) return 0

      // The window contains the most recent messages, so only a group whose window reaches back
      // to an expired seq needs its document loaded.
      const expiredThrough = summary.group.expiredThrough ?? 0
      if (expiredThrough > summary.head - messageWindow) {
        await rooms.use(groupId, (room) =>
          room.change((groupDoc) => {
            const firstKept = groupDoc.messages
              .toArray()
              .findIndex((message) => message.seq > expiredThrough)
            const count = firstKept < 0 ? groupDoc.messages.length : firstKept
            if (count > 0) groupDoc.messages.delete(0, count)
          }),
        )
      }

      this.#deps.logger.info({ group: groupId, removed, expiredThrough }, 'messages expired')
      return removed
    })
  }

  #withRoom<T>(groupId: string, write: (room: Room) => Promise<T>): Promise<T> {
    return this.#serialize(groupId, () => this.#deps.rooms.use(groupId, write))
  }

  #serialize<T>(groupId: string, write: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(groupId) ?? Promise.resolve()
    const result = previous.then(write, write)
    const tail = result.catch(() => undefined)
    this.#queues.set(groupId, tail)
    void tail.then(() => {
      if (this.#queues.get(groupId) === tail) this.#queues.delete(groupId)
    })
    return result
  }
}

function definedFields(body: PutMemberBody): Partial<MemberRecord> {
  const fields: Partial<MemberRecord> = {}
  if (body.role !== undefined) fields.role = body.role
  if (body.bot !== undefined) fields.bot = body.bot
  return fields
}
