import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import type { AppEnv, AppServices } from '../app.ts'
import { actingUserId, findGroup } from './access.ts'
import {
  api,
  errorResponses,
  groupParams,
  jsonBody,
  jsonResponse,
  unreadFlagQuery,
} from './schemas.ts'

const markRead = createRoute({
  method: 'post',
  path: '/v1/groups/{gid}/read',
  tags: ['reading'],
  summary: "Advance the caller's watermark",
  description:
    'Members and the service; a service token names the user in `userId`. For backends and ' +
    'clients without a replica. W only moves forward: a seq at or below W leaves it as it is. A ' +
    'seq above head is rejected. Either way the "marked unread" flag is cleared.',
  request: { params: groupParams, body: jsonBody(api.ReadBody) },
  responses: {
    200: jsonResponse(api.ReadState, "The user's W after the call."),
    ...errorResponses(400, 403, 404, 413),
  },
})

const markUnread = createRoute({
  method: 'post',
  path: '/v1/groups/{gid}/unread',
  tags: ['reading'],
  summary: 'Mark the group unread',
  description:
    'Members and the service; a service token names the user in `userId`. Sets a per-user flag ' +
    'that `GET /v1/users/{uid}/unread` reports; W stays as it is. The next advance of W and the ' +
    'next `POST /read` clear it. The body may be left out.',
  request: {
    params: groupParams,
    body: { content: { 'application/json': { schema: api.MarkUnreadBody } }, required: false },
  },
  responses: {
    200: jsonResponse(api.ReadState, "The user's W and flag."),
    ...errorResponses(400, 403, 404, 413),
  },
})

const clearUnread = createRoute({
  method: 'delete',
  path: '/v1/groups/{gid}/unread',
  tags: ['reading'],
  summary: 'Clear the "marked unread" flag',
  description:
    'Members and the service; a service token names the user in the `userId` query parameter. ' +
    'W stays as it is.',
  request: { params: groupParams, query: unreadFlagQuery },
  responses: {
    200: jsonResponse(api.ReadState, "The user's W and flag."),
    ...errorResponses(400, 403, 404),
  },
})

/** Registers the watermark advance and the "marked unread" flag. */
export function registerReadingRoutes(app: OpenAPIHono<AppEnv>, services: AppServices): void {
  const { groups, summaries } = services

  app.openapi(markRead, async (c) => {
    const { gid } = c.req.valid('param')
    const { seq, userId } = c.req.valid('json')
    const summary = await findGroup(summaries, gid)
    const reader = actingUserId(c.get('caller'), userId)

    const watermark = await groups.markRead(gid, reader, seq)
    return c.json(
      { userId: reader, watermark, markedUnread: summary.markedUnread.has(reader) },
      200,
    )
  })

  app.openapi(markUnread, async (c) => {
    const { gid } = c.req.valid('param')
    const { userId } = c.req.valid('json')
    await findGroup(summaries, gid)
    const reader = actingUserId(c.get('caller'), userId)

    const summary = await groups.setMarkedUnread(gid, reader, true)
    return c.json(
      { userId: reader, watermark: summary.watermarks.get(reader) ?? 0, markedUnread: true },
      200,
    )
  })

  app.openapi(clearUnread, async (c) => {
    const { gid } = c.req.valid('param')
    const { userId } = c.req.valid('query')
    await findGroup(summaries, gid)
    const reader = actingUserId(c.get('caller'), userId)

    const summary = await groups.setMarkedUnread(gid, reader, false)
    return c.json(
      { userId: reader, watermark: summary.watermarks.get(reader) ?? 0, markedUnread: false },
      200,
    )
  })
}
