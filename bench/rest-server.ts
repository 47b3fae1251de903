// The server side of the REST benchmark, run in its own process by rest.ts. It seeds one group of
// BENCH_MEMBERS members and BENCH_GROUPS small groups of one reader, then serves the app on
// 127.0.0.1 and a free port through an HTTP server that times every app.fetch call. It sends its
// port and tokens as 'ready'. On the message 'reset' it clears the timings, on 'timings' it sends
// their percentiles, and on 'stop' it exits.

import { mkdtempSync, rmSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAdaptorServer } from '@hono/node-server'
import { receiptKey, SERVER_DEVICE } from '@readmark/shared'
import { mintToken } from '../server/src/auth.ts'
import { createServer } from '../server/src/server.ts'

const members = Number(process.env.BENCH_MEMBERS)
const groups = Number(process.env.BENCH_GROUPS)
const secret = process.env.BENCH_SECRET as string
const BIG_GROUP = 'big'
const BIG_HEAD = 10
const READER = 'reader'

const dataDir = mkdtempSync(join(tmpdir(), 'readmark-bench-rest-'))
const server = await createServer({
  dataDir,
  authSecret: secret,
  port: 0,
  // The benchmark sends one token's requests far faster than any real client.
  rateLimitPerMinute: 1_000_000_000,
})

const seedStarted = performance.now()
const memberIds = Array.from({ length: members }, (_, i) => `m${String(i).padStart(5, '0')}`)
await server.groups.createGroup({
  id: BIG_GROUP,
  members: [{ userId: 'sender', role: 'owner' }, ...memberIds.map((userId) => ({ userId }))],
})
for (let seq = 1; seq <= BIG_HEAD; seq += 1) {
  await server.groups.sendMessage(BIG_GROUP, 'sender', `m${seq}`, `message ${seq}`)
}
// Half the members have read up to some message, in one server write.
await server.rooms.use(BIG_GROUP, (room) =>
  room.change((group) => {
    memberIds.forEach((userId, i) => {
      if (i % 2 === 0) group.receipts.set(receiptKey(userId, SERVER_DEVICE), 1 + (i % BIG_HEAD))
    })
  }),
)

for (let i = 0; i < groups; i += 1) {
  const id = `small-${i}`
  await server.groups.createGroup({ id, members: [{ userId: READER }, { userId: 'writer' }] })
  for (let seq = 1; seq <= 3; seq += 1) {
    await server.groups.sendMessage(id, 'writer', `m${seq}`, undefined)
  }
  if (i % 3 === 0) await server.groups.markRead(id, READER, 2)
}
const seedSeconds = (performance.now() - seedStarted) / 1000

let timings: number[] = []
const http = createAdaptorServer({
  fetch: async (request: Request) => {
    const started = performance.now()
    const response = await server.app.fetch(request)
    timings.push(performance.now() - started)
    return response
  },
}) as Server
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
const port = (http.address() as AddressInfo).port

function percentile(sorted: Float64Array, fraction: number): number {
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN
}

process.on('message', async (message: string) => {
  if (message === 'reset') {
    timings = []
    process.send?.({ reset: true })
  }
  if (message === 'timings') {
    const sorted = Float64Array.from(timings).sort()
    process.send?.({
      timings: {
        count: sorted.length,
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        max: sorted.at(-1) ?? Number.NaN,
      },
    })
  }
  if (message === 'stop') {
    http.close()
    await server.close()
    rmSync(dataDir, { recursive: true, force: true })
    process.exit(0)
  }
})

process.send?.({
  ready: {
    port,
    seedSeconds,
    tokens: {
      sender: await mintToken(secret, 'sender', { ttlSeconds: 3_600 }),
      reader: await mintToken(secret, READER, { ttlSeconds: 3_600 }),
    },
    paths: {
      receipts: `/v1/groups/${BIG_GROUP}/messages/5/receipts`,
      unread: `/v1/users/${READER}/unread`,
    },
  },
})
