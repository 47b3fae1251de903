import { type CountsEvent, countMessage, countUnread, isCurrentMember } from '@readmark/shared'
import type { SSEStreamingApi } from 'hono/streaming'
import type { Logger } from 'pino'
import type { Caller } from '../auth.ts'
import type { GroupSummary, SummaryChange, SummaryService } from '../summaries.ts'

/** Messages whose counts each event carries, the most recent ones. */
const EVENT_MESSAGES = 50
/** Interval of the comment line that keeps idle streams open through proxies, in ms. */
const KEEP_ALIVE_MS = 25_000

/**
 * Fans summary changes out to server-sent event streams, coalesced per group: after an event, the
 * next one waits at least intervalMs, and every change in between goes into it. A subscriber
 * whose previous write has not finished gets one event with the latest state once it has, so no
 * backlog builds up for a slow client.
 */
export class EventHub {
  readonly #intervalMs: number
  readonly #logger: Logger
  readonly #summaries: SummaryService
  readonly #streams = new Map<string, Set<Subscription>>()
  readonly #pending = new Map<string, { changes: Set<SummaryChange>; timer: NodeJS.Timeout }>()
  readonly #lastSentAt = new Map<string, number>()
  readonly #stopListening: () => void
  readonly #keepAlive: NodeJS.Timeout

  constructor(summaries: SummaryService, intervalMs: number, logger: Logger) {
    this.#intervalMs = intervalMs
    this.#logger = logger
    this.#summaries = summaries
    this.#stopListening = summaries.onChange((groupId, change) => this.#onChange(groupId, change))
    this.#keepAlive = setInterval(() => {
      for (const streams of this.#streams.values()) {
        for (const subscription of streams) subscription.keepAlive()
      }
    }, KEEP_ALIVE_MS)
    this.#keepAlive.unref()
  }

  /**
   * Sends the group's current counts on the stream, then an event after every coalesced change.
   * Resolves when the client goes away, the caller stops being a member, or the hub closes.
   */
  subscribe(summary: GroupSummary, caller: Caller, stream: SSEStreamingApi): Promise<void> {
    return new Promise((resolve) => {
      let streams = this.#streams.get(summary.id)
      if (streams === undefined) {
        streams = new Set()
        this.#streams.set(summary.id, streams)
      }
      this.#summaries.hold(summary)
      const subscription = new Subscription(summary, caller, stream, () => {
        this.#summaries.release(summary)
        streams.delete(subscription)
        if (streams.size === 0 && this.#streams.get(summary.id) === streams) {
          this.#streams.delete(summary.id)
          this.#lastSentAt.delete(summary.id)
        }
        this.#logger.debug({ group: summary.id, user: caller.userId }, 'event stream closed')
        resolve()
      })
      streams.add(subscription)
      stream.onAbort(() => subscription.close())
      subscription.notify([])
      this.#logger.debug({ group: summary.id, user: caller.userId }, 'event stream opened')
    })
  }

  /** Stops the timers and ends every stream. */
  close(): void {
    this.#stopListening()
    clearInterval(this.#keepAlive)
    for (const pending of this.#pending.values()) clearTimeout(pending.timer)
    this.#pending.clear()
    for (const streams of [...this.#streams.values()]) {
      for (const subscription of [...streams]) subscription.close()
    }
  }

  #onChange(groupId: string, change: SummaryChange): void {
    if (!this.#streams.has(groupId)) return

    const pending = this.#pending.get(groupId)
    if (pending !== undefined) {
      pending.changes.add(change)
      return
    }
    const lastSentAt = this.#lastSentAt.get(groupId) ?? Number.NEGATIVE_INFINITY
    const delay = Math.max(0, lastSentAt + this.#intervalMs - Date.now())
    const timer = setTimeout(() => this.#send(groupId), delay)
    this.#pending.set(groupId, { changes: new Set([change]), timer })
  }

  #send(groupId: string): void {
    const pending = this.#pending.get(groupId)
    this.#pending.delete(groupId)
    const streams = this.#streams.get(groupId)
    if (pending === undefined || streams === undefined) return

    this.#lastSentAt.set(groupId, Date.now())
    const changes = [...pending.changes]
    for (const subscription of [...streams]) {
      if (!subscription.stillAllowed()) {
        this.#logger.debug(
          { group: groupId, user: subscription.userId },
          'event stream closed: not a member',
        )
        subscription.close()
        continue
      }
      subscription.notify(changes)
    }
  }
}

/** One open event stream. */
class Subscription {
  readonly #summary: GroupSummary
  readonly #caller: Caller
  readonly #stream: SSEStreamingApi
  readonly #onClose: () => void
  /** Changes not yet sent; null while nothing is due. */
  #due: Set<SummaryChange> | null = null
  #writing = false
  #closed = false

  constructor(summary: GroupSummary, caller: Caller, stream: SSEStreamingApi, onClose: () => void) {
    this.#summary = summary
    this.#caller = caller
    this.#stream = stream
    this.#onClose = onClose
  }

  get userId(): string {
    return this.#caller.userId
  }

  /** Tells whether the caller may still follow the group: the service, or a current member. */
  stillAllowed(): boolean {
    return this.#caller.service || isCurrentMember(this.#summary.members.get(this.#caller.userId))
  }

  notify(changes: readonly SummaryChange[]): void {
    this.#due ??= new Set()
    for (const change of changes) this.#due.add(change)
    void this.#flush()
  }

  keepAlive(): void {
    if (this.#writing || this.#closed) return
    this.#writing = true
    void this.#stream.write(': keep-alive\n\n').finally(() => {
      this.#writing = false
      void this.#flush()
    })
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#onClose()
  }

  async #flush(): Promise<void> {
    while (this.#due !== null && !this.#writing && !this.#closed) {
      const changes = [...this.#due].sort()
      this.#due = null
      this.#writing = true
      try {
        await this.#stream.writeSSE({ event: 'counts', data: JSON.stringify(this.#event(changes)) })
      } finally {
        this.#writing = false
      }
    }
  }

  #event(changes: SummaryChange[]): CountsEvent {
    const summary = this.#summary
    const index = summary.countIndex()
    const event: CountsEvent = {
      groupId: summary.id,
      head: summary.head,
      changes,
      messages: summary.recentMessages(EVENT_MESSAGES).map((message) => ({
        seq: message.seq,
        ...countMessage(index, message),
      })),
    }
    if (!this.#caller.service) {
      const unread = countUnread(summary.state(), summary.messageIndex, this.#caller.userId)
      if (unread !== undefined) event.unread = unread
    }
    return event
  }
}
