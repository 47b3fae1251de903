import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { countMessage, type MessageWithCounts } from '@readmark/shared'
import type { AppEnv, AppServices } from '../app.ts'
import {
  actingUserId,
  findGroup,
  requireMemberOrService,
  requireSenderOrManager,
} from './access.ts'
import {
  api,
  errorResponses,
  groupParams,
  historyQuery,
  jsonBody,
  jsonResponse,
  messageParams,
} from './schemas.ts'

const sendMessage = createRoute({
  method: 'post',
  path: '/v1/groups/{gid}/messages',
  tags: ['messages'],
  summary: 'Send a message',
  description:
    'Members and the service; a service token names the sender in `userId`. The server assigns ' +
    "the next seq and moves the sender's watermark to it. The same clientMessageId from the same " +
    'sender returns the message it created first, with 200 and `created: false`, also after a ' +
    'restart; with another sender or body it is a conflict.',
  request: { params: groupParams, body: jsonBody(api.SendMessageBody) },
  responses: {
    200: jsonResponse(api.SentMessage, 'The message that this clientMessageId created before.'),
    201: jsonResponse(api.SentMessage, 'The new message.'),
    ...errorResponses(400, 403, 404, 409, 413),
  },
})

const listMessages = createRoute({
  method: 'get',
  path: '/v1/groups/{gid}/messages',
  tags: ['messages'],
  summary: 'Page through the message log with counts',
  description:
    'Members and the service. Lists logged messages with a seq above `after`, oldest first, with ' +
    'readCount and unreadCount each; deleted ones appear without body and with zero counts.',
  request: { params: groupParams, query: historyQuery },
  responses: {
    200: jsonResponse(api.MessagePage, 'One page of messages.'),
    ...errorResponses(400, 403, 404),
  },
})

const deleteMessage = createRoute({
  method: 'delete',
  path: '/v1/groups/{gid}/messages/{seq}',
  tags: ['messages'],
  summary: 'Delete a message',
  description:
    'Its sender, owners, admins and the service. The message keeps its seq but loses its body, ' +
    'its receipts and its place in every unread count. Deleting it again changes nothing.',
  request: { params: messageParams },
  responses: {
    200: jsonResponse(api.Message, 'The deleted message.'),
    ...errorResponses(400, 403, 404),
  },
})

/** Registers sending, listing and deleting messages. */
export function registerMessageRoutes(app: OpenAPIHono<AppEnv>, services: AppServices): void {
  const { groups, summaries } = services

  app.openapi(sendMessage, async (c) => {
    const { gid } = c.req.valid('param')
    const body = c.req.valid('json')
    await findGroup(summaries, gid)
    const sender = actingUserId(c.get('caller'), body.userId)

    const { message, created } = await groups.sendMessage(
      gid,
      sender,
      body.clientMessageId,
      body.body,
    )
    return c.json({ ...message, created }, created ? 201 : 200)
  })

  app.openapi(listMessages, async (c) => {
    const { gid } = c.req.valid('param')
    const { after, limit } = c.req.valid('query')
    const summary = await findGroup(summaries, gid)
    requireMemberOrService(summary, c.get('caller'))

    // One more than the page, to tell whether a next page exists.
    const logged = await summaries.store.listMessages(gid, after, limit + 1)
    const page = logged.slice(0, limit)
    const index = summary.countIndex()
    const messages: MessageWithCounts[] = page.map((message) => ({
      ...message,
      ...countMessage(index, message),
    }))
    const nextAfter = logged.length > limit ? (page.at(-1)?.seq ?? null) : null
    return c.json({ messages, nextAfter }, 200)
  })

  app.openapi(deleteMessage, async (c) => {
    const { gid, seq } = c.req.valid('param')
    const summary = await findGroup(summaries, gid)
    requireSenderOrManager(summary, c.get('caller'), seq, 'delete')

    const deleted = await groups.deleteMessage(gid, seq)
    return c.json(deleted, 200)
  })
}
