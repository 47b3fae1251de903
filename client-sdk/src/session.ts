import type * as Y from 'yjs'
import type { BackoffOptions } from './backoff.ts'
import { ConfirmationTracker } from './confirmations.ts'
import { Emitter, type Listener } from './emitter.ts'
import { ReadmarkError } from './errors.ts'
import { Outbox, outboxEntriesSchema } from './outbox.ts'
import { GroupReplica, LOCAL_ORIGIN, type ReplicaIdentity } from './replica.ts'
import { ReplicaLifecycle } from './replica-lifecycle.ts'
import type { OpenStorage } from './storage.ts'
import type { WebSocketConstructor } from './sync-connection.ts'
import type { TokenSource } from './tokens.ts'
import type {
  ChangeEvent,
  ConnectionStatus,
  MessageCounts,
  MessageWithCounts,
  OutboxEntry,
  SentMessage,
} from './types.ts'

/** Events of a group session and their payloads. */
export interface GroupEvents {
  /** The replica changed: a local markRead, a change from the server, or a start over. */
  change: ChangeEvent
  status: ConnectionStatus
  /** The user's unread count in the group changed; undefined once the user is not a member. */
  unread: number | undefined
  /** The number of receipt writes the server has not confirmed as stored changed. */
  unconfirmed: number
  /** The server accepted a message of the outbox, also one queued before a restart. */
  sent: SentMessage
  /** The server rejected a message of the outbox for good, and the outbox dropped it. */
  failed: { clientMessageId: string; error: ReadmarkError }
  /** Something went wrong that the session reports but handles, or that stopped its syncing. */
  error: ReadmarkError
}

/** Settings and services a session gets from its client. */
export interface SessionContext {
  storage: OpenStorage
  tokens: TokenSource
  deviceId: string
  baseUrl: string
  syncUrl: string
  WebSocket: WebSocketConstructor
  fetch: typeof fetch
  reconnect: BackoffOptions
  retry: BackoffOptions
  requestTimeoutMs: number
  connect: boolean
  closed(session: GroupSession): void
}

/**
 * One group for one user on this device: the local replica with its counts, the sync connection,
 * and the outbox. Reads are synchronous and read the replica, so they work offline.
 */
export class GroupSession {
  readonly groupId: string
  readonly userId: string
  readonly deviceId: string
  readonly #context: SessionContext
  readonly #events: Emitter<GroupEvents>
  readonly #outbox: Outbox
  readonly #lifecycle: ReplicaLifecycle
  readonly #confirmations: ConfirmationTracker
  #closed = false
  #lastUnread: number | undefined | null = null

  private constructor(
    context: SessionContext,
    replica: GroupReplica,
    outbox: OutboxEntry[],
    events: Emitter<GroupEvents>,
  ) {
    this.#context = context
    this.#events = events
    this.groupId = replica.identity.groupId
    this.userId = replica.identity.userId
    this.deviceId = replica.identity.deviceId
    this.#confirmations = new ConfirmationTracker(replica, (count) =>
      this.#events.emit('unconfirmed', count),
    )
    this.#lifecycle = new ReplicaLifecycle(context, replica, {
      transaction: this.#onTransaction,
      status: (status) => this.#onStatus(status),
      confirmed: () => this.#confirmations.confirmed(this.#replica),
      error: (error) => this.#events.emit('error', error),
      discarded: (reason) => this.#confirmations.rejectWaiters(reason),
      replaced: () => {
        this.#events.emit('change', { local: false, receipts: true, members: true, messages: true })
        this.#emitUnread()
        this.#confirmations.update(this.#replica)
      },
      outbox: () => this.#outbox.list(),
    })
    this.#outbox = new Outbox({
      baseUrl: context.baseUrl,
      groupId: this.groupId,
      fetch: context.fetch,
      tokens: context.tokens,
      retry: context.retry,
      requestTimeoutMs: context.requestTimeoutMs,
      entries: outbox,
      save: (entries) => this.#replica.saveOutbox(entries),
      sent: (message) => this.#events.emit('sent', message),
      failed: (clientMessageId, error) => this.#events.emit('failed', { clientMessageId, error }),
      error: (error) => this.#events.emit('error', error),
    })
  }

  /** Opens the group's replica and, unless the client says otherwise, connects it. */
  static async open(context: SessionContext, groupId: string): Promise<GroupSession> {
    const identity: ReplicaIdentity = {
      userId: context.tokens.userId,
      deviceId: context.deviceId,
      groupId,
    }
    const events = new Emitter<GroupEvents>()
    const replica = await GroupReplica.open(context.storage, identity, (error) =>
      events.emit('error', error),
    )
    const stored = outboxEntriesSchema.safeParse(await replica.loadOutbox().catch(() => undefined))
    const outbox: OutboxEntry[] = stored.success ? stored.data : []

    const session = new GroupSession(context, replica, outbox, events)
    if (context.connect) session.#lifecycle.connect()
    session.#outbox.start()
    return session
  }

  on<E extends keyof GroupEvents>(event: E, listener: Listener<GroupEvents[E]>): () => void {
    return this.#events.on(event, listener)
  }

  once<E extends keyof GroupEvents>(event: E, listener: Listener<GroupEvents[E]>): () => void {
    return this.#events.once(event, listener)
  }

  off<E extends keyof GroupEvents>(event: E, listener: Listener<GroupEvents[E]>): void {
    this.#events.off(event, listener)
  }

  get status(): ConnectionStatus {
    return this.#lifecycle.status
  }

  /** Receipt writes of this device that the server has not yet confirmed as stored. */
  get unconfirmed(): number {
    return this.#replica.unconfirmed()
  }

  /**
   * Marks every message up to seq read, online or offline, under this device's receipt key only.
   * Never lowers the watermark. A seq beyond the replica's head is remembered, also across
   * restarts, and written once the head reaches it. Returns the user's watermark afterwards.
   */
  markRead(seq: number): number {
    this.#assertOpen()
    return this.#replica.markRead(seq)
  }

  /** Returns W(u) of a user, by default of this session's user. */
  watermark(userId: string = this.userId): number {
    return this.#replica.watermark(userId)
  }

  /** Returns the highest seq in the replica; 0 before the first sync. */
  head(): number {
    return this.#replica.view.state.head
  }

  /** Returns the messages of the document's window, oldest first, with their counts. */
  messages(): MessageWithCounts[] {
    return this.#replica.view.messagesWithCounts()
  }

  /** Returns the read and unread counts of a message; undefined when it is not in the window. */
  counts(seq: number): MessageCounts | undefined {
    return this.#replica.view.counts(seq)
  }

  /** Returns the users who have read a message, sorted; undefined when it is not in the window. */
  readers(seq: number): string[] | undefined {
    return this.#replica.view.readers(seq)
  }

  /** Returns the members who have not read a message, sorted; undefined outside the window. */
  unreadMembers(seq: number): string[] | undefined {
    return this.#replica.view.unreadMembers(seq)
  }

  /** Returns the user's unread count in the group; undefined when the user is not a member. */
  unreadCount(): number | undefined {
    return this.#replica.view.unreadCount(this.userId)
  }

  /**
   * Sends a message through the outbox and resolves once the server has accepted it. The entry is
   * stored first and retried, also after a restart, until the server accepts or rejects it.
   */
  send(body?: string, options: { clientMessageId?: string } = {}): Promise<SentMessage> {
    this.#assertOpen()
    return this.#outbox.send(body, options.clientMessageId ?? crypto.randomUUID())
  }

  /** Returns the messages waiting in the outbox, oldest first. */
  outbox(): OutboxEntry[] {
    return this.#outbox.list()
  }

  /** Resolves once the replica has the server's state; rejects when syncing stops or the session closes. */
  whenSynced(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError())
    return this.#lifecycle.whenSynced()
  }

  /**
   * Resolves once the server has confirmed every receipt written so far as stored, in the
   * confirmation PROTOCOL.md of the server describes. Rejects when the session closes, and when
   * the replica starts over after a rejected update, because those writes will never be stored.
   */
  whenConfirmed(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError())
    return this.#confirmations.whenConfirmed(this.#replica)
  }

  /** Connects, at once, and keeps reconnecting until disconnect(). */
  connect(): void {
    this.#assertOpen()
    this.#lifecycle.connect()
    this.#outbox.start()
  }

  /** Closes the sync connection; markRead and the counts keep working on the replica. */
  disconnect(): void {
    this.#assertOpen()
    this.#lifecycle.disconnect()
  }

  /** Closes the connection and the replica; stored receipts and outbox entries wait for the next start. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#outbox.close()
    const error = closedError()
    this.#lifecycle.rejectSyncWaiters(error)
    this.#confirmations.rejectWaiters(error)
    await this.#lifecycle.close()
    this.#events.clear()
    this.#context.closed(this)
  }

  /** The current replica, which a start-over replaces. */
  get #replica(): GroupReplica {
    return this.#lifecycle.replica
  }

  readonly #onTransaction = (transaction: Y.Transaction): void => {
    const replica = this.#replica
    const { group } = replica
    const changed: ReadonlyMap<unknown, unknown> = transaction.changed
    const change: ChangeEvent = {
      local: transaction.origin === LOCAL_ORIGIN,
      receipts: changed.has(group.receipts),
      members: changed.has(group.members),
      messages: changed.has(group.messages),
    }
    const metaChanged = changed.has(group.meta)
    if (!change.receipts && !change.members && !change.messages && !metaChanged) return

    replica.view.invalidate()
    if (!change.local && replica.requested > replica.watermark(this.userId)) {
      // A new head or membership may let a remembered markRead through; write it after this
      // transaction has finished.
      queueMicrotask(() => {
        if (!this.#closed && this.#replica === replica) replica.catchUp()
      })
    }
    this.#events.emit('change', change)
    this.#emitUnread()
    this.#confirmations.update(replica)
  }

  #onStatus(status: ConnectionStatus): void {
    this.#events.emit('status', status)
    if (status !== 'synced') return

    this.#outbox.start()
  }

  #emitUnread(): void {
    if (!this.#events.has('unread')) return
    const count = this.unreadCount()
    if (count === this.#lastUnread) return
    this.#lastUnread = count
    this.#events.emit('unread', count)
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError()
  }
}

function closedError(): ReadmarkError {
  return new ReadmarkError('closed', 'the group session is closed')
}
