import { z } from '@hono/zod-openapi'
import {
  countsEventSchema,
  createGroupBodySchema,
  errorBodySchema,
  groupSchema,
  groupStatsSchema,
  groupSummarySchema,
  idSchema,
  markUnreadBodySchema,
  memberSchema,
  messagePageSchema,
  messageRecordSchema,
  putMemberBodySchema,
  readBodySchema,
  readStateSchema,
  receiptsResponseSchema,
  sendMessageBodySchema,
  sentMessageSchema,
  unreadResponseSchema,
} from '@readmark/shared'

/**
 * Returns a copy of a schema named as an OpenAPI component. Zod 4 copies prototype methods into an
 * instance when it is built, so a schema that shared/ built before @hono/zod-openapi was loaded
 * lacks `.openapi()`. A clone built now has it.
 */
function named<T extends z.ZodType>(schema: T, name: string): T {
  return schema.clone().openapi(name)
}

/** The shared zod schemas under their OpenAPI component names, so that shared/ needs no OpenAPI package. */
export const api = {
  CreateGroupBody: named(createGroupBodySchema, 'CreateGroupBody'),
  PutMemberBody: named(putMemberBodySchema, 'PutMemberBody'),
  SendMessageBody: named(sendMessageBodySchema, 'SendMessageBody'),
  ReadBody: named(readBodySchema, 'ReadBody'),
  MarkUnreadBody: named(markUnreadBodySchema, 'MarkUnreadBody'),
  Group: named(groupSchema, 'Group'),
  Member: named(memberSchema, 'Member'),
  Message: named(messageRecordSchema, 'Message'),
  SentMessage: named(sentMessageSchema, 'SentMessage'),
  MessagePage: named(messagePageSchema, 'MessagePage'),
  ReadState: named(readStateSchema, 'ReadState'),
  Receipts: named(receiptsResponseSchema, 'Receipts'),
  GroupSummary: named(groupSummarySchema, 'GroupSummary'),
  GroupStats: named(groupStatsSchema, 'GroupStats'),
  UserUnread: named(unreadResponseSchema, 'UserUnread'),
  CountsEvent: named(countsEventSchema, 'CountsEvent'),
  Error: named(errorBodySchema, 'Error'),
}

const seqParam = z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER)

export const groupParams = z.object({ gid: idSchema })
export const memberParams = z.object({ gid: idSchema, uid: idSchema })
export const messageParams = z.object({ gid: idSchema, seq: seqParam })
export const userParams = z.object({ uid: idSchema })

export const historyQuery = z.object({
  after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0).openapi({
    description: 'Lists messages with a seq above this one.',
  }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
})

export const receiptsQuery = z.object({
  cursor: idSchema.optional().openapi({
    description: "The previous page's nextCursor. The page starts after this user id.",
  }),
  limit: z.coerce.number().int().min(1).max(1_000).default(100).openapi({
    description: 'Maximum audience members on the page, readers and unread together.',
  }),
})

export const statsQuery = z.object({
  from: z.coerce.number().int().min(0).optional().openapi({
    description: 'Start of the range, in ms since the epoch. The default is 0.',
  }),
  to: z.coerce.number().int().min(0).optional().openapi({
    description: 'End of the range, exclusive, in ms since the epoch. The default is now.',
  }),
  limit: z.coerce.number().int().min(1).max(1_000).default(200).openapi({
    description: 'Counts at most this many of the most recent messages in the range.',
  }),
})

export const unreadFlagQuery = z.object({
  userId: idSchema.optional().openapi({
    description: 'The user to act for. Only a service token may name another user.',
  }),
})

export const eventsQuery = z.object({
  token: z.string().optional().openapi({
    description:
      'The token, for clients such as EventSource that cannot set the Authorization header.',
  }),
})

const ERROR_DESCRIPTIONS = {
  400: 'Invalid request: the body, query or path failed validation (`invalid_request`).',
  401: 'Missing, malformed, badly signed or expired token (`unauthorized`).',
  403: 'The caller may not do this (`forbidden`).',
  404: 'No such group, member, message or user (`not_found`).',
  409: 'The request conflicts with the stored state (`conflict`).',
  413: 'The request body is larger than the server accepts (`payload_too_large`).',
  429: 'Too many requests with this token; Retry-After says when to retry (`rate_limited`).',
} as const

type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS
type ErrorResponse = {
  description: string
  content: { 'application/json': { schema: typeof api.Error } }
}

/** Builds the OpenAPI responses of the given error statuses, plus 401 and 429, which every /v1 route has. */
export function errorResponses<S extends ErrorStatus>(
  ...statuses: S[]
): { [K in S | 401 | 429]: ErrorResponse } {
  const responses: Partial<Record<ErrorStatus, ErrorResponse>> = {}
  for (const status of [...statuses, 401, 429] as ErrorStatus[]) {
    responses[status] = {
      description: ERROR_DESCRIPTIONS[status],
      content: { 'application/json': { schema: api.Error } },
    }
  }
  return responses as { [K in S | 401 | 429]: ErrorResponse }
}

/** Builds a JSON response entry of a route. */
export function jsonResponse<T extends z.ZodType>(
  schema: T,
  description: string,
): { description: string; content: { 'application/json': { schema: T } } } {
  return { description, content: { 'application/json': { schema } } }
}

/** Builds a required JSON request body of a route. */
export function jsonBody<T extends z.ZodType>(
  schema: T,
): { content: { 'application/json': { schema: T } }; required: true } {
  return { content: { 'application/json': { schema } }, required: true }
}
