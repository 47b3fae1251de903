import {
  type GroupDoc,
  isCurrentMember,
  openGroupDoc,
  readHead,
  readWatermark,
  writeDeviceReceipt,
} from '@readmark/shared'
import * as Y from 'yjs'
import { z } from 'zod'
import { ReadmarkError } from './errors.ts'
import type { OpenStorage, ReplicaStore } from './storage.ts'
import { GroupView } from './view.ts'

/** Transaction origin of this device's own receipt writes. */
export const LOCAL_ORIGIN = Symbol('readmark local write')

/** Keys of the replica's metadata in its store. */
const META = {
  /** Yjs client ids this replica wrote with, the current one last. */
  clientIds: 'clientIds',
  /** [client id, clock] pairs: how far the server has confirmed each own client id as stored. */
  confirmed: 'confirmed',
  /** The highest seq markRead was called with, which may lie beyond the replica's head. */
  requested: 'requested',
  outbox: 'outbox',
} as const

const clientIdsSchema = z.array(z.number().int().min(0).max(0xffff_ffff)).min(1)
const confirmedSchema = z.array(z.tuple([z.number().int(), z.number().int().nonnegative()]))
const requestedSchema = z.number().int().nonnegative()

export interface ReplicaIdentity {
  userId: string
  deviceId: string
  groupId: string
}

/**
 * The local replica of one group document, its store, and the bookkeeping that must survive a
 * restart: the Yjs client ids it writes with, what the server confirmed, and the highest seq
 * requested by markRead.
 *
 * Client id: a replica writes with the same Yjs client id for as long as it exists, because every
 * client id stays in the group document for good and makes each of the server's transactions
 * slower. The id is stored before the first write and set on the document only after the stored
 * updates are applied: Yjs picks a new id when a remote transaction adds structs of the document's
 * own id. It does the same when the server sends back structs of the id that the replica lacks,
 * which adds the new id to the stored list.
 */
export class GroupReplica {
  readonly identity: ReplicaIdentity
  readonly doc: Y.Doc
  readonly group: GroupDoc
  readonly view: GroupView
  readonly store: ReplicaStore
  readonly #clientIds: number[]
  readonly #confirmed: Map<number, number>
  #requested: number
  readonly #onError: (error: ReadmarkError) => void
  #metaQueue: Promise<void> = Promise.resolve()
  readonly #queuedMeta = new Set<string>()

  private constructor(
    identity: ReplicaIdentity,
    doc: Y.Doc,
    store: ReplicaStore,
    state: { clientIds: number[]; confirmed: Map<number, number>; requested: number },
    onError: (error: ReadmarkError) => void,
  ) {
    this.identity = identity
    this.doc = doc
    this.group = openGroupDoc(doc)
    this.view = new GroupView(this.group)
    this.store = store
    this.#clientIds = state.clientIds
    this.#confirmed = state.confirmed
    this.#requested = state.requested
    this.#onError = onError
    doc.on('afterTransactionCleanup', this.#onTransactionCleanup)
  }

  /** Opens the stored replica, or an empty one with a new client id that is stored first. */
  static async open(
    storage: OpenStorage,
    identity: ReplicaIdentity,
    onError: (error: ReadmarkError) => void,
  ): Promise<GroupReplica> {
    const doc = new Y.Doc()
    const store = await storage.openReplica(replicaName(identity), doc)
    try {
      const stored = clientIdsSchema.safeParse(await store.getMeta(META.clientIds))
      let clientIds: number[]
      if (stored.success) {
        clientIds = stored.data
      } else {
        clientIds = [unusedClientId(doc)]
        await store.setMeta(META.clientIds, clientIds)
      }
      doc.clientID = clientIds.at(-1) as number

      const confirmed = confirmedSchema.safeParse(await store.getMeta(META.confirmed))
      const requested = requestedSchema.safeParse(await store.getMeta(META.requested))
      const state = {
        clientIds,
        confirmed: new Map(confirmed.success ? confirmed.data : []),
        requested: requested.success ? requested.data : 0,
      }
      return new GroupReplica(identity, doc, store, state, onError)
    } catch (error) {
      await store.close()
      doc.destroy()
      throw error
    }
  }

  /** The Yjs client ids this replica has written with. */
  get ownClientIds(): ReadonlySet<number> {
    return new Set(this.#clientIds)
  }

  /** The highest seq markRead was called with. */
  get requested(): number {
    return this.#requested
  }

  /** W(u) of a user in the replica. */
  watermark(userId: string): number {
    return readWatermark(this.group.receipts, userId)
  }

  /**
   * Raises the requested seq and writes as much of it as the replica's head allows under this
   * device's key. Writes nothing while W(u) already covers it or the user is not a member. Returns
   * W(u) afterwards.
   */
  markRead(seq: number): number {
    if (!Number.isSafeInteger(seq) || seq < 0) {
      throw new ReadmarkError('invalid-argument', `seq must be a non-negative integer, got ${seq}`)
    }
    if (seq > this.#requested) {
      this.#requested = seq
      this.#persistMeta(META.requested, () => this.#requested)
    }
    return this.catchUp()
  }

  /**
   * Writes the requested seq, capped at the head. The server rejects a value beyond its head, and
   * the replica's head is never ahead of the server's, so the cap keeps every write acceptable.
   */
  catchUp(): number {
    const { userId, deviceId } = this.identity
    const target = Math.min(this.#requested, readHead(this.group))
    if (!isCurrentMember(this.group.members.get(userId))) return this.watermark(userId)

    let watermark = 0
    this.doc.transact(() => {
      watermark = writeDeviceReceipt(this.group, userId, deviceId, target)
    }, LOCAL_ORIGIN)
    return watermark
  }

  /** Receipt writes of this replica that the server has not confirmed as stored. */
  unconfirmed(): number {
    let count = 0
    for (const client of this.#clientIds) {
      const written = Y.getState(this.doc.store, client)
      count += Math.max(0, written - (this.#confirmed.get(client) ?? 0))
    }
    return count
  }

  /** The clock of each own client id that a confirmation must reach to cover every write so far. */
  writtenClocks(): Map<number, number> {
    return new Map(this.#clientIds.map((client) => [client, Y.getState(this.doc.store, client)]))
  }

  /** Tells whether confirmations cover the given clocks. */
  covers(clocks: ReadonlyMap<number, number>): boolean {
    for (const [client, clock] of clocks) {
      if ((this.#confirmed.get(client) ?? 0) < clock) return false
    }
    return true
  }

  /**
   * Records a state vector from the server's sync step 1, which confirms everything up to it as
   * stored. Returns true when it confirmed something new.
   */
  confirm(serverStateVector: ReadonlyMap<number, number>): boolean {
    let changed = false
    for (const client of this.#clientIds) {
      const clock = serverStateVector.get(client)
      if (clock !== undefined && clock > (this.#confirmed.get(client) ?? 0)) {
        this.#confirmed.set(client, clock)
        changed = true
      }
    }
    if (changed) this.#persistMeta(META.confirmed, () => [...this.#confirmed])
    return changed
  }

  loadOutbox(): Promise<unknown> {
    return this.store.getMeta(META.outbox)
  }

  saveOutbox(entries: unknown): Promise<void> {
    return this.store.setMeta(META.outbox, entries)
  }

  /** Waits for pending writes and stops storing. */
  async close(): Promise<void> {
    this.doc.off('afterTransactionCleanup', this.#onTransactionCleanup)
    await this.#metaQueue
    await this.store.close()
    this.doc.destroy()
  }

  /** Deletes the stored replica with its metadata and client ids. */
  async clear(): Promise<void> {
    this.doc.off('afterTransactionCleanup', this.#onTransactionCleanup)
    await this.#metaQueue
    await this.store.clear()
    this.doc.destroy()
  }

  readonly #onTransactionCleanup = (): void => {
    const client = this.doc.clientID
    if (this.#clientIds.includes(client)) return

    this.#clientIds.push(client)
    this.#persistMeta(META.clientIds, () => this.#clientIds)
  }

  /** Stores a metadata value in order with the others; a key already waiting is not queued twice. */
  #persistMeta(key: string, value: () => unknown): void {
    if (this.#queuedMeta.has(key)) return
    this.#queuedMeta.add(key)
    this.#metaQueue = this.#metaQueue.then(async () => {
      this.#queuedMeta.delete(key)
      try {
        await this.store.setMeta(key, value())
      } catch (error) {
        this.#onError(
          error instanceof ReadmarkError
            ? error
            : new ReadmarkError('storage-failed', `storing "${key}" failed`, { cause: error }),
        )
      }
    })
  }
}

/** Name of a replica in its storage; `/` is outside the id pattern, so names never collide. */
function replicaName(identity: ReplicaIdentity): string {
  return `${identity.userId}/${identity.groupId}`
}

/** Returns a random uint32 client id that the document has no structs of. */
function unusedClientId(doc: Y.Doc): number {
  for (let attempt = 0; attempt < 16; attempt += 1) {
    const candidate = crypto.getRandomValues(new Uint32Array(1))[0] as number
    if (!doc.store.clients.has(candidate)) return candidate
  }
  throw new ReadmarkError('storage-failed', 'no unused Yjs client id found in 16 random draws')
}
