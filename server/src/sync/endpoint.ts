import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { CloseCode, ID_PATTERN, isCurrentMember } from '@readmark/shared'
import type { Logger } from 'pino'
import { WebSocketServer } from 'ws'
import { type Caller, verifyToken } from '../auth.ts'
import type { ServerMetrics } from '../metrics.ts'
import type { SummaryService } from '../summaries.ts'
import { Connection } from './connection.ts'
import type { Rooms } from './rooms.ts'

/** Path prefix of the sync endpoint; the group id follows it. */
export const SYNC_PATH = '/v1/sync/'

export interface SyncEndpointOptions {
  authSecret: string
  maxFrameBytes: number
  maxConnectionsPerUser: number
  maxRejectionsPerMinute: number
  heartbeatMs: number
  rooms: Rooms
  summaries: SummaryService
  metrics: ServerMetrics
  logger: Logger
}

/**
 * The WebSocket side of the server: checks token, group and membership before a socket joins a
 * room, and gives every refusal its own close code from the shared table.
 */
export class SyncEndpoint {
  readonly #options: SyncEndpointOptions
  readonly #wss: WebSocketServer
  readonly #connections = new Set<Connection>()
  readonly #perUser = new Map<string, number>()
  readonly #heartbeat: NodeJS.Timeout

  constructor(options: SyncEndpointOptions) {
    this.#options = options
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes })
    this.#heartbeat = setInterval(() => {
      for (const connection of this.#connections) connection.heartbeat()
    }, options.heartbeatMs)
    this.#heartbeat.unref()
  }

  /** Handles an HTTP upgrade request; anything outside SYNC_PATH gets 404. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(request.url ?? '/', 'http://localhost')
    if (!url.pathname.startsWith(SYNC_PATH)) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
      return
    }
    socket.on('error', () => socket.destroy())

    void this.#admit(url).then(
      (admission) => this.#complete(request, socket, head, admission),
      (error: unknown) => {
        this.#options.logger.error({ err: error }, 'sync admission failed')
        this.#complete(request, socket, head, {
          closeCode: CloseCode.goingAway,
          reason: 'server error',
        })
      },
    )
  }

  /** Closes every connection of a user in a group, for example after the user was removed. */
  closeUser(groupId: string, userId: string, code: number, reason: string): void {
    for (const connection of this.#connections) {
      if (connection.groupId === groupId && connection.userId === userId)
        connection.close(code, reason)
    }
  }

  /** Closes every connection with 1001 and stops the heartbeat. */
  close(): void {
    clearInterval(this.#heartbeat)
    for (const connection of this.#connections)
      connection.close(CloseCode.goingAway, 'server shutting down')
    this.#wss.close()
  }

  async #admit(url: URL): Promise<Admission> {
    const { summaries, authSecret, maxConnectionsPerUser } = this.#options
    let caller: Caller
    try {
      caller = await verifyToken(authSecret, url.searchParams.get('token') ?? undefined)
    } catch (error) {
      return { closeCode: CloseCode.invalidToken, reason: (error as Error).message }
    }

    const groupId = decodeURIComponent(url.pathname.slice(SYNC_PATH.length))
    if (!ID_PATTERN.test(groupId))
      return { closeCode: CloseCode.invalidGroupId, reason: 'invalid group id' }

    const summary = await summaries.get(groupId)
    if (summary === undefined)
      return { closeCode: CloseCode.groupNotFound, reason: 'group not found' }
    if (!caller.service && !isCurrentMember(summary.members.get(caller.userId))) {
      return { closeCode: CloseCode.notMember, reason: 'not a member of this group' }
    }
    if ((this.#perUser.get(caller.userId) ?? 0) >= maxConnectionsPerUser) {
      return { closeCode: CloseCode.tooManyConnections, reason: 'too many connections' }
    }
    return { caller, groupId }
  }

  #complete(request: IncomingMessage, socket: Duplex, head: Buffer, admission: Admission): void {
    if ('closeCode' in admission) {
      this.#wss.handleUpgrade(request, socket, head, (ws) =>
        ws.close(admission.closeCode, admission.reason),
      )
      return
    }

    const { caller, groupId } = admission
    this.#perUser.set(caller.userId, (this.#perUser.get(caller.userId) ?? 0) + 1)
    const released = () => this.#release(caller.userId)

    // The room is loaded before the socket is accepted, so the first sync contains the stored state.
    this.#options.rooms
      .use(groupId, (room) => {
        this.#wss.handleUpgrade(request, socket, head, (ws) => {
          const connection = new Connection(ws, room, caller, {
            logger: this.#options.logger,
            metrics: this.#options.metrics,
            maxRejectionsPerMinute: this.#options.maxRejectionsPerMinute,
            maxBufferedBytes: 16 * this.#options.maxFrameBytes,
            onClose: (closed) => {
              this.#connections.delete(closed)
              this.#options.metrics.connections.set(this.#connections.size)
              released()
              if (room.connections.size === 0) this.#options.rooms.scheduleUnload(groupId)
              this.#options.logger.debug(
                { user: caller.userId, group: groupId },
                'connection closed',
              )
            },
          })
          this.#connections.add(connection)
          this.#options.metrics.connections.set(this.#connections.size)
          connection.start()
          this.#options.logger.debug({ user: caller.userId, group: groupId }, 'connection opened')
        })
      })
      .catch((error: unknown) => {
        released()
        this.#options.logger.error(
          { err: error, group: groupId },
          'loading the group for a connection failed',
        )
        socket.destroy()
      })
  }

  #release(userId: string): void {
    const count = (this.#perUser.get(userId) ?? 1) - 1
    if (count === 0) this.#perUser.delete(userId)
    else this.#perUser.set(userId, count)
  }
}

type Admission = { caller: Caller; groupId: string } | { closeCode: number; reason: string }
