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
import { GroupMessages } from './group-messages.ts'
import { GroupWriteQueue } from './group-write-queue.ts'
import type { GroupRecord } from './storage/summary-store.ts'
import type { GroupSummary, SummaryService } from './summaries.ts'
import type { Room } from './sync/room.ts'
import type { Rooms } from './sync/rooms.ts'

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
  readonly #queue = new GroupWriteQueue()
  readonly #messages: GroupMessages

  constructor(deps: GroupServiceDependencies) {
    this.#deps = deps
    this.#messages = new GroupMessages(deps)
  }

  /** Creates a group with its first members, all joining at head 0. */
  createGroup(body: CreateGroupBody): Promise<GroupSummary> {
    return this.#queue.run(body.id, async () => {
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
    return this.#withRoom(groupId, (room) =>
      this.#messages.send(room, sender, clientMessageId, body),
    )
  }

  /** Marks a message deleted in the log and in the window; a deleted message counts nowhere. */
  deleteMessage(groupId: string, seq: number): Promise<MessageRecord> {
    return this.#withRoom(groupId, (room) => this.#messages.delete(room, seq))
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
    return this.#queue.run(groupId, async () => {
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
    return this.#queue.run(groupId, () => this.#messages.expire(groupId, before))
  }

  #withRoom<T>(groupId: string, write: (room: Room) => Promise<T>): Promise<T> {
    return this.#queue.run(groupId, () => this.#deps.rooms.use(groupId, write))
  }
}

function definedFields(body: PutMemberBody): Partial<MemberRecord> {
  const fields: Partial<MemberRecord> = {}
  if (body.role !== undefined) fields.role = body.role
  if (body.bot !== undefined) fields.bot = body.bot
  return fields
}
