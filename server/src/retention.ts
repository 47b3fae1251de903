import type { Logger } from 'pino'
import type { GroupService } from './groups.ts'
import type { SummaryStore } from './storage/summary-store.ts'

const DAY_MS = 86_400_000

export interface RetentionOptions {
  groups: GroupService
  store: SummaryStore
  logger: Logger
  /** Messages older than this many days are removed. */
  retentionDays: number
  /** Interval between two sweeps, in ms. */
  intervalMs: number
}

/**
 * Removes messages older than retentionDays from every group at a fixed interval. A group with
 * nothing to remove costs one short read of its log and is not loaded.
 */
export class RetentionSweeper {
  readonly #options: RetentionOptions
  #timer: NodeJS.Timeout | null = null
  #sweeping: Promise<number> | null = null
  #stopped = false

  constructor(options: RetentionOptions) {
    this.#options = options
  }

  /** Starts sweeping: once right away, then every intervalMs. */
  start(): void {
    if (this.#timer !== null) return
    this.#stopped = false
    this.#timer = setInterval(() => void this.#sweepInBackground(), this.#options.intervalMs)
    this.#timer.unref()
    void this.#sweepInBackground()
  }

  /** Stops the timer. A sweep in progress ends after its current group, and the promise resolves then. */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.#sweeping
  }

  /** Removes expired messages from every group and returns how many were removed. */
  async sweep(now = Date.now()): Promise<number> {
    const { groups, store, retentionDays } = this.#options
    const before = now - retentionDays * DAY_MS
    let removed = 0
    for (const groupId of await store.listGroups()) {
      if (this.#stopped) break
      const expired = await store.listMessagesBefore(groupId, before, 1)
      if (expired.length === 0) continue

      removed += await groups.expireMessages(groupId, before)
    }
    return removed
  }

  #sweepInBackground(): Promise<number> {
    if (this.#sweeping !== null) return this.#sweeping

    const { logger } = this.#options
    this.#sweeping = this.sweep()
      .then(
        (removed) => {
          if (removed > 0) logger.info({ removed }, 'retention sweep finished')
          return removed
        },
        (error: unknown) => {
          logger.error({ err: error }, 'retention sweep failed; the next sweep tries again')
          return 0
        },
      )
      .finally(() => {
        this.#sweeping = null
      })
    return this.#sweeping
  }
}
