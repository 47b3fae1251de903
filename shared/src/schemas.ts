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

export const sendMessageBodySchema = z.object({
  clientMessageId: idSchema,
  body: z.string().max(MAX_BODY_LENGTH).optional(),
})
export type SendMessageBody = z.infer<typeof sendMessageBodySchema>

export const readBodySchema = z.object({ seq: seqSchema })
export type ReadBody = z.infer<typeof readBodySchema>

export const readerSchema = z.object({
  userId: idSchema,
  readAt: z.number().int().nullable(),
})
export type Reader = z.infer<typeof readerSchema>

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
