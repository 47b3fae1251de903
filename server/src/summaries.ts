import {
  type Advance,
  addMessageToIndex,
  type MemberRecord,
  type MessageRecord,
  markDeletedInIndex,
} from '@readmark/shared'
import type { Logger } from 'pino'
import { factsOf, GroupSummary } from './group-summary.ts'
import type { ServerMetrics } from './metrics.ts'
import {
  type GroupRecord,
  type StoredGroup,
  type SummaryOperation,
  type SummaryStore,
  summaryKeys,
} from './storage/summary-store.ts'
import { UserGroupIndex } from './user-groups.ts'

export { GroupSummary } from './group-summary.ts'

/** Kind of change in a group's summary, which server-sent events forward. */
export type SummaryChange = 'receipts' | 'members' | 'messages'

type ChangeListener = (groupId: string, change: SummaryChange) => void

/**
 * Keeps the summaries of loaded groups in memory and in the summary store. Every change method
 * updates memory at once, so a query right after reads the new state, and returns the promise of
 * its write.
 */
export class SummaryService {
  readonly #store: SummaryStore
  readonly #logger: Logger
  readonly #metrics: ServerMetrics
  readonly #groups = new Map<string, Promise<GroupSummary | undefined>>()
  /** The summaries of #groups that have finished loading. */
  readonly #loaded = new Map<string, GroupSummary>()
  readonly #listeners = new Set<ChangeListener>()
  readonly #userGroups: UserGroupIndex

  readonly #idleMs: number
  readonly #sweeper: NodeJS.Timeout

  constructor(store: SummaryStore, logger: Logger, metrics: ServerMetrics, idleMs: number) {
    this.#store = store
    this.#logger = logger
    this.#metrics = metrics
    this.#idleMs = idleMs
    this.#userGroups = new UserGroupIndex(store)
    this.#sweeper = setInterval(() => this.dropIdle(), Math.min(idleMs, 60_000))
    this.#sweeper.unref()
  }

  /** Stops the timer that drops idle summaries. */
  close(): void {
    clearInterval(this.#sweeper)
  }

  /** Marks a summary as used by a loaded document or an event stream until release(). */
  hold(summary: GroupSummary): void {
    summary.holds += 1
  }

  release(summary: GroupSummary): void {
    summary.holds -= 1
    summary.lastUsedAt = Date.now()
  }

  /**
   * Drops from memory the summaries that nothing holds, that have no write in progress and that
   * no caller requested within the idle time; the next get() reads them back from LevelDB.
   */
  dropIdle(now = Date.now()): void {
    for (const [groupId, summary] of this.#loaded) {
      if (summary.holds > 0 || summary.pendingWrites > 0) continue
      if (now - summary.lastUsedAt < this.#idleMs) continue

      this.#loaded.delete(groupId)
      this.#groups.delete(groupId)
      this.#logger.debug({ group: groupId }, 'summary dropped from memory')
    }
    this.#metrics.loadedSummaries.set(this.#loaded.size)
  }

  get store(): SummaryStore {
    return this.#store
  }

  /** Returns a group's summary, loading it from the store once, or undefined when it does not exist. */
  get(groupId: string): Promise<GroupSummary | undefined> {
    const loaded = this.#loaded.get(groupId)
    if (loaded !== undefined) loaded.lastUsedAt = Date.now()
    let loading = this.#groups.get(groupId)
    if (loading === undefined) {
      loading = this.#store.loadGroup(groupId).then((stored) => {
        if (stored === undefined) {
          this.#groups.delete(groupId)
          return undefined
        }
        this.#logger.debug({ group: groupId, members: stored.members.size }, 'summary loaded')
        const summary = new GroupSummary(stored)
        this.#loaded.set(groupId, summary)
        this.#metrics.loadedSummaries.set(this.#loaded.size)
        return summary
      })
      loading.catch(() => this.#groups.delete(groupId))
      this.#groups.set(groupId, loading)
    }
    return loading
  }

  /** Returns a group's summary if it has been loaded, without waiting, for hot loops over many groups. */
  peek(groupId: string): GroupSummary | undefined {
    const loaded = this.#loaded.get(groupId)
    if (loaded !== undefined) loaded.lastUsedAt = Date.now()
    return loaded
  }

  /** Returns the ids of the groups a user is a member of now, sorted, without loading them. */
  userGroups(userId: string): Promise<string[]> {
    return this.#userGroups.list(userId)
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
    const summary = new GroupSummary(stored)
    this.#groups.set(group.id, Promise.resolve(summary))
    this.#loaded.set(group.id, summary)

    const operations: SummaryOperation[] = [
      { type: 'put', key: summaryKeys.group(group.id), value: group },
    ]
    for (const [userId, record] of members) {
      operations.push({ type: 'put', key: summaryKeys.member(group.id, userId), value: record })
      operations.push({ type: 'put', key: summaryKeys.userGroup(userId, group.id), value: 1 })
      this.#userGroups.recordChange(userId, group.id, true)
    }
    const written = this.#write(group.id, 'members', operations)
    this.#userGroups.trackWrite(written)
    return written
  }

  /**
   * Raises watermarks to the given values where they are higher, logging each advance at server
   * time `at` and clearing the "marked unread" flag. Returns the promise of the write.
   */
  advance(summary: GroupSummary, values: Map<string, number>, at: number): Promise<void> {
    const operations: SummaryOperation[] = []
    for (const [userId, seq] of values) {
      const previous = summary.watermarks.get(userId) ?? 0
      if (seq <= previous) continue

      summary.watermarks.set(userId, seq)
      summary.recordAdvance(userId, previous, seq)
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
    return this.#write(summary.id, 'receipts', operations)
  }

  /** Stores a member record. `current` is true while the user is a member. */
  setMember(
    summary: GroupSummary,
    userId: string,
    record: MemberRecord,
    current: boolean,
  ): Promise<void> {
    summary.members.set(userId, record)
    summary.invalidateMembers()

    const operations: SummaryOperation[] = [
      { type: 'put', key: summaryKeys.member(summary.id, userId), value: record },
      current
        ? { type: 'put', key: summaryKeys.userGroup(userId, summary.id), value: 1 }
        : { type: 'del', key: summaryKeys.userGroup(userId, summary.id) },
    ]
    if (!current && summary.markedUnread.delete(userId)) {
      operations.push({ type: 'del', key: summaryKeys.markedUnread(summary.id, userId) })
    }
    this.#userGroups.recordChange(userId, summary.id, current)
    const written = this.#write(summary.id, 'members', operations)
    this.#userGroups.trackWrite(written)
    return written
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
    // The count index does not depend on head, so a new message leaves it valid.
    summary.group = { ...summary.group, head: Math.max(summary.group.head, message.seq) }

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

  /**
   * Forgets the oldest messages of the log, for retention: messages must be every logged message
   * up to the highest seq among them. From then on they count like deleted ones, their
   * clientMessageIds may be used again, and the advances that only they needed are dropped.
   */
  forgetMessages(
    summary: GroupSummary,
    messages: MessageRecord[],
    clientMessageIds: string[],
  ): Promise<void> {
    if (messages.length === 0) return Promise.resolve()

    const operations: SummaryOperation[] = []
    let expiredThrough = summary.group.expiredThrough ?? 0
    for (const message of messages) {
      const facts = summary.messages.get(message.seq)
      if (facts !== undefined && facts.deleted !== true) {
        markDeletedInIndex(summary.messageIndex, facts)
      }
      summary.messages.delete(message.seq)
      expiredThrough = Math.max(expiredThrough, message.seq)
      operations.push({ type: 'del', key: summaryKeys.message(summary.id, message.seq) })
    }
    for (const clientMessageId of clientMessageIds) {
      operations.push({
        type: 'del',
        key: summaryKeys.clientMessageId(summary.id, clientMessageId),
      })
    }

    // A read time is the first advance at or above a seq, so advances up to expiredThrough can only
    // be read times of messages that are gone.
    for (const [userId, advances] of summary.advances) {
      let obsolete = 0
      while (obsolete < advances.length && (advances[obsolete] as Advance).seq <= expiredThrough) {
        obsolete += 1
      }
      for (const advance of advances.splice(0, obsolete)) {
        operations.push({ type: 'del', key: summaryKeys.advance(summary.id, userId, advance.seq) })
      }
    }

    summary.group = { ...summary.group, expiredThrough }
    operations.push({ type: 'put', key: summaryKeys.group(summary.id), value: summary.group })
    return this.#write(summary.id, 'messages', operations)
  }

  async #write(
    groupId: string,
    change: SummaryChange,
    operations: SummaryOperation[],
  ): Promise<void> {
    for (const listener of this.#listeners) listener(groupId, change)
    const summary = this.#loaded.get(groupId)
    if (summary !== undefined) summary.pendingWrites += 1
    try {
      await this.#store.write(operations)
    } catch (error) {
      this.#metrics.storeFailures.inc({ store: 'summaries' })
      this.#logger.error({ err: error, group: groupId, change }, 'summary write failed')
      throw error
    } finally {
      if (summary !== undefined) summary.pendingWrites -= 1
    }
  }
}
