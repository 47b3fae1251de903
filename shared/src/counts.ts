import { isCurrentMember, wasMemberAt } from './layout.ts'
import type { MemberRecord } from './schemas.ts'

/**
 * Pure count math of the read-receipt semantics. Every function takes the state it needs and
 * changes nothing, so the client runs it on its replica and the server on its summaries.
 *
 * Index idea: for one membership period (from, to] and a watermark W, the user is in the audience
 * of seq s when s lies in (from, to], and has read s when s lies in (from, min(to, W)]. Counting
 * the intervals that contain s is #(starts < s) − #(ends < s) on two sorted arrays, so after
 * sorting every count is two binary searches.
 */

/** The facts about one message that counts need. */
export interface MessageFacts {
  seq: number
  sender: string
  deleted?: boolean | undefined
}

/** Everything counts are computed from. */
export interface GroupState {
  /** Highest accepted seq. */
  head: number
  /** Every user who ever was a member, with periods; former members keep their record. */
  members: ReadonlyMap<string, MemberRecord>
  /** W(u) per user; a missing user has W = 0. */
  watermarks: ReadonlyMap<string, number>
}

/** Sorted interval bounds for counting, built by buildCountIndex. */
export interface CountIndex {
  state: GroupState
  /** Periods of non-bot users clipped at W: the "has read" intervals. */
  readStarts: number[]
  readEnds: number[]
  /** Periods of non-bot current members: the "is in the audience" intervals. */
  currentStarts: number[]
  currentEnds: number[]
  /** Periods of non-bot current members clipped at W. */
  currentReadStarts: number[]
  currentReadEnds: number[]
}

/** Read and unread counts of one message. */
export interface MessageCounts {
  readCount: number
  unreadCount: number
}

const ascending = (a: number, b: number): number => a - b

/** Returns how many values of a sorted array of numbers or ids are below value. O(log n). */
export function countBelow<T extends number | string>(sorted: readonly T[], value: T): number {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if ((sorted[middle] as T) < value) low = middle + 1
    else high = middle
  }
  return low
}

function countContaining(starts: readonly number[], ends: readonly number[], seq: number): number {
  return countBelow(starts, seq) - countBelow(ends, seq)
}

/** Returns W(u) from a state, 0 when the user has none. */
export function watermarkOf(state: GroupState, userId: string): number {
  return state.watermarks.get(userId) ?? 0
}

/**
 * Builds the sorted interval arrays for a group. O(P log P) for P membership periods, which is
 * O(members log members) when users rarely leave and come back.
 */
export function buildCountIndex(state: GroupState): CountIndex {
  const index: CountIndex = {
    state,
    readStarts: [],
    readEnds: [],
    currentStarts: [],
    currentEnds: [],
    currentReadStarts: [],
    currentReadEnds: [],
  }

  for (const [userId, record] of state.members) {
    if (record.bot === true) continue

    const watermark = watermarkOf(state, userId)
    const current = isCurrentMember(record)
    for (const period of record.periods) {
      const readEnd = period.to === undefined ? watermark : Math.min(period.to, watermark)
      if (readEnd > period.from) {
        index.readStarts.push(period.from)
        index.readEnds.push(readEnd)
        if (current) {
          index.currentReadStarts.push(period.from)
          index.currentReadEnds.push(readEnd)
        }
      }
      if (current) {
        index.currentStarts.push(period.from)
        if (period.to !== undefined) index.currentEnds.push(period.to)
      }
    }
  }

  for (const values of [
    index.readStarts,
    index.readEnds,
    index.currentStarts,
    index.currentEnds,
    index.currentReadStarts,
    index.currentReadEnds,
  ]) {
    values.sort(ascending)
  }
  return index
}

/**
 * Moves one user's watermark from previous to next in a built index, in place, for an index whose
 * state.watermarks already contains next. Equal to a rebuild but O(periods · n) in array moves
 * instead of O(P log P) work, which for thousands of members is microseconds instead of
 * milliseconds.
 */
export function advanceInCountIndex(
  index: CountIndex,
  userId: string,
  previous: number,
  next: number,
): void {
  const record = index.state.members.get(userId)
  if (record === undefined || record.bot === true) return

  const current = isCurrentMember(record)
  for (const period of record.periods) {
    const oldEnd = period.to === undefined ? previous : Math.min(period.to, previous)
    const newEnd = period.to === undefined ? next : Math.min(period.to, next)
    if (oldEnd === newEnd) continue

    if (oldEnd > period.from) {
      removeValue(index.readStarts, period.from)
      removeValue(index.readEnds, oldEnd)
      if (current) {
        removeValue(index.currentReadStarts, period.from)
        removeValue(index.currentReadEnds, oldEnd)
      }
    }
    if (newEnd > period.from) {
      insertValue(index.readStarts, period.from)
      insertValue(index.readEnds, newEnd)
      if (current) {
        insertValue(index.currentReadStarts, period.from)
        insertValue(index.currentReadEnds, newEnd)
      }
    }
  }
}

/** Inserts into a sorted array that may hold duplicates. */
function insertValue(values: number[], value: number): void {
  values.splice(countBelow(values, value), 0, value)
}

/** Removes one occurrence of a value from a sorted array; the value must be present. */
function removeValue(values: number[], value: number): void {
  const at = countBelow(values, value)
  if (values[at] !== value)
    throw new Error(`count index lacks ${value}; it was built from another state`)
  values.splice(at, 1)
}

/** Tells whether the user belongs to the audience of a message and whether it has read it. O(periods). */
function audienceStatus(
  state: GroupState,
  userId: string,
  seq: number,
): 'read' | 'unread' | 'outside' {
  const record = state.members.get(userId)
  if (record === undefined || record.bot === true || !wasMemberAt(record.periods, seq)) {
    return 'outside'
  }
  if (watermarkOf(state, userId) >= seq) return 'read'
  return isCurrentMember(record) ? 'unread' : 'outside'
}

/**
 * Returns readCount and unreadCount of a message. The audience is every non-bot user who was a
 * member when it was sent, except its sender. A former member stays in it only if it has read
 * the message. A deleted message has no receipts: 0 and 0. O(log P) plus the sender's periods.
 */
export function countMessage(index: CountIndex, message: MessageFacts): MessageCounts {
  if (message.deleted === true) return { readCount: 0, unreadCount: 0 }

  const seq = message.seq
  let readCount = countContaining(index.readStarts, index.readEnds, seq)
  let unreadCount =
    countContaining(index.currentStarts, index.currentEnds, seq) -
    countContaining(index.currentReadStarts, index.currentReadEnds, seq)

  const senderStatus = audienceStatus(index.state, message.sender, seq)
  if (senderStatus === 'read') readCount -= 1
  if (senderStatus === 'unread') unreadCount -= 1
  return { readCount, unreadCount }
}

/**
 * Returns the readers of a message, sorted by user id, each with the time it read the message
 * (see readTimeOf) or null when no advance log covers it. O(members · log advances).
 */
export function listReaders(
  state: GroupState,
  message: MessageFacts,
  advances: ReadonlyMap<string, readonly Advance[]>,
): Array<{ userId: string; readAt: number | null }> {
  if (message.deleted === true) return []

  const readers: Array<{ userId: string; readAt: number | null }> = []
  for (const userId of state.members.keys()) {
    if (userId === message.sender) continue
    if (audienceStatus(state, userId, message.seq) !== 'read') continue
    readers.push({ userId, readAt: readTimeOf(advances.get(userId) ?? [], message.seq) })
  }
  return readers.sort((a, b) => compareIds(a.userId, b.userId))
}

/** Orders ids by UTF-16 code units, as Array.prototype.sort does by default. */
function compareIds(a: string, b: string): number {
  if (a < b) return -1
  if (a > b) return 1
  return 0
}

/** Returns the members who have not read a message, sorted by user id. O(members). */
export function listUnread(state: GroupState, message: MessageFacts): string[] {
  if (message.deleted === true) return []

  const unread: string[] = []
  for (const userId of state.members.keys()) {
    if (userId === message.sender) continue
    if (audienceStatus(state, userId, message.seq) === 'unread') unread.push(userId)
  }
  return unread.sort()
}

/** One forward move of a user's watermark, at server time `at` in ms since the epoch. */
export interface Advance {
  seq: number
  at: number
}

/**
 * Returns the time of the first advance that covered seq, or null when none did. The advances of
 * one user are sorted by seq because a watermark only moves forward. O(log advances).
 */
export function readTimeOf(advances: readonly Advance[], seq: number): number | null {
  let low = 0
  let high = advances.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if ((advances[middle] as Advance).seq < seq) low = middle + 1
    else high = middle
  }
  return low < advances.length ? (advances[low] as Advance).at : null
}

/**
 * Seqs that unread counts must skip: deleted messages, and each sender's own messages. Both lists
 * are sorted ascending. Seqs absent from both count as visible messages from someone else.
 */
export interface MessageIndex {
  deleted: number[]
  bySender: Map<string, number[]>
}

/** Builds a MessageIndex from message facts in any order. O(M log M). */
export function buildMessageIndex(messages: Iterable<MessageFacts>): MessageIndex {
  const index: MessageIndex = { deleted: [], bySender: new Map() }
  for (const message of messages) addMessageToIndex(index, message)
  index.deleted.sort(ascending)
  for (const seqs of index.bySender.values()) seqs.sort(ascending)
  return index
}

/**
 * Adds one message to an index. O(1) when seqs arrive in increasing order, as new messages do;
 * otherwise O(M) for the insert.
 */
export function addMessageToIndex(index: MessageIndex, message: MessageFacts): void {
  if (message.deleted === true) {
    insertSorted(index.deleted, message.seq)
    return
  }
  let seqs = index.bySender.get(message.sender)
  if (seqs === undefined) {
    seqs = []
    index.bySender.set(message.sender, seqs)
  }
  insertSorted(seqs, message.seq)
}

/** Marks an indexed message deleted. O(M) in the worst case for the array moves. */
export function markDeletedInIndex(index: MessageIndex, message: MessageFacts): void {
  const seqs = index.bySender.get(message.sender)
  if (seqs !== undefined) {
    const at = countBelow(seqs, message.seq)
    if (seqs[at] === message.seq) seqs.splice(at, 1)
  }
  insertSorted(index.deleted, message.seq)
}

function insertSorted(values: number[], value: number): void {
  const at = countBelow(values, value)
  if (values[at] === value) return
  values.splice(at, 0, value)
}

function countInRange(sorted: readonly number[], low: number, high: number): number {
  return countBelow(sorted, high + 1) - countBelow(sorted, low + 1)
}

/**
 * Returns unread(u): messages with seq > W(u), up to head, not deleted, not sent by u, and sent
 * while u was a member. Returns undefined for a user who is not a member now, because a former
 * member has no unread count in the group. Never negative. O(periods · log M).
 */
export function countUnread(
  state: GroupState,
  messages: MessageIndex,
  userId: string,
): number | undefined {
  const record = state.members.get(userId)
  if (!isCurrentMember(record) || record === undefined) return undefined

  const watermark = watermarkOf(state, userId)
  const ownSeqs = messages.bySender.get(userId) ?? []
  let unread = 0
  for (const period of record.periods) {
    const low = Math.max(period.from, watermark)
    const high = Math.min(period.to ?? state.head, state.head)
    if (high <= low) continue

    const visible =
      high - low - countInRange(messages.deleted, low, high) - countInRange(ownSeqs, low, high)
    unread += Math.max(0, visible)
  }
  return unread
}

/**
 * Returns the share of audience slots that are read, over the given messages: Σ readCount /
 * Σ (readCount + unreadCount). Returns null when the messages have no audience at all, so "no
 * data" stays apart from "nobody read". O(messages · log P).
 */
export function readRate(index: CountIndex, messages: Iterable<MessageFacts>): number | null {
  let read = 0
  let audience = 0
  for (const message of messages) {
    const counts = countMessage(index, message)
    read += counts.readCount
    audience += counts.readCount + counts.unreadCount
  }
  return audience === 0 ? null : read / audience
}
