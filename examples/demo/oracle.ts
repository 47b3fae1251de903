/**
 * The counts the server must report after a replay, computed from the replayed events alone with
 * plain loops over the count semantics:
 *
 * - Every member joined at head 0 and stayed, so each message's audience is every member except
 *   its sender and the bots.
 * - W(u) is the highest seq u marked read or sent; sending counts as reading.
 * - readCount(m) = audience members with W ≥ m.seq; unreadCount(m) = audience − readCount.
 * - unread(u) = messages with seq > W(u) that u did not send.
 *
 * It shares no code with the server's count index, so a bug there shows as a mismatch.
 */
// TODO(demo): replay joins, leaves and deletions too; the oracle covers only a fixed membership.

export class ReceiptOracle {
  readonly #bots = new Set<string>()
  readonly #members: string[] = []
  readonly #watermarks = new Map<string, number>()
  /** Sender of each seq. */
  readonly #senders = new Map<number, string>()

  constructor(members: ReadonlyArray<{ userId: string; bot: boolean }>) {
    for (const member of members) {
      this.#members.push(member.userId)
      this.#watermarks.set(member.userId, 0)
      if (member.bot) this.#bots.add(member.userId)
    }
  }

  /** Records a message the server accepted with this seq. */
  recordPost(seq: number, sender: string): void {
    this.#senders.set(seq, sender)
    this.recordRead(sender, seq)
  }

  /** Records that a member marked everything up to seq read. */
  recordRead(userId: string, seq: number): void {
    const watermark = this.#watermarks.get(userId)
    if (watermark === undefined) throw new Error(`user "${userId}" is not a replayed member`)
    if (seq > watermark) this.#watermarks.set(userId, seq)
  }

  watermark(userId: string): number {
    return this.#watermarks.get(userId) ?? 0
  }

  /** Seqs of every recorded message, ascending. */
  seqs(): number[] {
    return [...this.#senders.keys()].sort((a, b) => a - b)
  }

  /** Expected readCount and unreadCount of one message; undefined for an unknown seq. */
  countsOf(seq: number): { readCount: number; unreadCount: number } | undefined {
    const sender = this.#senders.get(seq)
    if (sender === undefined) return undefined

    let readCount = 0
    let unreadCount = 0
    for (const userId of this.#members) {
      if (userId === sender || this.#bots.has(userId)) continue
      if (this.watermark(userId) >= seq) readCount += 1
      else unreadCount += 1
    }
    return { readCount, unreadCount }
  }

  /** Expected unread count of a member. */
  unreadOf(userId: string): number {
    const watermark = this.watermark(userId)
    let unread = 0
    for (const [seq, sender] of this.#senders) {
      if (seq > watermark && sender !== userId) unread += 1
    }
    return unread
  }
}
