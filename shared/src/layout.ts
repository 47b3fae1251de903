import * as Y from 'yjs'
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
 * Returns W(u): the maximum over the user's device keys, 0 when it has none. Pending values of
 * the replica count too (see readPendingReceipts). O(keys in the map), so callers that need
 * every user's watermark use readWatermarks.
 */
export function readWatermark(receipts: Y.Map<number>, userId: string): number {
  const prefix = `${userId}/`
  let watermark = 0
  for (const [key, value] of [...receipts.entries(), ...readPendingReceipts(receipts)]) {
    if (key.startsWith(prefix) && typeof value === 'number' && value > watermark) watermark = value
  }
  return watermark
}

/** Returns W(u) of every user with a receipt, in one pass over the map. O(keys). */
export function readWatermarks(receipts: Y.Map<number>): Map<string, number> {
  const watermarks = new Map<string, number>()
  for (const [key, value] of [...receipts.entries(), ...readPendingReceipts(receipts)]) {
    const parsed = parseReceiptKey(key)
    if (parsed === null || typeof value !== 'number') continue

    const current = watermarks.get(parsed.userId) ?? 0
    if (value > current) watermarks.set(parsed.userId, value)
  }
  return watermarks
}

/**
 * Returns the receipt values that a replica has received but Yjs keeps pending, as [key, value]
 * pairs.
 *
 * Yjs applies the deletions of an update at once but keeps its items pending until the updates
 * they build on have arrived. A replica that gets the overwrite of a receipt before an earlier
 * update of the same Yjs client has therefore lost the old value without showing the new one.
 * The server accepted the new value only because it is at least as high, so counting the pending
 * values keeps W(u) from dropping meanwhile. Returns nothing when no struct is pending, which is
 * always the case on the server because it rejects updates with gaps. O(P²) in the worst case for
 * P pending items.
 */
function readPendingReceipts(receipts: Y.Map<number>): Array<[string, number]> {
  const root: unknown = receipts
  const doc = receipts.doc
  const pending = doc?.store.pendingStructs
  if (doc === null || doc === undefined || pending === null || pending === undefined) return []

  const itemsByClient = new Map<number, Y.Item[]>()
  let itemCount = 0
  for (const struct of Y.decodeUpdateV2(pending.update).structs) {
    if (!(struct instanceof Y.Item)) continue
    itemCount += 1
    const items = itemsByClient.get(struct.id.client) ?? []
    items.push(struct)
    itemsByClient.set(struct.id.client, items)
  }

  // A decoded item names its root and key only when it has no neighbour. Otherwise they come from
  // its origin, which is pending too or already in the document.
  const findPending = (id: Y.ID): Y.Item | undefined =>
    itemsByClient
      .get(id.client)
      ?.find((item) => item.id.clock <= id.clock && id.clock < item.id.clock + item.length)
  const keyOf = (item: Y.Item): string | null => {
    let current = item
    for (let steps = 0; steps <= itemCount; steps++) {
      if (typeof current.parent === 'string') {
        return doc.share.get(current.parent) === root ? current.parentSub : null
      }
      const reference = current.origin ?? current.rightOrigin
      if (current.parent !== null || reference === null) return null

      const next = findPending(reference)
      if (next === undefined) {
        if (reference.clock >= Y.getState(doc.store, reference.client)) return null
        const stored = Y.getItem(doc.store, reference)
        return stored instanceof Y.Item && stored.parent === root ? stored.parentSub : null
      }
      current = next
    }
    return null
  }

  const values: Array<[string, number]> = []
  for (const items of itemsByClient.values()) {
    for (const item of items) {
      const value = item.content instanceof Y.ContentAny ? item.content.arr.at(-1) : undefined
      if (typeof value !== 'number') continue

      const key = keyOf(item)
      if (key !== null) values.push([key, value])
    }
  }
  return values
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

/** Tells whether a message with this seq was sent during one of the user's membership periods. */
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
