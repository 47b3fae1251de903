import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { streamSSE } from 'hono/streaming'
import type { AppEnv, AppServices } from '../app.ts'
import { findGroup, requireMemberOrService } from './access.ts'
import type { EventHub } from './event-hub.ts'
import { errorResponses, eventsQuery, groupParams } from './schemas.ts'

const followEvents = createRoute({
  method: 'get',
  path: '/v1/groups/{gid}/events',
  tags: ['queries'],
  summary: 'Server-sent events as counts change',
  description:
    'Members and the service. A `text/event-stream` of `counts` events, each with data of the ' +
    'CountsEvent schema: the first one at once, then one after changes of receipts, members or ' +
    'messages, at most one per event interval per group (250 ms by default) however many ' +
    'changes it covers. The token may also be passed as `?token=` for EventSource. The stream ' +
    'ends when the caller is removed from the group.',
  request: { params: groupParams, query: eventsQuery },
  responses: {
    200: {
      description: 'The event stream.',
      content: { 'text/event-stream': { schema: z.string() } },
    },
    ...errorResponses(400, 403, 404),
  },
})

/** Registers the server-sent event stream of a group. */
export function registerEventRoutes(
  app: OpenAPIHono<AppEnv>,
  services: AppServices,
  hub: EventHub,
): void {
  app.openapi(followEvents, async (c) => {
    const { gid } = c.req.valid('param')
    const summary = await findGroup(services.summaries, gid)
    const caller = c.get('caller')
    requireMemberOrService(summary, caller)

    return streamSSE(c, (stream) => hub.subscribe(summary, caller, stream))
  })
}
