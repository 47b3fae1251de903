import { CloseCode } from '@readmark/shared'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as authProtocol from 'y-protocols/auth'
import { Awareness } from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import { messageAuth, messageSync, WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { type BackoffOptions, jitteredDelay } from './backoff.ts'
import { ReadmarkError } from './errors.ts'
import { STORAGE_ORIGIN } from './storage.ts'
import type { TokenSource } from './tokens.ts'
import type { ConnectionStatus } from './types.ts'

/**
 * Backoff step of the first reconnect after a 1001 close (server going away): the delay is drawn
 * from up to 2^3 times the base, which is 2 s with the default base of 250 ms.
 */
const GOING_AWAY_FIRST_ATTEMPT = 3

/** A WebSocket class: the browser's, or `WebSocket` from the `ws` package in Node 20. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => unknown

type ProviderWebSocket = NonNullable<
  NonNullable<ConstructorParameters<typeof WebsocketProvider>[3]>['WebSocketPolyfill']
>

/** Callbacks through which a SyncConnection reports to its session. */
export interface SyncConnectionHandlers {
  status(status: ConnectionStatus): void
  /** A sync step 1 from the server: its state vector, which confirms stored updates. */
  serverStateVector(stateVector: Map<number, number>): void
  /** The server rejected an update (permission denied) with this reason. */
  rejected(reason: string): void
  /** The server closed with 1008: the connection sent what the server will never take. */
  policyViolation(): void
  /** A problem the connection recovers from by itself, such as a failed token refresh. */
  error(error: ReadmarkError): void
  /** The connection stopped for good, for example because the user is no longer a member. */
  stopped(error: ReadmarkError): void
}

export interface SyncConnectionOptions {
  /** `ws://HOST:PORT/v1/sync`; the group id is appended. */
  url: string
  groupId: string
  doc: Y.Doc
  tokens: TokenSource
  WebSocket: WebSocketConstructor
  reconnect: BackoffOptions
  /** The Yjs client ids this replica writes with; only their structs are sent. */
  ownClientIds: () => ReadonlySet<number>
  /** Resolves once the local store has every update the document emitted before the call. */
  flushed: () => Promise<void>
  handlers: SyncConnectionHandlers
}

/**
 * The sync connection of one group replica, on a y-websocket WebsocketProvider with three changes:
 *
 * - Nothing is sent before the local store has it. Local updates and the replies to the server's
 *   sync step 1 wait for the store. Otherwise a crash could erase a struct from the replica that
 *   the server already has, and the replica would write its client id and clock again with other
 *   content.
 * - Only structs of the replica's own client ids are sent. An incremental update goes out only
 *   after the connection has replied to the server's first step 1, because an update sent earlier
 *   could leave a gap after what the server has, which the server rejects.
 * - Reconnects wait a jittered exponential backoff, 4401 asks getToken for a new token, and 4403,
 *   4404 and 4400 stop the connection.
 */
export class SyncConnection {
  readonly #options: SyncConnectionOptions
  readonly #provider: WebsocketProvider
  readonly #awareness: Awareness
  #status: ConnectionStatus = 'offline'
  /** True while the application wants the connection open. */
  #wanted = false
  #destroyed = false
  #attempt = 0
  #timer: ReturnType<typeof setTimeout> | null = null
  #refreshToken = false
  /** Frames wait here, in order, for the local store. */
  #sendQueue: Promise<void> = Promise.resolve()
  /** The socket that has replied to the server's first step 1; only it gets incremental updates. */
  #repliedSocket: unknown = null

  constructor(options: SyncConnectionOptions) {
    this.#options = options
    // The provider renews the local awareness state every 15 s; that traffic keeps its 30 s
    // silence check from closing quiet connections.
    this.#awareness = new Awareness(options.doc)
    this.#provider = new WebsocketProvider(options.url, options.groupId, options.doc, {
      connect: false,
      awareness: this.#awareness,
      WebSocketPolyfill: options.WebSocket as unknown as ProviderWebSocket,
      disableBc: true,
      shouldReconnect: () => true,
    })

    const provider = this.#provider
    // The provider's exit handler only clears awareness state, and one per group would exceed
    // Node's default of 10 listeners for the process `exit` event.
    if (typeof process !== 'undefined' && typeof process.off === 'function') {
      process.off('exit', provider._exitHandler)
    }
    options.doc.off('update', provider._updateHandler)
    options.doc.on('update', this.#onDocUpdate)
    provider.messageHandlers[messageSync] = this.#onSyncMessage
    provider.messageHandlers[messageAuth] = (_encoder, decoder) => {
      authProtocol.readAuthMessage(decoder, options.doc, (_doc, reason) =>
        options.handlers.rejected(reason),
      )
    }
    provider.on('status', ({ status }) => {
      if (status === 'connecting') this.#setStatus('connecting')
      else if (status === 'connected') this.#setStatus('syncing')
    })
    provider.on('sync', (synced) => {
      if (!synced) return
      this.#attempt = 0
      this.#setStatus('synced')
    })
    provider.on('connection-close', (event) => this.#onClose(event))
  }

  get status(): ConnectionStatus {
    return this.#status
  }

  /** Opens the connection, now, and keeps it open until disconnect(). */
  connect(): void {
    if (this.#destroyed) return
    this.#wanted = true
    this.#attempt = 0
    this.#clearTimer()
    void this.#open()
  }

  /** Closes the connection and stops reconnecting. */
  disconnect(): void {
    this.#wanted = false
    this.#clearTimer()
    this.#provider.disconnect()
    this.#setStatus('offline')
  }

  /** Closes the connection for good and releases the provider's timers. */
  destroy(): void {
    if (this.#destroyed) return
    this.disconnect()
    this.#destroyed = true
    this.#options.doc.off('update', this.#onDocUpdate)
    this.#provider.destroy()
    this.#awareness.destroy()
  }

  async #open(): Promise<void> {
    if (!this.#wanted || this.#destroyed || this.#provider.ws !== null) return

    let token: string
    try {
      token = this.#refreshToken
        ? await this.#options.tokens.refresh()
        : await this.#options.tokens.current()
      this.#refreshToken = false
    } catch (error) {
      this.#options.handlers.error(asReadmarkError(error))
      this.#scheduleReconnect()
      return
    }

    if (!this.#wanted || this.#destroyed || this.#provider.ws !== null) return
    this.#provider.params = { token }
    this.#provider.connect()
  }

  #onClose(event: CloseEvent | null): void {
    // The provider would reconnect on its own, without jitter; this class schedules it instead.
    this.#provider.shouldConnect = false
    this.#repliedSocket = null
    this.#setStatus('offline')
    if (!this.#wanted || this.#destroyed) return

    const { handlers, groupId } = this.#options
    switch (event?.code) {
      case CloseCode.notMember:
        this.#stop(
          new ReadmarkError('not-member', `the user is not a member of group "${groupId}"`),
        )
        return
      case CloseCode.groupNotFound:
        this.#stop(new ReadmarkError('group-not-found', `group "${groupId}" does not exist`))
        return
      case CloseCode.invalidGroupId:
        this.#stop(new ReadmarkError('invalid-argument', `"${groupId}" is not a valid group id`))
        return
      case CloseCode.invalidToken:
        if (!this.#options.tokens.refreshable) {
          this.#stop(
            new ReadmarkError(
              'invalid-token',
              'the server rejected the token and there is no getToken to replace it',
            ),
          )
          return
        }
        this.#refreshToken = true
        break
      case CloseCode.policyViolation:
        handlers.policyViolation()
        break
      case CloseCode.goingAway:
        // Every client of a restarting server gets this at once: start with a wider window.
        this.#attempt = Math.max(this.#attempt, GOING_AWAY_FIRST_ATTEMPT)
        break
    }
    this.#scheduleReconnect()
  }

  #stop(error: ReadmarkError): void {
    this.#wanted = false
    this.#clearTimer()
    this.#options.handlers.stopped(error)
  }

  #scheduleReconnect(): void {
    if (!this.#wanted || this.#destroyed) return
    this.#clearTimer()
    const delay = jitteredDelay(this.#attempt, this.#options.reconnect)
    this.#attempt += 1
    this.#timer = setTimeout(() => {
      this.#timer = null
      void this.#open()
    }, delay)
  }

  #clearTimer(): void {
    if (this.#timer === null) return
    clearTimeout(this.#timer)
    this.#timer = null
  }

  #setStatus(status: ConnectionStatus): void {
    if (this.#status === status) return
    this.#status = status
    this.#options.handlers.status(status)
  }

  readonly #onSyncMessage = (
    _encoder: encoding.Encoder,
    decoder: decoding.Decoder,
    provider: WebsocketProvider,
    emitSynced: boolean,
  ): void => {
    const doc = this.#options.doc
    const syncType = decoding.readVarUint(decoder)
    switch (syncType) {
      case syncProtocol.messageYjsSyncStep1: {
        const stateVector = decoding.readVarUint8Array(decoder)
        // NOTE: the server's first step 1 on a connection contains its in-memory state, which may
        // include a batch whose store is still running; PROTOCOL.md counts it as a confirmation.
        this.#options.handlers.serverStateVector(Y.decodeStateVector(stateVector))
        this.#replyToStep1(stateVector)
        return
      }
      case syncProtocol.messageYjsSyncStep2:
        syncProtocol.readSyncStep2(decoder, doc, provider)
        if (emitSynced && !provider.synced) provider.synced = true
        return
      case syncProtocol.messageYjsUpdate:
        syncProtocol.readUpdate(decoder, doc, provider)
        return
      default:
        throw new Error(`unknown sync message type ${syncType}`)
    }
  }

  /**
   * Replies to the server's step 1 with the structs of the own client ids the server lacks. The
   * update is encoded now, so that it contains only what the store has been asked to write, and
   * sent once the store has it.
   */
  #replyToStep1(serverStateVector: Uint8Array): void {
    const doc = this.#options.doc
    const ownIds = this.#options.ownClientIds()
    const target = Y.decodeStateVector(serverStateVector)
    for (const client of doc.store.clients.keys()) {
      if (ownIds.has(client)) continue
      target.set(client, Math.max(Y.getState(doc.store, client), target.get(client) ?? 0))
    }
    const update = Y.encodeStateAsUpdate(doc, Y.encodeStateVector(target))
    const socket = this.#provider.ws

    this.#enqueueSend(() => {
      if (this.#provider.ws !== socket) return
      this.#send(syncProtocol.messageYjsSyncStep2, update)
      this.#repliedSocket = socket
    })
  }

  readonly #onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === this.#provider || origin === STORAGE_ORIGIN) return

    this.#enqueueSend(() => {
      if (this.#repliedSocket === null || this.#provider.ws !== this.#repliedSocket) return
      this.#send(syncProtocol.messageYjsUpdate, update)
    })
  }

  /** Runs send after the local store has every update emitted so far, in call order. */
  #enqueueSend(send: () => void): void {
    const flushed = this.#options.flushed()
    this.#sendQueue = this.#sendQueue
      .then(() => flushed)
      .catch((error: unknown) => {
        // NOTE: the frame is still sent. Holding it back would keep the receipt from the server
        // for as long as the disk fails, and only a crash before the next successful store could
        // make the replica write a lost clock again.
        this.#options.handlers.error(asReadmarkError(error))
      })
      .then(send)
  }

  #send(syncType: number, update: Uint8Array): void {
    const socket = this.#provider.ws
    if (socket === null || socket.readyState !== socket.OPEN || !this.#provider.wsconnected) return

    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, messageSync)
    encoding.writeVarUint(encoder, syncType)
    encoding.writeVarUint8Array(encoder, update)
    socket.send(encoding.toUint8Array(encoder))
  }
}

function asReadmarkError(error: unknown): ReadmarkError {
  if (error instanceof ReadmarkError) return error
  return new ReadmarkError('storage-failed', String(error), { cause: error })
}
