import { z } from 'zod'
import { idSchema } from './ids.ts'

/** A message sequence number or watermark: a non-negative safe integer. */
export const seqSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

export const roleSchema = z.enum(['owner', 'admin', 'member'])
export type Role = z.infer<typeof roleSchema>

/**
 * A membership period: the user was a member for every seq s with from < s and, when `to` is set,
 * s ≤ to.
 */
export const periodSchema = z.object({
  from: seqSchema,
  to: seqSchema.optional(),
})
export type Period = z.infer<typeof periodSchema>

/** The value of a `members` entry, keyed by user id. */
export const memberRecordSchema = z.object({
  role: roleSchema,
  bot: z.boolean().optional(),
  periods: z.array(periodSchema),
})
export type MemberRecord = z.infer<typeof memberRecordSchema>

/** An entry of the `messages` window and of the server's message log. */
export const messageRecordSchema = z.object({
  seq: seqSchema.min(1),
  id: z.string().min(1).max(128),
  sender: idSchema,
  at: z.number().int().nonnegative(),
  body: z.string().optional(),
  deleted: z.boolean().optional(),
})
export type MessageRecord = z.infer<typeof messageRecordSchema>

/** Maximum length of a message body in UTF-16 code units. */
export const MAX_BODY_LENGTH = 16_384

export const createGroupBodySchema = z.object({
  id: idSchema,
  members: z
    .array(
      z.object({
        userId: idSchema,
        role: roleSchema.optional(),
        bot: z.boolean().optional(),
      }),
    )
    .max(100_000),
})
export type CreateGroupBody = z.infer<typeof createGroupBodySchema>

export const putMemberBodySchema = z.object({
  role: roleSchema.optional(),
  bot: z.boolean().optional(),
})
export type PutMemberBody = z.infer<typeof putMemberBodySchema>

/**
 * Body of `POST /v1/groups/:gid/messages`. `userId` names the sender: a service token must set it,
 * a user token may only name itself.
 */
export const sendMessageBodySchema = z.object({
  clientMessageId: idSchema,
  body: z.string().max(MAX_BODY_LENGTH).optional(),
  userId: idSchema.optional(),
})
export type SendMessageBody = z.infer<typeof sendMessageBodySchema>

/** Body of `POST /v1/groups/:gid/read`. `userId` works as in sendMessageBodySchema. */
export const readBodySchema = z.object({ seq: seqSchema, userId: idSchema.optional() })
export type ReadBody = z.infer<typeof readBodySchema>

/** Body of `POST /v1/groups/:gid/unread`. `userId` works as in sendMessageBodySchema. */
export const markUnreadBodySchema = z.object({ userId: idSchema.optional() })
export type MarkUnreadBody = z.infer<typeof markUnreadBodySchema>

/** A member in REST responses: the stored record with the user id and W(u). */
export const memberSchema = memberRecordSchema.extend({
  userId: idSchema,
  /** False for a former member, whose record stays for the counts of old messages. */
  current: z.boolean(),
  watermark: seqSchema,
})
export type Member = z.infer<typeof memberSchema>

/** A group in REST responses. */
export const groupSchema = z.object({
  id: idSchema,
  head: seqSchema,
  /** Server time of creation, in ms since the epoch. */
  createdAt: z.number().int(),
  members: z.array(memberSchema),
})
export type Group = z.infer<typeof groupSchema>

/** Response of `POST /v1/groups/:gid/messages`. `created` is false for a repeated clientMessageId. */
export const sentMessageSchema = messageRecordSchema.extend({ created: z.boolean() })
export type SentMessage = z.infer<typeof sentMessageSchema>

/** A logged message with its counts, as `GET /v1/groups/:gid/messages` lists it. */
export const messageWithCountsSchema = messageRecordSchema.extend({
  readCount: z.number().int().nonnegative(),
  unreadCount: z.number().int().nonnegative(),
})
export type MessageWithCounts = z.infer<typeof messageWithCountsSchema>

/** One page of history. `nextAfter` is the `after` of the next page, or null on the last one. */
export const messagePageSchema = z.object({
  messages: z.array(messageWithCountsSchema),
  nextAfter: seqSchema.nullable(),
})
export type MessagePage = z.infer<typeof messagePageSchema>

/** Response of `POST /read` and of `POST` and `DELETE /unread`: the user's W and flag afterwards. */
export const readStateSchema = z.object({
  userId: idSchema,
  watermark: seqSchema,
  markedUnread: z.boolean(),
})
export type ReadState = z.infer<typeof readStateSchema>

export const readerSchema = z.object({
  userId: idSchema,
  readAt: z.number().int().nullable(),
})
export type Reader = z.infer<typeof readerSchema>

/**
 * Response of `GET /v1/groups/:gid/messages/:seq/receipts`. The counts cover the whole audience;
 * `readers` and `unread` cover one page of it in user id order. `nextCursor` is the cursor of the
 * next page, or null when this page reached the end of the member list.
 */
export const receiptsResponseSchema = z.object({
  seq: seqSchema,
  readCount: z.number().int().nonnegative(),
  unreadCount: z.number().int().nonnegative(),
  readers: z.array(readerSchema),
  unread: z.array(idSchema),
  nextCursor: z.string().nullable(),
})
export type ReceiptsResponse = z.infer<typeof receiptsResponseSchema>

export const unreadResponseSchema = z.object({
  userId: idSchema,
  total: z.number().int().nonnegative(),
  groups: z.array(
    z.object({
      groupId: idSchema,
      unread: z.number().int().nonnegative(),
      markedUnread: z.boolean(),
    }),
  ),
})
export type UnreadResponse = z.infer<typeof unreadResponseSchema>

/** Response of `GET /v1/groups/:gid/summary`. */
export const groupSummarySchema = z.object({
  groupId: idSchema,
  head: seqSchema,
  createdAt: z.number().int(),
  /** Current members, bots included. */
  memberCount: z.number().int().nonnegative(),
  /** W(u) of every current member. */
  watermarks: z.record(z.string(), seqSchema),
  /**
   * Σ readCount / Σ (readCount + unreadCount) over the messages counted in readRateMessages, or
   * null when they have no audience.
   */
  readRate: z.number().min(0).max(1).nullable(),
  /** Logged messages the read rate covers: the most recent ones, as many as the window holds. */
  readRateMessages: z.number().int().nonnegative(),
})
export type GroupSummaryResponse = z.infer<typeof groupSummarySchema>

/** Response of `GET /v1/groups/:gid/stats`: messages sent in [from, to) and how they were read. */
export const groupStatsSchema = z.object({
  groupId: idSchema,
  from: z.number().int(),
  to: z.number().int(),
  /** Messages counted: not deleted, sent in the range, at most the `limit` most recent. */
  messages: z.number().int().nonnegative(),
  /** True when more messages fell in the range than `limit`. */
  truncated: z.boolean(),
  readRate: z.number().min(0).max(1).nullable(),
  /** Reads with a known read time, which the percentiles are taken over. */
  reads: z.number().int().nonnegative(),
  /** Median time from sending to reading, in ms; null without reads. */
  medianTimeToReadMs: z.number().nonnegative().nullable(),
  /** 90th percentile of the time from sending to reading, in ms; null without reads. */
  p90TimeToReadMs: z.number().nonnegative().nullable(),
})
export type GroupStats = z.infer<typeof groupStatsSchema>

/** Data of a `counts` server-sent event of `GET /v1/groups/:gid/events`. */
export const countsEventSchema = z.object({
  groupId: idSchema,
  head: seqSchema,
  /** Kinds of change since the previous event; empty in the first event of a stream. */
  changes: z.array(z.enum(['receipts', 'members', 'messages'])),
  /** The caller's unread count in the group; absent for a service token. */
  unread: z.number().int().nonnegative().optional(),
  /** Counts of the most recent logged messages, oldest first. */
  messages: z.array(
    z.object({
      seq: seqSchema,
      readCount: z.number().int().nonnegative(),
      unreadCount: z.number().int().nonnegative(),
    }),
  ),
})
export type CountsEvent = z.infer<typeof countsEventSchema>

/** Body of every error response; `code` is stable and meant for programs. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.unknown()).optional(),
  }),
})
export type ErrorBody = z.infer<typeof errorBodySchema>

/** Claims readmark reads from a token; `role: "service"` marks the application backend. */
export const tokenClaimsSchema = z.object({
  sub: idSchema,
  role: z.literal('service').optional(),
  exp: z.number().optional(),
})
export type TokenClaims = z.infer<typeof tokenClaimsSchema>
