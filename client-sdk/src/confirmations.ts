import type { GroupReplica } from './replica.ts'

interface ConfirmWaiter {
  /** The clock of each own client id that confirmations must reach. */
  clocks: Map<number, number>
  resolve(): void
  reject(error: unknown): void
}

/**
 * The confirmation state of a session's receipt writes: the count behind the `unconfirmed` event
 * and the pending whenConfirmed promises. Each method takes the session's current replica,
 * because a start-over replaces it.
 */
export class ConfirmationTracker {
  readonly #emitUnconfirmed: (count: number) => void
  #lastUnconfirmed: number
  readonly #confirmWaiters: ConfirmWaiter[] = []

  /** Treats the replica's current count as reported. Each later change goes to emitUnconfirmed. */
  constructor(replica: GroupReplica, emitUnconfirmed: (count: number) => void) {
    this.#lastUnconfirmed = replica.unconfirmed()
    this.#emitUnconfirmed = emitUnconfirmed
  }

  /** Resolves once confirmations cover every write the replica has made so far. */
  whenConfirmed(replica: GroupReplica): Promise<void> {
    const clocks = replica.writtenClocks()
    if (replica.covers(clocks)) return Promise.resolve()
    return new Promise((resolve, reject) => this.#confirmWaiters.push({ clocks, resolve, reject }))
  }

  /** Reports the replica's unconfirmed count when it differs from the one reported last. */
  update(replica: GroupReplica): void {
    const count = replica.unconfirmed()
    if (count === this.#lastUnconfirmed) return
    this.#lastUnconfirmed = count
    this.#emitUnconfirmed(count)
  }

  /** Reports the count after a confirmation and resolves the promises whose clocks it covers. */
  confirmed(replica: GroupReplica): void {
    this.update(replica)
    for (let i = this.#confirmWaiters.length - 1; i >= 0; i -= 1) {
      const waiter = this.#confirmWaiters[i] as ConfirmWaiter
      if (!replica.covers(waiter.clocks)) continue
      this.#confirmWaiters.splice(i, 1)
      waiter.resolve()
    }
  }

  /** Rejects every pending whenConfirmed promise, on a start-over or when the session closes. */
  rejectWaiters(error: unknown): void {
    for (const waiter of this.#confirmWaiters.splice(0)) waiter.reject(error)
  }
}
