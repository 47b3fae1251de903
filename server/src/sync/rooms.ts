import { ClientOwners, META_HEAD, META_SERVER_CLIENT_ID, readWatermarks } from '@readmark/shared'
import type * as Y from 'yjs'
import { AppError } from '../errors.ts'
import type { GroupRecord } from '../storage/summary-store.ts'
import { Room, type RoomDependencies } from './room.ts'

/**
 * The registry of loaded rooms. A room loads on first use, after its summary shows that the
 * group exists, and unloads once it has had no connection and no use for idleUnloadMs.
 */
export class Rooms {
  readonly #deps: RoomDependencies
  readonly #idleUnloadMs: number
  readonly #rooms = new Map<string, Promise<Room>>()
  /** Unloads in progress; each resolves with the room when it had to stay in memory. */
  readonly #unloading = new Map<string, Promise<Room | undefined>>()
  readonly #idleTimers = new Map<string, NodeJS.Timeout>()
  /** Uses in progress per group (connections being set up, REST writes), which block unloading. */
  readonly #holds = new Map<string, number>()

  constructor(deps: RoomDependencies, idleUnloadMs: number) {
    this.#deps = deps
    this.#idleUnloadMs = idleUnloadMs
  }

  get loadedCount(): number {
    return this.#rooms.size
  }

  /** Returns the room if it is loaded, without loading it. */
  async peek(groupId: string): Promise<Room | undefined> {
    return this.#rooms.get(groupId)
  }

  /**
   * Runs use with the group's room, loading it when needed, and keeps the room loaded until use
   * has finished. Throws AppError `not_found` for an unknown group.
   */
  async use<T>(groupId: string, use: (room: Room) => Promise<T> | T): Promise<T> {
    this.#holds.set(groupId, (this.#holds.get(groupId) ?? 0) + 1)
    try {
      const room = await this.#load(groupId)
      return await use(room)
    } finally {
      const holds = (this.#holds.get(groupId) ?? 1) - 1
      if (holds === 0) this.#holds.delete(groupId)
      else this.#holds.set(groupId, holds)
      this.scheduleUnload(groupId)
    }
  }

  /** Creates the document of a new group, with the server's writes of its first state. */
  async create(group: GroupRecord, doc: Y.Doc): Promise<Room> {
    const summary = await this.#deps.summaries.get(group.id)
    if (summary === undefined) throw new AppError('not_found', `group "${group.id}" not found`)

    const room = new Room(group.id, doc, summary, ClientOwners.fromDoc(doc), this.#deps)
    this.#rooms.set(group.id, Promise.resolve(room))
    this.#deps.metrics.loadedDocuments.set(this.#rooms.size)
    return room
  }

  /** Starts the idle timer of a room that has no connection and no use in progress. */
  scheduleUnload(groupId: string): void {
    const existing = this.#idleTimers.get(groupId)
    if (existing !== undefined) clearTimeout(existing)

    const timer = setTimeout(() => {
      this.#idleTimers.delete(groupId)
      void this.#unloadIfIdle(groupId)
    }, this.#idleUnloadMs)
    timer.unref()
    this.#idleTimers.set(groupId, timer)
  }

  /** Unloads every room, storing what is queued. */
  async closeAll(): Promise<void> {
    for (const timer of this.#idleTimers.values()) clearTimeout(timer)
    this.#idleTimers.clear()
    const rooms = await Promise.allSettled(this.#rooms.values())
    this.#rooms.clear()
    for (const result of rooms) {
      if (result.status === 'fulfilled') await result.value.close()
    }
    await Promise.all(this.#unloading.values())
  }

  async #unloadIfIdle(groupId: string): Promise<void> {
    const loading = this.#rooms.get(groupId)
    if (loading === undefined || (this.#holds.get(groupId) ?? 0) > 0) return

    const room = await loading
    if (room.connections.size > 0 || room.hasPending || this.#rooms.get(groupId) !== loading) return

    this.#rooms.delete(groupId)
    this.#deps.metrics.loadedDocuments.set(this.#rooms.size)
    // A room whose last store fails stays in memory: the next load takes it back instead of
    // reading LevelDB, which lacks its newest updates.
    const unloading = room
      .close()
      .then(
        async () => {
          await this.#deps.docStore.compact(groupId)
          this.#deps.logger.debug({ group: groupId }, 'document unloaded')
          return undefined
        },
        (error: unknown) => {
          this.#deps.logger.error(
            { err: error, group: groupId },
            'document unload failed; keeping it in memory',
          )
          if (!this.#rooms.has(groupId)) {
            this.#rooms.set(groupId, Promise.resolve(room))
            this.#deps.metrics.loadedDocuments.set(this.#rooms.size)
          }
          this.scheduleUnload(groupId)
          return room
        },
      )
      .finally(() => this.#unloading.delete(groupId))
    this.#unloading.set(groupId, unloading)
  }

  #load(groupId: string): Promise<Room> {
    const loaded = this.#rooms.get(groupId)
    if (loaded !== undefined) return loaded

    const loading = this.#read(groupId)
    this.#rooms.set(groupId, loading)
    loading.then(
      () => this.#deps.metrics.loadedDocuments.set(this.#rooms.size),
      () => this.#rooms.delete(groupId),
    )
    return loading
  }

  async #read(groupId: string): Promise<Room> {
    const kept = await this.#unloading.get(groupId)
    if (kept !== undefined) return kept
    const summary = await this.#deps.summaries.get(groupId)
    if (summary === undefined) throw new AppError('not_found', `group "${groupId}" not found`)

    const started = performance.now()
    const doc = await this.#deps.docStore.load(groupId)
    doc.clientID = summary.group.serverClientId
    const room = new Room(groupId, doc, summary, ClientOwners.fromDoc(doc), this.#deps)

    // The summaries are written after the document; after a crash between the two, catch up here.
    const watermarks = readWatermarks(room.group.receipts)
    await this.#deps.summaries.advance(summary, watermarks, Date.now())

    this.#deps.logger.info(
      {
        group: groupId,
        head: room.group.meta.get(META_HEAD) ?? 0,
        serverClientId: room.group.meta.get(META_SERVER_CLIENT_ID),
        clients: doc.store.clients.size,
        ms: Math.round(performance.now() - started),
      },
      'document loaded',
    )
    return room
  }
}
