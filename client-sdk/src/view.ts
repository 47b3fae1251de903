import {
  buildCountIndex,
  buildMessageIndex,
  type CountIndex,
  countMessage,
  countUnread,
  type GroupDoc,
  type GroupState,
  listReaders,
  listUnread,
  type MessageIndex,
  type MessageRecord,
  readHead,
  readMembers,
  readWatermarks,
} from '@readmark/shared'
import type { Message, MessageCounts, MessageWithCounts } from './types.ts'

/**
 * Counts of one replica, computed with the pure functions of the shared package. The indexes are
 * built on first use after a change, in O(members · log members + window · log window), and kept
 * until the next change.
 *
 * The replica contains only the document's window of recent messages, so counts of an older
 * message are unknown. The unread count treats every seq before the window as a visible message
 * from someone else. It can therefore be higher than the server's for a user whose watermark lies
 * before the window.
 */
export class GroupView {
  readonly #group: GroupDoc
  #state: GroupState | null = null
  #countIndex: CountIndex | null = null
  #messageIndex: MessageIndex | null = null
  #messages: MessageRecord[] | null = null

  constructor(group: GroupDoc) {
    this.#group = group
  }

  /** Drops the cached indexes; the next read rebuilds them. */
  invalidate(): void {
    this.#state = null
    this.#countIndex = null
    this.#messageIndex = null
    this.#messages = null
  }

  get state(): GroupState {
    this.#state ??= {
      head: readHead(this.#group),
      members: readMembers(this.#group),
      watermarks: readWatermarks(this.#group.receipts),
    }
    return this.#state
  }

  /** Returns the messages of the window, oldest first. */
  messages(): readonly MessageRecord[] {
    this.#messages ??= this.#group.messages.toArray()
    return this.#messages
  }

  /** Returns the message with this seq from the window, or undefined when the window lacks it. */
  message(seq: number): MessageRecord | undefined {
    const messages = this.messages()
    const first = messages[0]
    if (first === undefined) return undefined

    // Seqs of the window are consecutive unless a message is missing, so try the direct index first.
    const guess = messages[seq - first.seq]
    if (guess?.seq === seq) return guess
    return messages.find((message) => message.seq === seq)
  }

  counts(seq: number): MessageCounts | undefined {
    const message = this.message(seq)
    if (message === undefined) return undefined
    this.#countIndex ??= buildCountIndex(this.state)
    return countMessage(this.#countIndex, message)
  }

  messagesWithCounts(): MessageWithCounts[] {
    this.#countIndex ??= buildCountIndex(this.state)
    const index = this.#countIndex
    return this.messages().map((message) => ({
      ...toMessage(message),
      ...countMessage(index, message),
    }))
  }

  readers(seq: number): string[] | undefined {
    const message = this.message(seq)
    if (message === undefined) return undefined
    return listReaders(this.state, message, new Map()).map((reader) => reader.userId)
  }

  unreadMembers(seq: number): string[] | undefined {
    const message = this.message(seq)
    if (message === undefined) return undefined
    return listUnread(this.state, message)
  }

  // TODO(counts): page older messages in over REST when W(u) lies before the window, so that the
  // unread count matches the server's for users who have not read for a long time.
  unreadCount(userId: string): number | undefined {
    this.#messageIndex ??= buildMessageIndex(this.messages())
    return countUnread(this.state, this.#messageIndex, userId)
  }
}

export function toMessage(record: MessageRecord): Message {
  const message: Message = { seq: record.seq, id: record.id, sender: record.sender, at: record.at }
  if (record.body !== undefined) message.body = record.body
  if (record.deleted !== undefined) message.deleted = record.deleted
  return message
}
