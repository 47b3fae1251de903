// The server side of the fan-out benchmark, run in its own process by fanout.ts: one group with
// the given members and head, on 127.0.0.1 and a free port. It reports its port, then replies to
// each 'cpu' request from the parent with its CPU time and fan-out histogram.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from '../server/src/server.ts'

const members = Number(process.env.BENCH_MEMBERS)
const head = Number(process.env.BENCH_HEAD)
const secret = process.env.BENCH_SECRET as string
const batchWindowMs = Number(process.env.BENCH_BATCH_WINDOW_MS ?? 2)

const dataDir = mkdtempSync(join(tmpdir(), 'readmark-bench-'))
const server = await createServer({
  dataDir,
  authSecret: secret,
  port: 0,
  batchWindowMs,
  maxConnectionsPerUser: 4,
})
const port = await server.listen()

const memberIds = Array.from({ length: members }, (_, i) => ({ userId: `u${i}` }))
await server.groups.createGroup({ id: 'bench', members: memberIds })
for (let seq = 1; seq <= head; seq += 1)
  await server.groups.sendMessage('bench', 'u0', `m${seq}`, undefined)

process.on('message', async (message: string) => {
  if (message === 'cpu') {
    const fanout = await server.metrics.fanoutSeconds.get()
    const batches =
      fanout.values.find((value) => value.metricName === 'readmark_fanout_seconds_count')?.value ??
      0
    const buckets = fanout.values
      .filter((value) => value.metricName === 'readmark_fanout_seconds_bucket')
      .map((value) => ({ le: Number(value.labels.le), count: value.value }))
    process.send?.({ cpu: process.cpuUsage(), batches, buckets })
  }
  if (message === 'stop') {
    await server.close()
    rmSync(dataDir, { recursive: true, force: true })
    process.exit(0)
  }
})
process.send?.({ port })
