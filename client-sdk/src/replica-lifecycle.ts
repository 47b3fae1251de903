import type * as Y from 'yjs'
import type { BackoffOptions } from './backoff.ts'
import { ReadmarkError } from './errors.ts'
import { GroupReplica } from './replica.ts'
import type { OpenStorage } from './storage.ts'
import { SyncConnection, type WebSocketConstructor } from './sync-connection.ts'
import type { TokenSource } from './tokens.ts'
import type { ConnectionStatus, OutboxEntry } from './types.ts'

/** Start-overs one session may make after rejected updates before it stops syncing. */
const MAX_START_OVERS = 3

/** Settings and services of the client that the replica and its sync connection use. */
export interface ReplicaLifecycleContext {
  storage: OpenStorage
  tokens: TokenSource
  syncUrl: string
  WebSocket: WebSocketConstructor
  reconnect: BackoffOptions
}

/** Callbacks through which a ReplicaLifecycle reports to its session. */
export interface ReplicaLifecycleHandlers {
  /** Listener of each transaction of the current replica's document. */
  transaction(transaction: Y.Transaction): void
  status(status: ConnectionStatus): void
  /** The server confirmed more writes of the current replica as stored. */
  confirmed(): void
  /**
   * A problem the session reports but handles, such as a rejected update that starts it over.
   * Also the error that stops syncing until the next connect(), after it has rejected whenSynced.
   */
  error(error: ReadmarkError): void
  /** A start-over began, so the server will never confirm the writes of the old replica. */
  discarded(reason: ReadmarkError): void
  /** A start-over put a new, empty replica in place of the old one. */
  replaced(): void
  /** Returns the outbox entries to store in the new replica on a start-over. */
  outbox(): OutboxEntry[]
}

interface SyncWaiter {
  resolve(): void
  reject(error: unknown): void
}

/**
 * The current replica of a session and its sync connection: connecting and disconnecting, and
 * replacing both with a fresh replica when the server rejects an update.
 */
export class ReplicaLifecycle {
  readonly #context: ReplicaLifecycleContext
  readonly #handlers: ReplicaLifecycleHandlers
  /** The afterTransaction listener of every replica's document, one function so off() finds it. */
  readonly #onTransaction = (transaction: Y.Transaction): void =>
    this.#handlers.transaction(transaction)
  #replica: GroupReplica
  #connection: SyncConnection
  #wantConnection = false
  #stopped: ReadmarkError | null = null
  #closed = false
  #startOvers = 0
  #startingOver: Promise<void> | null = null
  readonly #syncWaiters: SyncWaiter[] = []

  /** Wires the replica to the handlers and creates its connection, which connect() opens. */
  constructor(
    context: ReplicaLifecycleContext,
    replica: GroupReplica,
    handlers: ReplicaLifecycleHandlers,
  ) {
    this.#context = context
    this.#handlers = handlers
    this.#replica = replica
    this.#connection = this.#attach(replica)
  }

  /** The current replica, which a start-over replaces. */
  get replica(): GroupReplica {
    return this.#replica
  }

  get status(): ConnectionStatus {
    return this.#connection.status
  }

  /** Resolves once the replica has the server's state, and rejects when syncing stops. */
  whenSynced(): Promise<void> {
    if (this.#stopped !== null) return Promise.reject(this.#stopped)
    if (this.status === 'synced') return Promise.resolve()
    return new Promise((resolve, reject) => this.#syncWaiters.push({ resolve, reject }))
  }

  /** Rejects every pending whenSynced promise, because the session is closing. */
  rejectSyncWaiters(error: ReadmarkError): void {
    for (const waiter of this.#syncWaiters.splice(0)) waiter.reject(error)
  }

  /** Connects, at once, and keeps reconnecting until disconnect(). */
  connect(): void {
    this.#wantConnection = true
    this.#stopped = null
    this.#connection.connect()
  }

  disconnect(): void {
    this.#wantConnection = false
    this.#connection.disconnect()
  }

  /** Waits for a start-over in progress, then closes the connection and the replica. */
  async close(): Promise<void> {
    this.#closed = true
    // A start-over in progress replaces the connection and the replica; close the new ones.
    await this.#startingOver?.catch(() => undefined)
    this.#connection.destroy()
    this.#replica.doc.off('afterTransaction', this.#onTransaction)
    await this.#replica.close()
  }

  /** Wires a replica to the handlers and returns its new, unconnected sync connection. */
  #attach(replica: GroupReplica): SyncConnection {
    replica.doc.on('afterTransaction', this.#onTransaction)
    const context = this.#context
    return new SyncConnection({
      url: context.syncUrl,
      groupId: replica.identity.groupId,
      doc: replica.doc,
      tokens: context.tokens,
      WebSocket: context.WebSocket,
      reconnect: context.reconnect,
      ownClientIds: () => replica.ownClientIds,
      flushed: () => replica.store.flushed(),
      handlers: {
        status: (status) => this.#onStatus(status),
        serverStateVector: (stateVector) => {
          if (replica.confirm(stateVector)) this.#handlers.confirmed()
        },
        rejected: (reason) =>
          void this.#startOver(
            new ReadmarkError('update-rejected', `the server rejected an update: ${reason}`),
          ),
        policyViolation: () =>
          void this.#startOver(
            new ReadmarkError('update-rejected', 'the server closed the connection with 1008'),
          ),
        error: (error) => this.#handlers.error(error),
        stopped: (error) => this.#onStopped(error),
      },
    })
  }

  #onStatus(status: ConnectionStatus): void {
    this.#handlers.status(status)
    if (status !== 'synced') return

    for (const waiter of this.#syncWaiters.splice(0)) waiter.resolve()
  }

  #onStopped(error: ReadmarkError): void {
    this.#stopped = error
    for (const waiter of this.#syncWaiters.splice(0)) waiter.reject(error)
    this.#handlers.error(error)
  }

  /**
   * Starts again from the server's state after the server rejected an update of this replica.
   * The replica contains a change the server will never take, and every later write of the same
   * client id would leave a gap that the server rejects too. So the stored replica is deleted and
   * opened empty with a new client id. The requested seq and the outbox are kept, and the seq is
   * written again once the server's state has arrived.
   */
  #startOver(reason: ReadmarkError): Promise<void> {
    this.#handlers.error(reason)
    if (this.#startingOver !== null || this.#closed) return this.#startingOver ?? Promise.resolve()

    this.#startOvers += 1
    if (this.#startOvers > MAX_START_OVERS) {
      this.#connection.disconnect()
      this.#onStopped(
        new ReadmarkError(
          'update-rejected',
          `the server kept rejecting updates after ${MAX_START_OVERS} fresh starts; syncing stopped`,
        ),
      )
      return Promise.resolve()
    }

    this.#startingOver = this.#replaceReplica(reason)
      .catch((error: unknown) => {
        this.#onStopped(
          error instanceof ReadmarkError
            ? error
            : new ReadmarkError('storage-failed', 'starting the replica over failed', {
                cause: error,
              }),
        )
      })
      .finally(() => {
        this.#startingOver = null
      })
    return this.#startingOver
  }

  /** Deletes the stored replica and puts an empty one with a new client id in its place. */
  async #replaceReplica(reason: ReadmarkError): Promise<void> {
    const previous = this.#replica
    this.#connection.destroy()
    this.#handlers.discarded(reason)
    previous.doc.off('afterTransaction', this.#onTransaction)
    await previous.clear()
    // Read after the clear, so that a markRead made meanwhile is kept as well.
    const requested = previous.requested

    const replica = await GroupReplica.open(
      this.#context.storage,
      previous.identity,
      (error: ReadmarkError) => this.#handlers.error(error),
    )
    replica.markRead(requested)
    await replica.saveOutbox(this.#handlers.outbox())
    this.#replica = replica
    this.#connection = this.#attach(replica)
    if (this.#closed) return
    if (this.#wantConnection && this.#stopped === null) this.#connection.connect()

    this.#handlers.replaced()
  }
}
