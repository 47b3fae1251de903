import {
  type Advance,
  advanceInCountIndex,
  buildCountIndex,
  buildMessageIndex,
  type CountIndex,
  type GroupState,
  type MemberRecord,
  type MessageFacts,
  type MessageIndex,
  type MessageRecord,
} from '@readmark/shared'
import type { GroupRecord, StoredGroup } from './storage/summary-store.ts'

/**
 * The derived summary of one group in memory: members, watermarks with their advance logs and the
 * message index. REST queries read it; the count index is rebuilt lazily after a change.
 */
export class GroupSummary {
  readonly id: string
  group: GroupRecord
  readonly members: Map<string, MemberRecord>
  readonly watermarks: Map<string, number>
  readonly advances: Map<string, Advance[]>
  readonly messageIndex: MessageIndex
  /** Sender, time and deletion of every message in the log, by seq. */
  readonly messages: Map<number, MessageFacts & { at: number }>
  readonly markedUnread: Set<string>
  /** Loaded documents and event streams using this summary; a held summary stays in memory. */
  holds = 0
  /** Summary writes in progress. */
  pendingWrites = 0
  /** Last time a caller asked for this summary, in ms since the epoch. */
  lastUsedAt = Date.now()
  #countIndex: CountIndex | null = null
  #memberIds: string[] | null = null

  constructor(stored: StoredGroup) {
    this.id = stored.group.id
    this.group = stored.group
    this.members = stored.members
    this.watermarks = stored.watermarks
    this.advances = stored.advances
    this.markedUnread = stored.markedUnread
    this.messages = new Map()
    for (const message of stored.messages) this.messages.set(message.seq, factsOf(message))
    this.messageIndex = buildMessageIndex([
      ...expiredFacts(stored.group.expiredThrough ?? 0),
      ...this.messages.values(),
    ])
  }

  get head(): number {
    return this.group.head
  }

  state(): GroupState {
    return { head: this.group.head, members: this.members, watermarks: this.watermarks }
  }

  /** Returns the count index, building it after a member change; watermark changes update it in place. */
  countIndex(): CountIndex {
    if (this.#countIndex === null) this.#countIndex = buildCountIndex(this.state())
    return this.#countIndex
  }

  /** Returns the facts of the most recent logged messages, at most count of them, oldest first. */
  recentMessages(count: number): Array<MessageFacts & { at: number }> {
    const recent: Array<MessageFacts & { at: number }> = []
    for (let seq = this.head; seq >= 1 && recent.length < count; seq -= 1) {
      const facts = this.messages.get(seq)
      // Only retention leaves gaps in the log, and it removes the oldest messages first.
      if (facts === undefined) break
      recent.push(facts)
    }
    return recent.reverse()
  }

  /** Returns the ids of every member, current and former, in code unit order, cached until members change. */
  sortedMemberIds(): readonly string[] {
    this.#memberIds ??= [...this.members.keys()].sort()
    return this.#memberIds
  }

  /** Records W(u) moving from previous to next, after `watermarks` contains next. */
  recordAdvance(userId: string, previous: number, next: number): void {
    if (this.#countIndex !== null) advanceInCountIndex(this.#countIndex, userId, previous, next)
  }

  /** Drops what is derived from the member list. Call it after adding or changing a member. */
  invalidateMembers(): void {
    this.#countIndex = null
    this.#memberIds = null
  }
}

/**
 * Yields messages 1 to expiredThrough as deleted, so that unread counts skip the messages retention
 * removed, as they did before a restart.
 */
function* expiredFacts(expiredThrough: number): Generator<MessageFacts> {
  // NOTE: the message index then contains one number per removed seq, O(expiredThrough) memory.
  for (let seq = 1; seq <= expiredThrough; seq += 1) yield { seq, sender: '', deleted: true }
}

/** Returns the facts of a logged message that counts and statistics need. */
export function factsOf(message: MessageRecord): MessageFacts & { at: number } {
  return {
    seq: message.seq,
    sender: message.sender,
    deleted: message.deleted === true,
    at: message.at,
  }
}
