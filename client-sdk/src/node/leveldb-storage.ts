import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { LeveldbPersistence } from 'y-leveldb'
import * as Y from 'yjs'
import { ReadmarkError } from '../errors.ts'
import {
  type ClientStorage,
  type OpenStorage,
  type ReplicaStore,
  STORAGE_ORIGIN,
} from '../storage.ts'
import { acquireLockFile } from './lock-file.ts'

/** The parts of an abstract-level database that opening needs. */
interface LevelDatabase {
  open(): Promise<void>
}

/** y-leveldb 0.2.0 runs every operation through this queue; it is how the database is reached. */
interface LeveldbQueue {
  _transact<T>(operation: (db: LevelDatabase) => Promise<T>): Promise<T | null>
}

/**
 * Creates a storage in a folder for Node and desktop apps. `<directory>/replicas` is a LevelDB
 * database (y-leveldb) with every replica and its metadata, and `<directory>/readmark.lock` is the
 * lock file with the owner's pid. LevelDB also locks its folder while open, so even two processes
 * that both took a stale lock file over at once cannot both open the database.
 */
export function leveldbStorage(directory: string): ClientStorage {
  if (typeof directory !== 'string' || directory === '') {
    throw new ReadmarkError('invalid-argument', 'leveldbStorage needs a folder path')
  }
  return { open: () => openLeveldbStorage(directory) }
}

async function openLeveldbStorage(directory: string): Promise<OpenStorage> {
  await mkdir(directory, { recursive: true }).catch((error: unknown) => {
    throw new ReadmarkError('storage-failed', `creating the folder ${directory} failed`, {
      cause: error,
    })
  })
  const lock = await acquireLockFile(join(directory, 'readmark.lock'))

  const persistence = new LeveldbPersistence(join(directory, 'replicas'))
  try {
    // y-leveldb opens the database lazily and only logs a failure, so open it here to see errors.
    const queue = persistence as unknown as LeveldbQueue
    const db = await queue._transact(async (database) => database)
    if (db === null) throw new Error('y-leveldb returned no database')
    await db.open()
  } catch (error) {
    await lock.release()
    const locked = JSON.stringify(error, Object.getOwnPropertyNames(error)).includes('LOCK')
    throw new ReadmarkError(
      locked ? 'storage-locked' : 'storage-failed',
      `opening the LevelDB database in ${directory} failed`,
      { cause: error },
    )
  }

  const replicas = new Set<ReplicaStore>()
  return {
    openReplica: async (name, doc) => {
      const replica = await openLeveldbReplica(persistence, name, doc, () =>
        replicas.delete(replica),
      )
      replicas.add(replica)
      return replica
    },
    close: async () => {
      await Promise.all([...replicas].map((replica) => replica.close()))
      await persistence.destroy()
      await lock.release()
    },
  }
}

async function openLeveldbReplica(
  persistence: LeveldbPersistence,
  name: string,
  doc: Y.Doc,
  onClose: () => void,
): Promise<ReplicaStore> {
  // y-leveldb catches errors inside its queue, logs them and resolves with null. Every call below
  // turns that null into a thrown error, so that a failed write never passes for a stored one.
  const stored = (await persistence.getYDoc(name)) as Y.Doc | null
  if (stored === null) throw storageFailed(`loading replica "${name}" failed`)
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(stored), STORAGE_ORIGIN)
  stored.destroy()

  let tail: Promise<void> = Promise.resolve()
  /** Set after a failed write: the next write stores the whole state, so the replica heals. */
  let failed = false
  let open = true

  const onUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === STORAGE_ORIGIN || !open) return

    tail = tail
      .catch(() => undefined)
      .then(async () => {
        const content = failed ? Y.encodeStateAsUpdate(doc) : update
        const clock = await persistence.storeUpdate(name, content)
        failed = clock === null
        if (failed) throw storageFailed(`storing an update of replica "${name}" failed`)
      })
  }
  doc.on('update', onUpdate)

  const stop = async (): Promise<void> => {
    if (!open) return
    open = false
    doc.off('update', onUpdate)
    await tail.catch(() => undefined)
    onClose()
  }

  return {
    flushed: () => tail,
    getMeta: async (key) => {
      const value: unknown = await persistence.getMeta(name, key)
      if (value === null) throw storageFailed(`reading "${key}" of replica "${name}" failed`)
      return value
    },
    setMeta: async (key, value) => {
      const result: unknown = await persistence.setMeta(name, key, value)
      if (result === null) throw storageFailed(`writing "${key}" of replica "${name}" failed`)
    },
    clear: async () => {
      await stop()
      const result: unknown = await persistence.clearDocument(name)
      if (result === null) throw storageFailed(`deleting replica "${name}" failed`)
    },
    close: stop,
  }
}

function storageFailed(message: string): ReadmarkError {
  return new ReadmarkError('storage-failed', `${message}; y-leveldb logged the cause`)
}
