import { mkdirSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { createAdaptorServer } from '@hono/node-server'
import type { OpenAPIHono } from '@hono/zod-openapi'
import { pino } from 'pino'
import { type AppEnv, createApp } from './app.ts'
import { GroupService } from './groups.ts'
import { ServerMetrics } from './metrics.ts'
import { parseServerOptions, type ServerOptions, type ServerOptionsInput } from './options.ts'
import { registerRoutes } from './rest/routes.ts'
import { RetentionSweeper } from './retention.ts'
import { DocStore } from './storage/doc-store.ts'
import { SummaryStore } from './storage/summary-store.ts'
import { SummaryService } from './summaries.ts'
import { SyncEndpoint } from './sync/endpoint.ts'
import { Rooms } from './sync/rooms.ts'

/** A running readmark server; it owns every store, room, connection and timer it uses. */
export interface ReadmarkServer {
  readonly options: ServerOptions
  readonly app: OpenAPIHono<AppEnv>
  readonly groups: GroupService
  readonly summaries: SummaryService
  readonly rooms: Rooms
  readonly metrics: ServerMetrics
  /** Starts listening; resolves with the bound port, which differs from options.port when that is 0. */
  listen(): Promise<number>
  /** The http(s) origin once listening, for example `http://127.0.0.1:8787`. */
  readonly url: string
  /** Closes connections, applies and stores every queued update, and closes the stores. */
  close(): Promise<void>
}

/**
 * Creates a server on its own data directory: `<dataDir>/documents` contains y-leveldb's group
 * documents and `<dataDir>/summaries` the derived summaries and message log. Throws
 * InvalidOptionsError naming the option when an option is invalid.
 */
export async function createServer(input: ServerOptionsInput): Promise<ReadmarkServer> {
  const options = parseServerOptions(input, pino({ name: 'readmark', level: 'silent' }))
  const logger = options.logger
  mkdirSync(options.dataDir, { recursive: true })

  const metrics = new ServerMetrics()
  const summaryStore = new SummaryStore(join(options.dataDir, 'summaries'))
  await summaryStore.open()
  const docStore = new DocStore(join(options.dataDir, 'documents'))

  const summaries = new SummaryService(
    summaryStore,
    logger.child({ component: 'summaries' }),
    metrics,
    options.summaryIdleMs,
  )
  const rooms = new Rooms(
    {
      docStore,
      summaries,
      metrics,
      logger: logger.child({ component: 'rooms' }),
      batchWindowMs: options.batchWindowMs,
    },
    options.idleUnloadMs,
  )
  const sync = new SyncEndpoint({
    authSecret: options.authSecret,
    maxFrameBytes: options.maxFrameBytes,
    maxConnectionsPerUser: options.maxConnectionsPerUser,
    maxRejectionsPerMinute: options.maxRejectionsPerMinute,
    heartbeatMs: options.heartbeatMs,
    rooms,
    summaries,
    metrics,
    logger: logger.child({ component: 'sync' }),
  })
  const groups = new GroupService({
    rooms,
    summaries,
    logger: logger.child({ component: 'groups' }),
    messageWindow: options.messageWindow,
    closeConnections: (groupId, userId, code, reason) =>
      sync.closeUser(groupId, userId, code, reason),
  })

  const services = { options, groups, summaries, rooms, metrics }
  const app = createApp(services)
  const stopRoutes = registerRoutes(app, services)
  let retention: RetentionSweeper | null = null
  if (options.retentionDays !== undefined) {
    retention = new RetentionSweeper({
      groups,
      store: summaryStore,
      logger: logger.child({ component: 'retention' }),
      retentionDays: options.retentionDays,
      intervalMs: options.retentionIntervalMs,
    })
    retention.start()
  }

  const http = createAdaptorServer({ fetch: app.fetch }) as Server
  http.on('upgrade', (request, socket, head) => sync.handleUpgrade(request, socket, head))
  let url = ''
  let closing: Promise<void> | null = null

  return {
    options,
    app,
    groups,
    summaries,
    rooms,
    metrics,
    get url() {
      return url
    },
    listen() {
      return new Promise<number>((resolve, reject) => {
        http.once('error', reject)
        http.listen(options.port, options.host, () => {
          const port = (http.address() as AddressInfo).port
          const host = options.host.includes(':') ? `[${options.host}]` : options.host
          url = `http://${host}:${port}`
          logger.info({ url }, 'server listening')
          resolve(port)
        })
      })
    },
    close() {
      closing ??= (async () => {
        stopRoutes()
        await retention?.stop()
        sync.close()
        await new Promise<void>((resolve) => {
          http.close(() => resolve())
          http.closeAllConnections()
        })
        await rooms.closeAll()
        summaries.close()
        await docStore.close()
        await summaryStore.close()
        logger.info('server closed')
      })()
      return closing
    },
  }
}
