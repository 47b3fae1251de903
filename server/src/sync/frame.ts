import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'

/**
 * Builds a complete unmasked binary WebSocket frame (RFC 6455 §5.2), once per broadcast, to be
 * written as is to every socket. ws would build the same header for each socket and write it with a
 * second buffer, and with thousands of sockets that per-send work is most of the fan-out time.
 */
export function encodeBinaryFrame(payload: Uint8Array): Buffer {
  const length = payload.byteLength
  let header: Buffer
  if (length < 126) {
    header = Buffer.from([0x82, length])
  } else if (length < 65_536) {
    header = Buffer.alloc(4)
    header[0] = 0x82
    header[1] = 126
    header.writeUInt16BE(length, 2)
  } else {
    header = Buffer.alloc(10)
    header[0] = 0x82
    header[1] = 127
    header.writeBigUInt64BE(BigInt(length), 2)
  }
  return Buffer.concat([header, payload])
}

/**
 * Writes a frame from encodeBinaryFrame to the socket under a ws WebSocket. Only valid while the
 * server negotiates no extensions (permessage-deflate is off by default on ws servers), because
 * then ws writes each frame synchronously and a direct write cannot overtake one of its own.
 * Returns the bytes still buffered for the socket, or -1 when the socket is not open.
 */
export function writeEncodedFrame(socket: WebSocket, frame: Buffer): number {
  // NOTE: `_socket` is ws's private handle on the TCP socket (ws 8); checked at each call.
  const raw = (socket as unknown as { _socket?: Duplex })._socket
  if (socket.readyState !== socket.OPEN || raw === undefined || !raw.writable) return -1
  raw.write(frame)
  return raw.writableLength
}
