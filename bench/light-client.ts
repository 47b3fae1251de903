import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'

/**
 * A WebSocket client on a bare TCP socket (RFC 6455), for load tests with thousands of members in
 * one process. It timestamps each binary frame as its bytes arrive and does nothing else. The
 * client process so costs far less per frame than a full client, and the server is what gets
 * measured.
 */
export class LightClient {
  readonly #socket: Socket
  #buffer: Buffer = Buffer.alloc(0)
  #upgraded = false
  readonly opened: Promise<void>
  #resolveOpened!: () => void
  #rejectOpened!: (error: Error) => void

  constructor(
    port: number,
    path: string,
    readonly onFrame: (payload: Buffer, arrivedAt: number) => void,
  ) {
    this.opened = new Promise((resolve, reject) => {
      this.#resolveOpened = resolve
      this.#rejectOpened = reject
    })
    this.#socket = connect({ port, host: '127.0.0.1', noDelay: true })
    this.#socket.on('connect', () => {
      const key = randomBytes(16).toString('base64')
      this.#socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      )
    })
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk, performance.now()))
    this.#socket.on('error', (error) => this.#rejectOpened(error))
  }

  /** Sends one binary frame, masked as RFC 6455 requires of clients. */
  send(payload: Uint8Array, opcode = 0x2): void {
    const length = payload.byteLength
    const header =
      length < 126
        ? Buffer.from([0x80 | opcode, 0x80 | length])
        : Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff])
    if (length >= 65_536) throw new Error('LightClient sends frames under 64 KiB only')
    const mask = randomBytes(4)
    const masked = Buffer.alloc(length)
    for (let i = 0; i < length; i += 1) masked[i] = (payload[i] as number) ^ (mask[i & 3] as number)
    this.#socket.write(Buffer.concat([header, mask, masked]))
  }

  close(): void {
    this.#socket.destroy()
  }

  #onData(chunk: Buffer, arrivedAt: number): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    if (!this.#upgraded) {
      const end = this.#buffer.indexOf('\r\n\r\n')
      if (end < 0) return
      const head = this.#buffer.subarray(0, end).toString('latin1')
      if (!head.startsWith('HTTP/1.1 101')) {
        this.#rejectOpened(new Error(`upgrade rejected: ${head.split('\r\n')[0]}`))
        return
      }
      this.#upgraded = true
      this.#buffer = this.#buffer.subarray(end + 4)
      this.#resolveOpened()
    }

    while (this.#buffer.length >= 2) {
      const opcode = (this.#buffer[0] as number) & 0x0f
      let length = (this.#buffer[1] as number) & 0x7f
      let offset = 2
      if (length === 126) {
        if (this.#buffer.length < 4) return
        length = this.#buffer.readUInt16BE(2)
        offset = 4
      } else if (length === 127) {
        if (this.#buffer.length < 10) return
        length = Number(this.#buffer.readBigUInt64BE(2))
        offset = 10
      }
      if (this.#buffer.length < offset + length) return

      const payload = this.#buffer.subarray(offset, offset + length)
      this.#buffer = this.#buffer.subarray(offset + length)
      if (opcode === 0x2) this.onFrame(payload, arrivedAt)
      else if (opcode === 0x9) this.send(payload, 0xa)
      else if (opcode === 0x8) this.#socket.end()
    }
  }
}
