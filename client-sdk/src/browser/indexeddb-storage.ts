import * as idb from 'lib0/indexeddb'
import { IndexeddbPersistence } from 'y-indexeddb'
import type * as Y from 'yjs'
import { ReadmarkError } from '../errors.ts'
import type { ClientStorage, OpenStorage, ReplicaStore } from '../storage.ts'

/**
 * Creates a storage in the browser, under the Web Lock `readmark:<name>`. Each replica gets an
 * IndexedDB database named `<name>/<userId>/<groupId>`, written by y-indexeddb. A second tab of
 * the same origin that opens the same storage is rejected with `storage-locked` until the first
 * one closes it.
 */
export function indexedDbStorage(name = 'readmark'): ClientStorage {
  if (typeof name !== 'string' || name === '') {
    throw new ReadmarkError('invalid-argument', 'indexedDbStorage needs a non-empty name')
  }
  return { open: () => openIndexedDbStorage(name) }
}

async function openIndexedDbStorage(name: string): Promise<OpenStorage> {
  const releaseLock = await acquireWebLock(`readmark:${name}`)
  const replicas = new Set<ReplicaStore>()

  return {
    openReplica: async (replicaName, doc) => {
      const replica = await openIndexedDbReplica(`${name}/${replicaName}`, doc, () =>
        replicas.delete(replica),
      )
      replicas.add(replica)
      return replica
    },
    close: async () => {
      await Promise.all([...replicas].map((replica) => replica.close()))
      releaseLock()
    },
  }
}

/**
 * Takes an exclusive Web Lock without waiting for it; returns the function that releases it. The
 * lock is held for as long as the callback's promise is pending.
 */
async function acquireWebLock(lockName: string): Promise<() => void> {
  const locks = globalThis.navigator?.locks
  if (locks === undefined) {
    throw new ReadmarkError(
      'invalid-argument',
      'indexedDbStorage needs the Web Locks API, which browsers offer only in secure contexts (https or localhost)',
    )
  }

  let release: () => void = () => undefined
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  const acquired = await new Promise<boolean>((resolve, reject) => {
    locks
      .request(lockName, { mode: 'exclusive', ifAvailable: true }, (lock) => {
        resolve(lock !== null)
        return lock === null ? undefined : held
      })
      .catch(reject)
  })
  if (!acquired) {
    throw new ReadmarkError(
      'storage-locked',
      `the storage "${lockName}" is open in another tab or worker of this origin; close it there first`,
    )
  }
  return release
}

async function openIndexedDbReplica(
  databaseName: string,
  doc: Y.Doc,
  onClose: () => void,
): Promise<ReplicaStore> {
  // IndexeddbPersistence loads the stored updates into doc, then stores every update of doc.
  const persistence = new IndexeddbPersistence(databaseName, doc)
  await persistence.whenSynced
  let open = true

  const stop = async (): Promise<void> => {
    if (!open) return
    open = false
    await persistence.destroy()
    onClose()
  }

  return {
    flushed: async () => {
      // IndexedDB runs transactions on one store in the order they were created, so this read
      // finishes after every write y-indexeddb started before it.
      // NOTE: y-indexeddb 9.0.12 drops the result of its writes, so a failed write goes unnoticed
      // here, unlike in leveldbStorage.
      const db = persistence.db
      if (db === null || !open) return
      const [updates] = idb.transact(db, ['updates'], 'readonly')
      await idb.count(updates as IDBObjectStore)
    },
    getMeta: (key) => persistence.get(key),
    setMeta: async (key, value) => {
      await persistence.set(key, value as never)
    },
    clear: async () => {
      open = false
      await persistence.clearData()
      onClose()
    },
    close: stop,
  }
}
