import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import WebSocket from 'ws'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'

/**
 * A minimal y-websocket client over a raw socket, for tests that need to see every frame: the
 * server's state vectors (confirmations), permission-denied messages and close codes.
 */
export class RawClient {
  readonly doc: Y.Doc
  readonly socket: WebSocket
  /** Reasons of every permission-denied message received. */
  readonly denied: string[] = []
  /** Every state vector the server sent in sync step 1, decoded. */
  readonly serverStateVectors: Array<Map<number, number>> = []
  closeCode: number | null = null
  synced = false
  readonly opened: Promise<void>

  constructor(url: string, doc = new Y.Doc()) {
    this.doc = doc
    this.socket = new WebSocket(url)
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve())
      this.socket.once('error', reject)
    })
    this.socket.on('close', (code) => {
      this.closeCode = code
    })
    this.socket.on('message', (data: Buffer) => this.#onFrame(new Uint8Array(data)))
    this.socket.on('open', () => {
      const encoder = encoding.createEncoder()
      encoding.writeVarUint(encoder, 0)
      syncProtocol.writeSyncStep1(encoder, this.doc)
      this.socket.send(encoding.toUint8Array(encoder))
    })
  }

  /** Sends an update frame as a stock client does for a local change. */
  sendUpdate(update: Uint8Array): void {
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 0)
    syncProtocol.writeUpdate(encoder, update)
    this.socket.send(encoding.toUint8Array(encoder))
  }

  /** Sends raw bytes. */
  sendRaw(frame: Uint8Array): void {
    this.socket.send(frame)
  }

  /** Applies a local change and sends it as one update. */
  change(write: (doc: Y.Doc) => void): Uint8Array {
    let captured: Uint8Array | null = null
    const capture = (update: Uint8Array) => {
      captured = update
    }
    this.doc.on('update', capture)
    this.doc.transact(() => write(this.doc), 'local')
    this.doc.off('update', capture)
    if (captured === null) throw new Error('the change wrote nothing')
    this.sendUpdate(captured)
    return captured
  }

  /** True once a server state vector covers every local struct of this client's own id. */
  confirmed(): boolean {
    const own = Y.getState(this.doc.store, this.doc.clientID)
    return this.serverStateVectors.some((vector) => (vector.get(this.doc.clientID) ?? 0) >= own)
  }

  close(): void {
    this.socket.close()
  }

  #onFrame(frame: Uint8Array): void {
    const decoder = decoding.createDecoder(frame)
    const type = decoding.readVarUint(decoder)
    if (type === 0) {
      const syncType = decoding.readVarUint(decoder)
      const payload = decoding.readVarUint8Array(decoder)
      if (syncType === syncProtocol.messageYjsSyncStep1) {
        this.serverStateVectors.push(Y.decodeStateVector(payload))
        const encoder = encoding.createEncoder()
        encoding.writeVarUint(encoder, 0)
        encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep2)
        encoding.writeVarUint8Array(encoder, Y.encodeStateAsUpdate(this.doc, payload))
        this.socket.send(encoding.toUint8Array(encoder))
      } else {
        Y.applyUpdate(this.doc, payload, 'server')
        if (syncType === syncProtocol.messageYjsSyncStep2) this.synced = true
      }
    } else if (type === 2) {
      decoding.readVarUint(decoder)
      this.denied.push(decoding.readVarString(decoder))
    }
  }
}
