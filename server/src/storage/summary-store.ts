import type { Advance, MemberRecord, MessageRecord } from '@readmark/shared'
import { Level } from 'level'

/**
 * The derived summaries in their own LevelDB, beside y-leveldb's store. REST queries read them
 * without loading a group's Yjs document, and a restart reads them back instead of recomputing.
 *
 * Keys are strings joined with `!`, which no id may contain; seqs are zero-padded so that key
 * order is seq order:
 *   group!<gid>                   GroupRecord
 *   member!<gid>!<uid>            MemberRecord (current and former members)
 *   wm!<gid>!<uid>                W(u)
 *   adv!<gid>!<uid>!<seq>         server time of the advance to seq
 *   msg!<gid>!<seq>               MessageRecord (the message log)
 *   cmid!<gid>!<clientMessageId>  seq
 *   user!<uid>!<gid>              1 while uid is a member of gid
 *   flag!<gid>!<uid>              1 while the group is marked unread for uid
 */

/** Facts of a group that are not members, receipts or messages. */
export interface GroupRecord {
  id: string
  head: number
  createdAt: number
  /** Yjs client id the server writes this group's document with, kept so restarts add no new id. */
  serverClientId: number
  /** Highest seq that retention has removed. Every message up to it is gone from the log. */
  expiredThrough?: number
}

/** Everything persisted about one group, as loadGroup reads it. */
export interface StoredGroup {
  group: GroupRecord
  members: Map<string, MemberRecord>
  watermarks: Map<string, number>
  advances: Map<string, Advance[]>
  messages: MessageRecord[]
  markedUnread: Set<string>
}

export type SummaryOperation =
  | { type: 'put'; key: string; value: unknown }
  | { type: 'del'; key: string }

const SEQ_DIGITS = 16

export function padSeq(seq: number): string {
  return String(seq).padStart(SEQ_DIGITS, '0')
}

export const summaryKeys = {
  group: (gid: string) => `group!${gid}`,
  member: (gid: string, uid: string) => `member!${gid}!${uid}`,
  watermark: (gid: string, uid: string) => `wm!${gid}!${uid}`,
  advance: (gid: string, uid: string, seq: number) => `adv!${gid}!${uid}!${padSeq(seq)}`,
  message: (gid: string, seq: number) => `msg!${gid}!${padSeq(seq)}`,
  clientMessageId: (gid: string, clientMessageId: string) => `cmid!${gid}!${clientMessageId}`,
  userGroup: (uid: string, gid: string) => `user!${uid}!${gid}`,
  markedUnread: (gid: string, uid: string) => `flag!${gid}!${uid}`,
}

/** Range bounds of every key starting with prefix. `~` sorts after every id character. */
function prefixRange(prefix: string): { gte: string; lt: string } {
  return { gte: prefix, lt: `${prefix}~` }
}

function lastPart(key: string): string {
  return key.slice(key.lastIndexOf('!') + 1)
}

/** Typed access to the summary LevelDB. */
export class SummaryStore {
  readonly #db: Level<string, unknown>

  constructor(location: string) {
    this.#db = new Level<string, unknown>(location, { valueEncoding: 'json' })
  }

  open(): Promise<void> {
    return this.#db.open()
  }

  close(): Promise<void> {
    return this.#db.close()
  }

  /** Writes operations atomically. */
  write(operations: SummaryOperation[]): Promise<void> {
    if (operations.length === 0) return Promise.resolve()
    return this.#db.batch(operations)
  }

  async getGroup(gid: string): Promise<GroupRecord | undefined> {
    return (await this.#get(summaryKeys.group(gid))) as GroupRecord | undefined
  }

  async getMessage(gid: string, seq: number): Promise<MessageRecord | undefined> {
    return (await this.#get(summaryKeys.message(gid, seq))) as MessageRecord | undefined
  }

  async getSeqOfClientMessageId(gid: string, clientMessageId: string): Promise<number | undefined> {
    return (await this.#get(summaryKeys.clientMessageId(gid, clientMessageId))) as
      | number
      | undefined
  }

  /** Lists messages with seq > after in seq order, at most limit of them. */
  async listMessages(gid: string, after: number, limit: number): Promise<MessageRecord[]> {
    const messages: MessageRecord[] = []
    const range = { gt: summaryKeys.message(gid, after), lt: `msg!${gid}!~`, limit }
    for await (const value of this.#db.values(range)) messages.push(value as MessageRecord)
    return messages
  }

  /** Lists messages sent before a time, oldest first, at most limit; for retention. */
  async listMessagesBefore(gid: string, before: number, limit: number): Promise<MessageRecord[]> {
    const messages: MessageRecord[] = []
    for await (const value of this.#db.values(prefixRange(`msg!${gid}!`))) {
      const message = value as MessageRecord
      if (message.at >= before || messages.length >= limit) break
      messages.push(message)
    }
    return messages
  }

  /** Lists the ids of the groups the user is a member of now, in id order. */
  async listUserGroups(uid: string): Promise<string[]> {
    const keys = await this.#db.keys(prefixRange(`user!${uid}!`)).all()
    return keys.map(lastPart)
  }

  /** Lists every group id; for retention sweeps. */
  async listGroups(): Promise<string[]> {
    const groups: string[] = []
    for await (const key of this.#db.keys(prefixRange('group!'))) groups.push(lastPart(key))
    return groups
  }

  /** Reads everything persisted about a group, or undefined when it does not exist. */
  async loadGroup(gid: string): Promise<StoredGroup | undefined> {
    const group = await this.getGroup(gid)
    if (group === undefined) return undefined

    const members = new Map<string, MemberRecord>()
    for await (const [key, value] of this.#db.iterator(prefixRange(`member!${gid}!`))) {
      members.set(lastPart(key), value as MemberRecord)
    }

    const watermarks = new Map<string, number>()
    for await (const [key, value] of this.#db.iterator(prefixRange(`wm!${gid}!`))) {
      watermarks.set(lastPart(key), value as number)
    }

    const advances = new Map<string, Advance[]>()
    for await (const [key, value] of this.#db.iterator(prefixRange(`adv!${gid}!`))) {
      const parts = key.split('!')
      const uid = parts[2] as string
      let list = advances.get(uid)
      if (list === undefined) {
        list = []
        advances.set(uid, list)
      }
      list.push({ seq: Number(parts[3]), at: value as number })
    }

    const messages: MessageRecord[] = []
    for await (const value of this.#db.values(prefixRange(`msg!${gid}!`))) {
      messages.push(value as MessageRecord)
    }

    const markedUnread = new Set<string>()
    for await (const key of this.#db.keys(prefixRange(`flag!${gid}!`)))
      markedUnread.add(lastPart(key))

    return { group, members, watermarks, advances, messages, markedUnread }
  }

  async #get(key: string): Promise<unknown> {
    try {
      return await this.#db.get(key)
    } catch (error) {
      if ((error as { code?: string }).code === 'LEVEL_NOT_FOUND') return undefined
      throw error
    }
  }
}
