import {
  type Advance,
  addMessageToIndex,
  buildCountIndex,
  buildMessageIndex,
  type CountIndex,
  type GroupState,
  type MemberRecord,
  type MessageFacts,
  type MessageIndex,
  type MessageRecord,
  markDeletedInIndex,
} from '@readmark/shared'
import type { Logger } from 'pino'
import type { ServerMetrics } from './metrics.ts'
import {
  type GroupRecord,
  type StoredGroup,
  type SummaryOperation,
  type SummaryStore,
  summaryKeys,
} from './storage/summary-store.ts'

/** What changed in a group's summary; server-sent events forward these. */
export type SummaryChange = 'receipts' | 'members' | 'messages'

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
  #countIndex: CountIndex | null = null

  constructor(stored: StoredGroup) {
    this.id = stored.group.id
    this.group = stored.group
    this.members = stored.members
    this.watermarks = stored.watermarks
    this.advances = stored.advances
    this.markedUnread = stored.markedUnread
    this.messages = new Map()
    for (const message of stored.messages) this.messages.set(message.seq, factsOf(message))
    this.messageIndex = buildMessageIndex(this.messages.values())
  }

  get head(): number {
    return this.group.head
  }

  state(): GroupState {
    return { head: this.group.head, members: this.members, watermarks: this.watermarks }
  }

  /** Returns the count index, rebuilding it when members or watermarks changed since the last build. */
  countIndex(): CountIndex {
    if (this.#countIndex === null) this.#countIndex = buildCountIndex(this.state())
    return this.#countIndex
  }

  invalidate(): void {
    this.#countIndex = null
  }
}

function factsOf(message: MessageRecord): MessageFacts & { at: number } {
  return {
    seq: message.seq,
    sender: message.sender,
    deleted: message.deleted === true,
    at: message.at,
  }
}

type ChangeListener = (groupId: string, change: SummaryChange) => void

/**
 * Keeps the summaries of loaded groups in memory and in the summary store. Every change method
 * updates memory at once, so a query right after sees it, and returns the promise of its write.
 */
export class SummaryService {
  readonly #store: SummaryStore
  readonly #logger: Logger
  readonly #metrics: ServerMetrics
  readonly #groups = new Map<string, Promise<GroupSummary | undefined>>()
  readonly #listeners = new Set<ChangeListener>()

  constructor(store: SummaryStore, logger: Logger, metrics: ServerMetrics) {
    this.#store = store
    this.#logger = logger
    this.#metrics = metrics
  }

  get store(): SummaryStore {
    return this.#store
  }

  /** Returns a group's summary, loading it from the store once, or undefined when it does not exist. */
  get(groupId: string): Promise<GroupSummary | undefined> {
    let loading = this.#groups.get(groupId)
    if (loading === undefined) {
      loading = this.#store.loadGroup(groupId).then((stored) => {
        if (stored === undefined) {
          this.#groups.delete(groupId)
          return undefined
        }
        this.#logger.debug({ group: groupId, members: stored.members.size }, 'summary loaded')
        return new GroupSummary(stored)
      })
      loading.catch(() => this.#groups.delete(groupId))
      this.#groups.set(groupId, loading)
    }
    return loading
  }

  /** Calls listener after every change of any group; returns the function that removes it. */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Creates a group's summary; the caller has checked that the id is free. */
  create(group: GroupRecord, members: Map<string, MemberRecord>): Promise<void> {
    const stored: StoredGroup = {
      group,
      members,
      watermarks: new Map(),
      advances: new Map(),
      messages: [],
      markedUnread: new Set(),
    }
    this.#groups.set(group.id, Promise.resolve(new GroupSummary(stored)))

    const operations: SummaryOperation[] = [
      { type: 'put', key: summaryKeys.group(group.id), value: group },
    ]
    for (const [userId, record] of members) {
      operations.push({ type: 'put', key: summaryKeys.member(group.id, userId), value: record })
      operations.push({ type: 'put', key: summaryKeys.userGroup(userId, group.id), value: 1 })
    }
    return this.#write(group.id, 'members', operations)
  }

  /**
   * Raises watermarks to the given values where they are higher, logging each advance at server
   * time `at` and clearing the "marked unread" flag. Returns the promise of the write.
   */
  advance(summary: GroupSummary, values: Map<string, number>, at: number): Promise<void> {
    const operations: SummaryOperation[] = []
    for (const [userId, seq] of values) {
      if (seq <= (summary.watermarks.get(userId) ?? 0)) continue

      summary.watermarks.set(userId, seq)
      let list = summary.advances.get(userId)
      if (list === undefined) {
        list = []
        summary.advances.set(userId, list)
      }
      list.push({ seq, at })
      operations.push({ type: 'put', key: summaryKeys.watermark(summary.id, userId), value: seq })
      operations.push({ type: 'put', key: summaryKeys.advance(summary.id, userId, seq), value: at })
      if (summary.markedUnread.delete(userId)) {
        operations.push({ type: 'del', key: summaryKeys.markedUnread(summary.id, userId) })
      }
    }
    if (operations.length === 0) return Promise.resolve()

    summary.invalidate()
    return this.#write(summary.id, 'receipts', operations)
  }

  /** Stores a member record; `current` says whether the user is a member now. */
  setMember(
    summary: GroupSummary,
    userId: string,
    record: MemberRecord,
    current: boolean,
  ): Promise<void> {
    summary.members.set(userId, record)
    summary.invalidate()

    const operations: SummaryOperation[] = [
      { type: 'put', key: summaryKeys.member(summary.id, userId), value: record },
      current
        ? { type: 'put', key: summaryKeys.userGroup(userId, summary.id), value: 1 }
        : { type: 'del', key: summaryKeys.userGroup(userId, summary.id) },
    ]
    if (!current && summary.markedUnread.delete(userId)) {
      operations.push({ type: 'del', key: summaryKeys.markedUnread(summary.id, userId) })
    }
    return this.#write(summary.id, 'members', operations)
  }

  /** Appends a message to the log and moves head to its seq. */
  addMessage(
    summary: GroupSummary,
    message: MessageRecord,
    clientMessageId: string,
  ): Promise<void> {
    const facts = factsOf(message)
    summary.messages.set(message.seq, facts)
    addMessageToIndex(summary.messageIndex, facts)
    summary.group = { ...summary.group, head: Math.max(summary.group.head, message.seq) }
    summary.invalidate()

    return this.#write(summary.id, 'messages', [
      { type: 'put', key: summaryKeys.message(summary.id, message.seq), value: message },
      {
        type: 'put',
        key: summaryKeys.clientMessageId(summary.id, clientMessageId),
        value: message.seq,
      },
      { type: 'put', key: summaryKeys.group(summary.id), value: summary.group },
    ])
  }

  /** Marks a logged message deleted and drops its body. */
  deleteMessage(summary: GroupSummary, message: MessageRecord): Promise<void> {
    const facts = summary.messages.get(message.seq)
    if (facts !== undefined && facts.deleted !== true) {
      markDeletedInIndex(summary.messageIndex, facts)
      facts.deleted = true
    }

    const { body: _body, ...rest } = message
    const deleted: MessageRecord = { ...rest, deleted: true }
    return this.#write(summary.id, 'messages', [
      { type: 'put', key: summaryKeys.message(summary.id, message.seq), value: deleted },
    ])
  }

  /** Sets or clears the "marked unread" flag of a member. */
  setMarkedUnread(summary: GroupSummary, userId: string, marked: boolean): Promise<void> {
    const key = summaryKeys.markedUnread(summary.id, userId)
    if (marked) summary.markedUnread.add(userId)
    else summary.markedUnread.delete(userId)
    return this.#write(summary.id, 'receipts', [
      marked ? { type: 'put', key, value: 1 } : { type: 'del', key },
    ])
  }

  /** Forgets messages of the log, for retention; their receipts go with them. */
  forgetMessages(
    summary: GroupSummary,
    messages: MessageRecord[],
    clientMessageIds: string[],
  ): Promise<void> {
    const operations: SummaryOperation[] = []
    for (const message of messages) {
      summary.messages.delete(message.seq)
      operations.push({ type: 'del', key: summaryKeys.message(summary.id, message.seq) })
    }
    for (const clientMessageId of clientMessageIds) {
      operations.push({
        type: 'del',
        key: summaryKeys.clientMessageId(summary.id, clientMessageId),
      })
    }
    return this.#write(summary.id, 'messages', operations)
  }

  async #write(
    groupId: string,
    change: SummaryChange,
    operations: SummaryOperation[],
  ): Promise<void> {
    for (const listener of this.#listeners) listener(groupId, change)
    try {
      await this.#store.write(operations)
    } catch (error) {
      this.#metrics.storeFailures.inc({ store: 'summaries' })
      this.#logger.error({ err: error, group: groupId, change }, 'summary write failed')
      throw error
    }
  }
}
