import { LeveldbPersistence } from 'y-leveldb'
import type * as Y from 'yjs'

/** Number of stored updates of one document after which it is compacted into one. */
const COMPACT_AFTER_UPDATES = 1_000

/**
 * Group documents in y-leveldb. y-leveldb catches errors inside its own queue, logs them with
 * console.warn and resolves with null, so store() turns null into a thrown error: a failed write
 * must never pass for a stored one.
 */
export class DocStore {
  readonly #persistence: LeveldbPersistence
  readonly #storedSinceCompaction = new Map<string, number>()

  constructor(location: string) {
    this.#persistence = new LeveldbPersistence(location)
  }

  /** Loads a document from all of its stored updates; an unknown name gives an empty document. */
  load(name: string): Promise<Y.Doc> {
    return this.#persistence.getYDoc(name)
  }

  /** Appends one update; resolves once LevelDB has written it. */
  async store(name: string, update: Uint8Array): Promise<void> {
    const clock = await this.#persistence.storeUpdate(name, update)
    if (clock === null || clock === undefined)
      throw new Error(`y-leveldb failed to store an update of "${name}"`)

    const stored = (this.#storedSinceCompaction.get(name) ?? 0) + 1
    this.#storedSinceCompaction.set(name, stored)
    if (stored >= COMPACT_AFTER_UPDATES) await this.compact(name)
  }

  /** Merges a document's stored updates into one, so that loading it stays fast. */
  async compact(name: string): Promise<void> {
    this.#storedSinceCompaction.delete(name)
    await this.#persistence.flushDocument(name)
  }

  close(): Promise<void> {
    return this.#persistence.destroy()
  }
}
