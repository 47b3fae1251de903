import type * as Y from 'yjs'
import { parseReceiptKey, receiptKey } from './ids.ts'
import type { MemberRecord, MessageRecord, Period } from './schemas.ts'

/** Names of the root types of a group document. */
export const ROOT_RECEIPTS = 'receipts'
export const ROOT_MEMBERS = 'members'
export const ROOT_MESSAGES = 'messages'
export const ROOT_META = 'meta'

/** Root types only the server may write. */
export const SERVER_ROOTS: ReadonlySet<string> = new Set([ROOT_MEMBERS, ROOT_MESSAGES, ROOT_META])

/** Keys of the `meta` map. */
export const META_HEAD = 'head'
export const META_SERVER_CLIENT_ID = 'serverClientId'

/** Typed handles on the root types of a group document. */
export interface GroupDoc {
  doc: Y.Doc
  receipts: Y.Map<number>
  members: Y.Map<MemberRecord>
  messages: Y.Array<MessageRecord>
  meta: Y.Map<unknown>
}

/** Returns typed handles on the root types of a group document. */
export function openGroupDoc(doc: Y.Doc): GroupDoc {
  return {
    doc,
    receipts: doc.getMap<number>(ROOT_RECEIPTS),
    members: doc.getMap<MemberRecord>(ROOT_MEMBERS),
    messages: doc.getArray<MessageRecord>(ROOT_MESSAGES),
    meta: doc.getMap<unknown>(ROOT_META),
  }
}

/** Returns the highest accepted seq, 0 for an empty group. */
export function readHead(group: GroupDoc): number {
  const head = group.meta.get(META_HEAD)
  return typeof head === 'number' ? head : 0
}

/**
 * Returns W(u): the maximum over the user's device keys, 0 when it has none. O(keys in the map),
 * so callers that need every user's watermark use readWatermarks.
 */
export function readWatermark(receipts: Y.Map<number>, userId: string): number {
  const prefix = `${userId}/`
  let watermark = 0
  for (const [key, value] of receipts) {
    if (key.startsWith(prefix) && typeof value === 'number' && value > watermark) watermark = value
  }
  return watermark
}

/** Returns W(u) of every user with a receipt, in one pass over the map. O(keys). */
export function readWatermarks(receipts: Y.Map<number>): Map<string, number> {
  const watermarks = new Map<string, number>()
  for (const [key, value] of receipts) {
    const parsed = parseReceiptKey(key)
    if (parsed === null || typeof value !== 'number') continue

    const current = watermarks.get(parsed.userId) ?? 0
    if (value > current) watermarks.set(parsed.userId, value)
  }
  return watermarks
}

/**
 * Writes seq under the device's key unless W(u) already covers it, so a late or duplicate receipt
 * changes nothing and observers see no event. Returns W(u) after the call.
 */
export function writeDeviceReceipt(
  group: GroupDoc,
  userId: string,
  deviceId: string,
  seq: number,
): number {
  const watermark = readWatermark(group.receipts, userId)
  if (seq <= watermark) return watermark

  group.receipts.set(receiptKey(userId, deviceId), seq)
  return seq
}

/** Returns every member record, current and former, keyed by user id. */
export function readMembers(group: GroupDoc): Map<string, MemberRecord> {
  return new Map(group.members.entries())
}

/** Tells whether a member record has an open period, that is, the user is a member now. */
export function isCurrentMember(record: MemberRecord | undefined): boolean {
  if (record === undefined) return false
  const last = record.periods.at(-1)
  return last !== undefined && last.to === undefined
}

/** Tells whether a message with this seq was sent while the periods say the user was a member. */
export function wasMemberAt(periods: readonly Period[], seq: number): boolean {
  return periods.some(
    (period) => period.from < seq && (period.to === undefined || seq <= period.to),
  )
}

/** Returns a record with a new open period from head, keeping earlier periods. */
export function openPeriod(
  record: MemberRecord | undefined,
  head: number,
  role: MemberRecord['role'],
  bot: boolean | undefined,
): MemberRecord {
  const periods = record?.periods ?? []
  const opened: MemberRecord = { role, periods: [...periods, { from: head }] }
  if (bot !== undefined) opened.bot = bot
  return opened
}

/** Returns a record whose open period is closed at head. */
export function closePeriod(record: MemberRecord, head: number): MemberRecord {
  const periods = record.periods.map((period) =>
    period.to === undefined ? { from: period.from, to: head } : period,
  )
  return { ...record, periods }
}
