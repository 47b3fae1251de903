import { CloseCode, isCurrentMember } from '@readmark/shared'
import type { Logger } from 'pino'
import type { RawData, WebSocket } from 'ws'
import * as awarenessProtocol from 'y-protocols/awareness'
import type { Caller } from '../auth.ts'
import type { ServerMetrics } from '../metrics.ts'
import { writeEncodedFrame } from './frame.ts'
import {
  type ClientMessage,
  ProtocolError,
  readMessage,
  writeAwareness,
  writePermissionDenied,
  writeSyncStep2,
} from './protocol.ts'
import type { Room, RoomConnection } from './room.ts'

export interface ConnectionOptions {
  logger: Logger
  metrics: ServerMetrics
  maxRejectionsPerMinute: number
  /** Bytes a connection may leave unread before it is dropped as a slow consumer. */
  maxBufferedBytes: number
  onClose: (connection: Connection) => void
}

/** One WebSocket syncing one group for one caller. */
export class Connection implements RoomConnection {
  readonly awarenessIds = new Set<number>()
  /** Cleared by each heartbeat ping and set again by the pong. */
  alive = true
  readonly #socket: WebSocket
  readonly #room: Room
  readonly #caller: Caller
  readonly #options: ConnectionOptions
  readonly #rejections: number[] = []

  constructor(socket: WebSocket, room: Room, caller: Caller, options: ConnectionOptions) {
    this.#socket = socket
    this.#room = room
    this.#caller = caller
    this.#options = options
  }

  get userId(): string {
    return this.#caller.userId
  }

  get groupId(): string {
    return this.#room.id
  }

  /** Joins the room, greets the client and starts handling its frames. */
  start(): void {
    this.#room.connections.add(this)
    this.#socket.on('message', (data, isBinary) => this.#onFrame(data, isBinary))
    this.#socket.on('pong', () => {
      this.alive = true
    })
    this.#socket.on('close', () => {
      this.#room.removeConnection(this)
      this.#options.onClose(this)
    })
    this.#socket.on('error', (error) => {
      this.#options.logger.warn(
        { err: error, user: this.userId, group: this.groupId },
        'socket error',
      )
    })
    this.#room.greet(this)
  }

  send(frame: Uint8Array): void {
    if (this.#socket.readyState !== this.#socket.OPEN) return
    this.#socket.send(frame, { binary: true }, (error) => {
      if (error !== undefined && error !== null) this.close(CloseCode.goingAway, 'send failed')
    })
  }

  sendEncoded(frame: Buffer): void {
    const buffered = writeEncodedFrame(this.#socket, frame)
    if (buffered > this.#options.maxBufferedBytes) {
      this.#options.logger.warn(
        { user: this.userId, group: this.groupId, buffered },
        'dropping a connection that does not read its frames',
      )
      this.#socket.terminate()
    }
  }

  close(code: number, reason: string): void {
    if (this.#socket.readyState === this.#socket.CLOSED) return
    this.#socket.close(code, reason)
  }

  /** Pings the client, and drops a client that sent no pong for the previous ping. */
  heartbeat(): void {
    if (!this.alive) {
      this.#options.logger.info(
        { user: this.userId, group: this.groupId },
        'connection missed a heartbeat',
      )
      this.#socket.terminate()
      return
    }
    this.alive = false
    this.#socket.ping()
  }

  #onFrame(data: RawData, isBinary: boolean): void {
    let message: ClientMessage
    try {
      if (!isBinary) throw new ProtocolError('text frame; the protocol is binary')
      message = readMessage(toBytes(data))
    } catch (error) {
      this.#options.logger.warn(
        { err: error, user: this.userId, group: this.groupId },
        'protocol error',
      )
      this.close(CloseCode.policyViolation, 'protocol error')
      return
    }

    switch (message.type) {
      case 'sync-step1':
        this.send(writeSyncStep2(this.#room.doc, message.stateVector))
        return
      case 'update':
        this.#onUpdate(message.update)
        return
      case 'awareness':
        try {
          awarenessProtocol.applyAwarenessUpdate(this.#room.awareness, message.update, this)
        } catch (error) {
          this.#options.logger.warn(
            { err: error, user: this.userId, group: this.groupId },
            'invalid awareness update',
          )
          this.close(CloseCode.policyViolation, 'invalid awareness update')
        }
        return
      case 'query-awareness': {
        const clients = [...this.#room.awareness.getStates().keys()]
        this.send(
          writeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.#room.awareness, clients)),
        )
        return
      }
      case 'auth':
        return
    }
  }

  #onUpdate(update: Uint8Array): void {
    // A service connection watches groups; it has no receipt keys of its own to write.
    if (this.#caller.service) {
      this.#reject('read-only', 'a service connection cannot write; use POST /v1/groups/:gid/read')
      return
    }
    if (!isCurrentMember(this.#room.summary.members.get(this.userId))) {
      this.#reject('not-member', 'the user is not a member of this group')
      this.close(CloseCode.notMember, 'not a member')
      return
    }

    const verdict = this.#room.receiveUpdate(this, update)
    if (!verdict.ok) this.#reject(verdict.reason, verdict.detail)
  }

  #reject(reason: string, detail: string): void {
    const { logger, metrics, maxRejectionsPerMinute } = this.#options
    metrics.updatesRejected.inc({ reason })
    logger.warn({ user: this.userId, group: this.groupId, reason, detail }, 'update rejected')
    this.send(writePermissionDenied(`${reason}: ${detail}`))

    const now = Date.now()
    this.#rejections.push(now)
    while ((this.#rejections[0] as number) < now - 60_000) this.#rejections.shift()
    if (this.#rejections.length > maxRejectionsPerMinute) {
      logger.warn(
        { user: this.userId, group: this.groupId },
        'closing a connection that keeps sending rejected updates',
      )
      this.close(CloseCode.policyViolation, 'too many rejected updates')
    }
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data))
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}
