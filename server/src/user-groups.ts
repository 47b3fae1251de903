import { countBelow } from '@readmark/shared'
import type { SummaryStore } from './storage/summary-store.ts'

/** Users whose group lists stay in memory. The least recently used one is evicted first. */
const MAX_CACHED_USERS = 10_000

/**
 * The groups each user is a member of now, which the unread totals walk on every request. A
 * user's list is read from the summary store on first use, then kept in memory and changed along
 * with every membership write.
 */
export class UserGroupIndex {
  readonly #store: SummaryStore
  /** Sorted group ids per user, in least recently used order. */
  readonly #groups = new Map<string, string[]>()
  /** Membership changes recorded so far. A load that overlaps one is not cached. */
  #changes = 0
  readonly #pendingWrites = new Set<Promise<void>>()

  constructor(store: SummaryStore) {
    this.#store = store
  }

  /** Returns the ids of the user's current groups, sorted. */
  async list(userId: string): Promise<string[]> {
    const cached = this.#groups.get(userId)
    if (cached !== undefined) {
      this.#groups.delete(userId)
      this.#groups.set(userId, cached)
      return [...cached]
    }

    const changesBefore = this.#changes
    // The store must hold every membership change recorded so far, or the load could miss one.
    await Promise.allSettled(this.#pendingWrites)
    const groups = await this.#store.listUserGroups(userId)
    if (this.#changes === changesBefore) {
      this.#groups.set(userId, groups)
      if (this.#groups.size > MAX_CACHED_USERS) {
        const oldest = this.#groups.keys().next().value as string
        this.#groups.delete(oldest)
      }
    }
    return [...groups]
  }

  /** Records that a user joined or left a group, before the write that stores it. */
  recordChange(userId: string, groupId: string, member: boolean): void {
    this.#changes += 1
    const groups = this.#groups.get(userId)
    if (groups === undefined) return

    const at = countBelow(groups, groupId)
    if (member && groups[at] !== groupId) groups.splice(at, 0, groupId)
    if (!member && groups[at] === groupId) groups.splice(at, 1)
  }

  /** Tracks the write of recorded changes until it settles. */
  trackWrite(write: Promise<void>): void {
    const settled = write.catch(() => undefined)
    this.#pendingWrites.add(settled)
    void settled.then(() => this.#pendingWrites.delete(settled))
  }
}
