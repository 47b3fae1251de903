import {
  isCurrentMember,
  META_HEAD,
  type MessageRecord,
  receiptKey,
  SERVER_DEVICE,
} from '@readmark/shared'
import type { Logger } from 'pino'
import { AppError } from './errors.ts'
import type { SummaryService } from './summaries.ts'
import type { Room } from './sync/room.ts'
import type { Rooms } from './sync/rooms.ts'

/** Messages that one retention step reads and removes at a time. */
const EXPIRE_BATCH_SIZE = 1_000

/** The subset of GroupServiceDependencies that the message writes use. */
export interface GroupMessagesDependencies {
  rooms: Rooms
  summaries: SummaryService
  logger: Logger
  messageWindow: number
}

/**
 * The message writes behind GroupService: send, delete and expire. Each changes the message log,
 * the summaries and the document's window of recent messages. The caller must run each method in
 * the group's write queue. Each method reads the group's state before it writes, and no other
 * write to the group may run in between.
 */
export class GroupMessages {
  readonly #deps: GroupMessagesDependencies

  constructor(deps: GroupMessagesDependencies) {
    this.#deps = deps
  }

  /** Sends a message in the room's group, as GroupService.sendMessage documents. */
  async send(
    room: Room,
    sender: string,
    clientMessageId: string,
    body: string | undefined,
  ): Promise<{ message: MessageRecord; created: boolean }> {
    const groupId = room.id
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
  }

  /** Deletes a message of the room's group, as GroupService.deleteMessage documents. */
  async delete(room: Room, seq: number): Promise<MessageRecord> {
    const groupId = room.id
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
  }

  /** Removes a group's messages sent before `before`, as GroupService.expireMessages documents. */
  async expire(groupId: string, before: number): Promise<number> {
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
  }
}
