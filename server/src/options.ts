import type { Logger } from 'pino'
import { z } from 'zod'

/** Settings of createServer. Every limit is per server instance. */
export const serverOptionsSchema = z.object({
  /** Folder of the embedded LevelDB stores; created when missing. */
  dataDir: z.string().min(1),
  /** HS256 key that signs tokens; at least 32 bytes, as RFC 7518 requires for HS256 keys. */
  authSecret: z.string().min(32, 'must be at least 32 characters'),
  /** TCP port; 0 picks a free one. */
  port: z.number().int().min(0).max(65_535).default(8787),
  host: z.string().min(1).default('127.0.0.1'),
  /** How long accepted updates to one group are collected before one apply and one broadcast, in ms. */
  batchWindowMs: z.number().min(0).max(1_000).default(2),
  /** Messages kept in a group document's `messages` window; older ones stay in the message log. */
  messageWindow: z.number().int().min(1).max(10_000).default(200),
  /** A loaded group with no connections for this long is unloaded, in ms. */
  idleUnloadMs: z.number().int().min(0).default(60_000),
  /**
   * A group summary that no loaded document or event stream uses is dropped from memory after
   * this long without use, in ms, and read back from LevelDB on next use.
   */
  summaryIdleMs: z.number().int().min(1_000).default(600_000),
  /** Interval of WebSocket pings; a socket that missed the previous pong is closed, in ms. */
  heartbeatMs: z.number().int().min(100).default(30_000),
  /** Largest WebSocket frame accepted, in bytes; a larger one closes the socket with 1009. */
  maxFrameBytes: z.number().int().min(1_024).default(1_048_576),
  /** Open sync connections one user may hold at once, across groups. */
  maxConnectionsPerUser: z.number().int().min(1).default(16),
  /** Rejected updates one connection may send within a minute before it is closed with 1008. */
  maxRejectionsPerMinute: z.number().int().min(1).default(20),
  /** Largest REST request body, in bytes; larger ones get 413. */
  maxBodyBytes: z.number().int().min(1_024).default(1_048_576),
  /** REST requests one token may make per minute; more get 429. */
  rateLimitPerMinute: z.number().int().min(1).default(6_000),
  /** When set, messages older than this many days are removed with their summaries. */
  retentionDays: z.number().positive().optional(),
  /** Interval of the retention sweep over every group, in ms. Used only when retentionDays is set. */
  retentionIntervalMs: z.number().int().min(1).default(3_600_000),
  /** Origins of web apps allowed to call the REST API from a browser; none sends no CORS headers. */
  corsOrigins: z.array(z.url()).default([]),
  /** Minimum gap between two server-sent events of one group, in ms. */
  eventIntervalMs: z.number().int().min(0).default(250),
})

export type ServerOptionsInput = z.input<typeof serverOptionsSchema> & {
  /** pino logger; a silent one when omitted. */
  logger?: Logger
}
export type ServerOptions = z.output<typeof serverOptionsSchema> & { logger: Logger }

/** Thrown by createServer for an invalid option; the message names the option. */
export class InvalidOptionsError extends Error {
  override readonly name = 'InvalidOptionsError'
}

/** Checks options once, at construction, and fills in defaults. */
export function parseServerOptions(
  input: ServerOptionsInput,
  fallbackLogger: Logger,
): ServerOptions {
  const { logger, ...rest } = input
  const parsed = serverOptionsSchema.safeParse(rest)
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || 'options'}: ${issue.message}`,
    )
    throw new InvalidOptionsError(`invalid server options: ${problems.join('; ')}`)
  }
  return { ...parsed.data, logger: logger ?? fallbackLogger }
}
