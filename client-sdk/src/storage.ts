import type * as Y from 'yjs'

/**
 * The place a client keeps its group replicas in: leveldbStorage in Node and desktop apps,
 * indexedDbStorage in browsers, memoryStorage when nothing should outlive the process.
 */
export interface ClientStorage {
  /**
   * Takes the storage's exclusive lock and opens it. Rejects with ReadmarkError `storage-locked`
   * while another running instance holds the lock, because two instances would write with the
   * same Yjs client ids.
   */
  open(): Promise<OpenStorage>
}

/** A storage whose lock this instance holds. */
export interface OpenStorage {
  /**
   * Opens one replica: applies its stored updates to doc in non-local transactions, then stores
   * every later update of doc until close.
   */
  openReplica(name: string, doc: Y.Doc): Promise<ReplicaStore>
  /** Closes every store and releases the lock. */
  close(): Promise<void>
}

/** The stored state of one replica. */
export interface ReplicaStore {
  /**
   * Resolves once every update that doc emitted before the call is stored. Rejects with
   * ReadmarkError `storage-failed` when one of them could not be stored.
   */
  flushed(): Promise<void>
  /** Returns a metadata value, undefined when it was never set. */
  getMeta(key: string): Promise<unknown>
  setMeta(key: string, value: unknown): Promise<void>
  /** Deletes the replica's updates and metadata and stops storing. */
  clear(): Promise<void>
  /** Finishes pending writes and stops storing. */
  close(): Promise<void>
}

/** Transaction origin of the updates leveldbStorage loads into a document. */
export const STORAGE_ORIGIN = Symbol('readmark storage')

/**
 * Creates a storage that keeps nothing: each start opens empty replicas with new Yjs client ids,
 * which stay in the group documents for good. Meant for tests and short-lived scripts.
 */
export function memoryStorage(): ClientStorage {
  return {
    open: async () => ({
      openReplica: async () => {
        const meta = new Map<string, unknown>()
        return {
          flushed: async () => undefined,
          getMeta: async (key) => meta.get(key),
          setMeta: async (key, value) => {
            meta.set(key, value)
          },
          clear: async () => meta.clear(),
          close: async () => undefined,
        }
      },
      close: async () => undefined,
    }),
  }
}
