import { randomUUID } from 'node:crypto'
import { readFile, stat, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { ReadmarkError } from '../errors.ts'

/** Content of a lock file. */
interface LockOwner {
  pid: number
  hostname: string
  /** Random per acquisition, so that release() never deletes a lock another instance took over. */
  token: string
  acquiredAt: number
}

/** A held lock file. */
export interface LockFile {
  readonly path: string
  release(): Promise<void>
}

/** A lock file that cannot be parsed is taken for one being written, until it is this old, in ms. */
const UNREADABLE_LOCK_GRACE_MS = 5_000
const MAX_ATTEMPTS = 3

/**
 * Takes the lock file at path, created with O_EXCL and holding the owner's pid and host name.
 * A lock whose process no longer runs on this host is stale and taken over. Rejects with
 * ReadmarkError `storage-locked` while a running process owns it, including another client in
 * this process.
 */
export async function acquireLockFile(path: string): Promise<LockFile> {
  const owner: LockOwner = {
    pid: process.pid,
    hostname: hostname(),
    token: randomUUID(),
    acquiredAt: Date.now(),
  }

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
    try {
      await writeFile(path, JSON.stringify(owner), { flag: 'wx' })
      return { path, release: () => releaseLockFile(path, owner.token) }
    } catch (error) {
      if (!isErrorCode(error, 'EEXIST')) {
        throw new ReadmarkError('storage-failed', `creating the lock file ${path} failed`, {
          cause: error,
        })
      }
    }

    const holder = await readOwner(path)
    if (holder === 'missing') continue
    if (holder === 'unreadable') {
      if (await isOlderThan(path, UNREADABLE_LOCK_GRACE_MS)) await removeStale(path)
      else throw lockedError(path, 'a lock file that is being written')
      continue
    }
    if (isHeld(holder)) {
      throw lockedError(path, `process ${holder.pid} on host "${holder.hostname}"`)
    }
    await removeStale(path)
  }
  throw lockedError(path, 'other processes that keep taking it')
}

async function releaseLockFile(path: string, token: string): Promise<void> {
  const holder = await readOwner(path)
  if (typeof holder === 'object' && holder.token === token)
    await unlink(path).catch(() => undefined)
}

async function readOwner(path: string): Promise<LockOwner | 'missing' | 'unreadable'> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if (isErrorCode(error, 'ENOENT')) return 'missing'
    throw new ReadmarkError('storage-failed', `reading the lock file ${path} failed`, {
      cause: error,
    })
  }

  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>
    if (typeof parsed.pid !== 'number' || typeof parsed.hostname !== 'string') return 'unreadable'
    return parsed as LockOwner
  } catch {
    return 'unreadable'
  }
}

/**
 * Tells whether the owner may still run. Only a process on this host can be checked; a lock from
 * another host, for example on a shared network folder, counts as held. A pid that the system has
 * given to a new process since also counts as held, until that process ends.
 */
function isHeld(owner: LockOwner): boolean {
  if (owner.hostname !== hostname()) return true
  if (owner.pid === process.pid) return true
  try {
    process.kill(owner.pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return !isErrorCode(error, 'ESRCH')
  }
}

async function isOlderThan(path: string, ageMs: number): Promise<boolean> {
  try {
    const info = await stat(path)
    return Date.now() - info.mtimeMs > ageMs
  } catch {
    return true
  }
}

async function removeStale(path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (error) {
    if (!isErrorCode(error, 'ENOENT')) {
      throw new ReadmarkError('storage-failed', `removing the stale lock file ${path} failed`, {
        cause: error,
      })
    }
  }
}

function lockedError(path: string, holder: string): ReadmarkError {
  return new ReadmarkError(
    'storage-locked',
    `the storage is locked by ${holder} (${path}); close the other instance or use another folder`,
  )
}

function isErrorCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === code
}
