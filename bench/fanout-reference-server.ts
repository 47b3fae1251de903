// The reference side of the fan-out benchmark: the y-websocket 1.5 server from its bin/utils.js,
// run as its own bin/server.js runs it, with no checks and no storage. Later versions moved the
// server to @y/websocket-server, which needs the Yjs 14 pre-release.
// It speaks the same protocol, so fanout.ts drives it with the same light clients.

import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'

const require = createRequire(import.meta.url)
const { setupWSConnection } = require('y-websocket-v1/bin/utils') as {
  setupWSConnection: (socket: unknown, request: unknown, options: { docName: string }) => void
}

const http = createServer((_request, response) => {
  response.writeHead(404)
  response.end()
})
const wss = new WebSocketServer({ noServer: true })
http.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) =>
    setupWSConnection(ws, request, { docName: 'bench' }),
  )
})
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))

process.on('message', (message: string) => {
  if (message === 'cpu') process.send?.({ cpu: process.cpuUsage(), batches: 0, buckets: [] })
  if (message === 'stop') process.exit(0)
})
process.send?.({ port: (http.address() as AddressInfo).port })
