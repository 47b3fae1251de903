import {
  type ClientOwners,
  type GroupDoc,
  openGroupDoc,
  parseReceiptKey,
  type Verdict,
  validateUpdate,
} from '@readmark/shared'
import type { Logger } from 'pino'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as Y from 'yjs'
import type { ServerMetrics } from '../metrics.ts'
import type { DocStore } from '../storage/doc-store.ts'
import type { GroupSummary, SummaryService } from '../summaries.ts'
import { encodeBinaryFrame } from './frame.ts'
import { writeAwareness, writeSyncStep1, writeUpdate } from './protocol.ts'

/** Transaction origin of the server's own writes: members, messages, head, server-set watermarks. */
export const SERVER_ORIGIN = Symbol('readmark server')
/** Transaction origin of a batch of accepted client updates. */
const BATCH_ORIGIN = Symbol('readmark client batch')

/** The part of a connection a room uses. */
export interface RoomConnection {
  readonly userId: string
  readonly awarenessIds: Set<number>
  send(frame: Uint8Array): void
  /** Sends a complete WebSocket frame from encodeBinaryFrame, shared by every connection of a broadcast. */
  sendEncoded(frame: Buffer): void
  close(code: number, reason: string): void
}

export interface RoomDependencies {
  docStore: DocStore
  summaries: SummaryService
  metrics: ServerMetrics
  logger: Logger
  batchWindowMs: number
}

interface PendingUpdate {
  update: Uint8Array
  connection: RoomConnection
}

/**
 * One loaded group: its Yjs document, the connections syncing it, and the batching of accepted
 * client updates.
 *
 * Ordering and durability: accepted updates wait up to batchWindowMs, then apply in one Yjs
 * transaction, because every transaction costs time proportional to the client ids in the
 * document. The merged update is broadcast at once, then stored. Only after LevelDB has it does
 * each sender get the server's state vector as of that batch, the confirmation that PROTOCOL.md
 * describes. Stores run one after another, so confirmations keep batch order.
 */
export class Room {
  readonly id: string
  readonly doc: Y.Doc
  readonly group: GroupDoc
  readonly summary: GroupSummary
  readonly awareness: awarenessProtocol.Awareness
  readonly owners: ClientOwners
  readonly connections = new Set<RoomConnection>()

  readonly #deps: RoomDependencies
  #pending: PendingUpdate[] = []
  #pendingSince = 0
  #timer: NodeJS.Timeout | null = null
  /** Connections of the batch being applied, read by the update handler. */
  #batchConnections: Set<RoomConnection> | null = null
  /** Writes started by the current server change, which change() awaits. */
  #changeWrites: Promise<void>[] | null = null
  /** Tail of the store chain; never rejects. */
  #lastWrite: Promise<void> = Promise.resolve()
  /** Set after a failed store: the next store writes the whole state, and confirmations wait for it. */
  #unstored = false
  /** The document's state vector as of the last finished store, which greetings carry. */
  #storedStateVector: Uint8Array

  constructor(
    id: string,
    doc: Y.Doc,
    summary: GroupSummary,
    owners: ClientOwners,
    deps: RoomDependencies,
  ) {
    this.id = id
    this.doc = doc
    this.group = openGroupDoc(doc)
    this.summary = summary
    this.owners = owners
    this.#deps = deps
    deps.summaries.hold(summary)
    this.#storedStateVector = Y.encodeStateVector(doc)
    this.awareness = new awarenessProtocol.Awareness(doc)
    this.awareness.setLocalState(null)

    doc.on('update', this.#onUpdate)
    this.group.receipts.observe(this.#onReceipts)
    this.awareness.on('update', this.#onAwarenessUpdate)
    deps.metrics.clientIds.set({ group: id }, doc.store.clients.size)
  }

  /** True while accepted updates wait for the next batch. */
  get hasPending(): boolean {
    return this.#pending.length > 0
  }

  /**
   * Validates a client update and queues it for the next batch. An update that continues one
   * still queued looks like a gap to the validator, so the queue is applied and it is checked
   * again.
   */
  receiveUpdate(connection: RoomConnection, update: Uint8Array): Verdict {
    let verdict = validateUpdate(this.doc, this.owners, connection.userId, update)
    if (!verdict.ok && verdict.reason === 'gap' && this.#pending.length > 0) {
      this.flush()
      verdict = validateUpdate(this.doc, this.owners, connection.userId, update)
    }
    if (!verdict.ok) return verdict

    // Recorded now rather than after the apply, so a second user cannot claim the same new id meanwhile.
    for (const client of verdict.newClients) this.owners.record(client, connection.userId)
    if (!verdict.changes) return verdict

    if (this.#pending.length === 0) this.#pendingSince = performance.now()
    this.#pending.push({ update, connection })
    if (this.#deps.batchWindowMs === 0) this.flush()
    else this.#timer ??= setTimeout(() => this.flush(), this.#deps.batchWindowMs)
    return verdict
  }

  /** Applies every queued update in one transaction; the update handler broadcasts and stores. */
  flush(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer)
      this.#timer = null
    }
    if (this.#pending.length === 0) return

    const batch = this.#pending
    this.#pending = []
    this.#batchConnections = new Set(batch.map((pending) => pending.connection))
    try {
      this.doc.transact(() => {
        for (const pending of batch) Y.applyUpdate(this.doc, pending.update)
      }, BATCH_ORIGIN)
    } finally {
      this.#batchConnections = null
    }
    this.#deps.metrics.updatesAccepted.inc(batch.length)
    this.#deps.metrics.fanoutSeconds.observe((performance.now() - this.#pendingSince) / 1000)
    this.#deps.metrics.clientIds.set({ group: this.id }, this.doc.store.clients.size)
  }

  /**
   * Runs a server write in one transaction, after any queued client updates, and resolves once
   * the document and the summaries it changed are stored.
   */
  async change(write: (group: GroupDoc) => void): Promise<void> {
    this.flush()
    const writes: Promise<void>[] = []
    this.#changeWrites = writes
    try {
      this.doc.transact(() => write(this.group), SERVER_ORIGIN)
    } finally {
      this.#changeWrites = null
    }
    await Promise.all(writes)
  }

  /** Sends a message to every connection, framing it once for all of them. */
  broadcast(message: Uint8Array): void {
    if (this.connections.size === 0) return
    const frame = encodeBinaryFrame(message)
    for (const connection of this.connections) connection.sendEncoded(frame)
  }

  /**
   * Sends a new connection the state vector of what is stored, so that a client never takes a
   * batch still being written for confirmed, and the current awareness states.
   */
  greet(connection: RoomConnection): void {
    connection.send(writeSyncStep1(this.#storedStateVector))
    const clients = [...this.awareness.getStates().keys()]
    if (clients.length > 0) {
      connection.send(
        writeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients)),
      )
    }
  }

  /** Forgets a closed connection and the awareness states it set. */
  removeConnection(connection: RoomConnection): void {
    this.connections.delete(connection)
    if (connection.awarenessIds.size > 0) {
      awarenessProtocol.removeAwarenessStates(this.awareness, [...connection.awarenessIds], null)
    }
  }

  /** Applies queued updates, waits for every store, and releases the document. */
  async close(): Promise<void> {
    this.flush()
    await this.#lastWrite
    if (this.#unstored) await this.#store(Y.encodeStateAsUpdate(this.doc))

    this.awareness.destroy()
    this.doc.off('update', this.#onUpdate)
    this.doc.destroy()
    this.#deps.summaries.release(this.summary)
    this.#deps.metrics.clientIds.remove({ group: this.id })
  }

  /** Waits until every write started so far has finished. */
  settled(): Promise<void> {
    return this.#lastWrite
  }

  readonly #onUpdate = (update: Uint8Array, origin: unknown): void => {
    this.broadcast(writeUpdate(update))

    const confirmTo = origin === BATCH_ORIGIN ? this.#batchConnections : null
    const stateVector = Y.encodeStateVector(this.doc)
    const stored = this.#lastWrite.then(() => this.#store(update))
    this.#lastWrite = stored.then(
      () => {
        if (!this.#unstored) this.#storedStateVector = stateVector
        if (confirmTo === null) return
        const frame = writeSyncStep1(stateVector)
        for (const connection of confirmTo) {
          if (this.connections.has(connection)) connection.send(frame)
        }
      },
      () => undefined,
    )
    this.#changeWrites?.push(stored)
  }

  async #store(update: Uint8Array): Promise<void> {
    const retrying = this.#unstored
    const started = performance.now()
    try {
      await this.#deps.docStore.store(this.id, retrying ? Y.encodeStateAsUpdate(this.doc) : update)
      this.#unstored = false
      this.#deps.metrics.storeSeconds.observe((performance.now() - started) / 1000)
    } catch (error) {
      this.#unstored = true
      this.#deps.metrics.storeFailures.inc({ store: 'documents' })
      this.#deps.logger.error(
        { err: error, group: this.id },
        'document store failed; the update stays in memory and the next store writes the whole state',
      )
      throw error
    }
  }

  readonly #onReceipts = (event: Y.YMapEvent<number>): void => {
    const values = new Map<string, number>()
    for (const key of event.keysChanged) {
      const parsed = parseReceiptKey(key)
      const value = this.group.receipts.get(key)
      if (parsed === null || typeof value !== 'number') continue
      if (value > (values.get(parsed.userId) ?? 0)) values.set(parsed.userId, value)
    }

    const written = this.#deps.summaries.advance(this.summary, values, Date.now())
    if (this.#changeWrites !== null) this.#changeWrites.push(written)
    else written.catch(() => undefined) // SummaryService has logged and counted the failure.
  }

  readonly #onAwarenessUpdate = (
    change: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    const changed = [...change.added, ...change.updated, ...change.removed]
    const connection = origin as RoomConnection | null
    if (connection !== null && typeof connection === 'object' && 'awarenessIds' in connection) {
      for (const client of change.added) connection.awarenessIds.add(client)
      for (const client of change.removed) connection.awarenessIds.delete(client)
    }
    this.broadcast(writeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed)))
  }
}
