import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import {
  countUnread,
  isCurrentMember,
  listReaders,
  type MessageFacts,
  readRate,
  type UnreadResponse,
} from '@readmark/shared'
import type { AppEnv, AppServices } from '../app.ts'
import { AppError } from '../errors.ts'
import type { GroupSummary } from '../summaries.ts'
import { findGroup, isManager, requireMemberOrService } from './access.ts'
import {
  api,
  errorResponses,
  groupParams,
  jsonResponse,
  statsQuery,
  userParams,
} from './schemas.ts'

const getSummary = createRoute({
  method: 'get',
  path: '/v1/groups/{gid}/summary',
  tags: ['queries'],
  summary: 'Group summary',
  description:
    'Members and the service. Head, member count, the watermark of every current member, and ' +
    'the read rate over the most recent messages, as many as the document window holds.',
  request: { params: groupParams },
  responses: {
    200: jsonResponse(api.GroupSummary, 'The summary.'),
    ...errorResponses(400, 403, 404),
  },
})

const getUserUnread = createRoute({
  method: 'get',
  path: '/v1/users/{uid}/unread',
  tags: ['queries'],
  summary: "A user's unread counts",
  description:
    'The user itself and the service. One entry per group the user is a member of now, with the ' +
    'unread count and the "marked unread" flag; `total` adds up the counts. A user in no group ' +
    'gets total 0 and no groups.',
  request: { params: userParams },
  responses: {
    200: jsonResponse(api.UserUnread, 'Unread counts per group and in total.'),
    ...errorResponses(400, 403),
  },
})

const getStats = createRoute({
  method: 'get',
  path: '/v1/groups/{gid}/stats',
  tags: ['queries'],
  summary: 'Read statistics over a time range',
  description:
    'Owners, admins and the service. Read rate and the median and 90th percentile time from ' +
    'sending to reading, over the messages sent in [from, to) that are not deleted, at most the ' +
    '`limit` most recent of them.',
  request: { params: groupParams, query: statsQuery },
  responses: {
    200: jsonResponse(api.GroupStats, 'The statistics.'),
    ...errorResponses(400, 403, 404),
  },
})

/** Registers the group summary, a user's unread counts and the group statistics. */
export function registerQueryRoutes(app: OpenAPIHono<AppEnv>, services: AppServices): void {
  const { summaries, options } = services

  app.openapi(getSummary, async (c) => {
    const { gid } = c.req.valid('param')
    const summary = await findGroup(summaries, gid)
    requireMemberOrService(summary, c.get('caller'))

    const watermarks: Record<string, number> = {}
    let memberCount = 0
    for (const [userId, record] of summary.members) {
      if (!isCurrentMember(record)) continue
      memberCount += 1
      watermarks[userId] = summary.watermarks.get(userId) ?? 0
    }
    const recent = summary.recentMessages(options.messageWindow)
    return c.json(
      {
        groupId: gid,
        head: summary.head,
        createdAt: summary.group.createdAt,
        memberCount,
        watermarks,
        readRate: readRate(summary.countIndex(), recent),
        readRateMessages: recent.length,
      },
      200,
    )
  })

  app.openapi(getUserUnread, async (c) => {
    const { uid } = c.req.valid('param')
    const caller = c.get('caller')
    if (!caller.service && caller.userId !== uid) {
      throw new AppError(
        'forbidden',
        `user "${caller.userId}" may not read the unread counts of "${uid}"`,
      )
    }

    const response: UnreadResponse = { userId: uid, total: 0, groups: [] }
    for (const groupId of await summaries.userGroups(uid)) {
      const summary = summaries.peek(groupId) ?? (await summaries.get(groupId))
      if (summary === undefined) continue
      const unread = countUnread(summary.state(), summary.messageIndex, uid)
      if (unread === undefined) continue

      response.total += unread
      response.groups.push({ groupId, unread, markedUnread: summary.markedUnread.has(uid) })
    }
    return c.json(response, 200)
  })

  app.openapi(getStats, async (c) => {
    const { gid } = c.req.valid('param')
    const { from = 0, to = Date.now(), limit } = c.req.valid('query')
    const summary = await findGroup(summaries, gid)
    const caller = c.get('caller')
    if (!caller.service && !isManager(summary, caller)) {
      throw new AppError('forbidden', 'only owners, admins and the service may read statistics')
    }
    if (to < from) {
      throw new AppError('invalid_request', `"to" (${to}) must not be before "from" (${from})`)
    }

    let inRange: Array<MessageFacts & { at: number }> = []
    for (const facts of summary.messages.values()) {
      if (facts.deleted !== true && facts.at >= from && facts.at < to) inRange.push(facts)
    }
    const truncated = inRange.length > limit
    if (truncated) inRange = inRange.slice(-limit)

    const times = timesToRead(summary, inRange)
    return c.json(
      {
        groupId: gid,
        from,
        to,
        messages: inRange.length,
        truncated,
        readRate: readRate(summary.countIndex(), inRange),
        reads: times.length,
        medianTimeToReadMs: percentile(times, 0.5),
        p90TimeToReadMs: percentile(times, 0.9),
      },
      200,
    )
  })
}

/**
 * Returns the time from sending to reading of every read with a known read time, sorted, in ms.
 * TODO(stats): costs O(messages × members) per request; large groups need a stored aggregate.
 */
function timesToRead(
  summary: GroupSummary,
  messages: ReadonlyArray<MessageFacts & { at: number }>,
): Float64Array {
  const state = summary.state()
  const times: number[] = []
  for (const message of messages) {
    for (const reader of listReaders(state, message, summary.advances)) {
      if (reader.readAt !== null) times.push(Math.max(0, reader.readAt - message.at))
    }
  }
  return Float64Array.from(times).sort()
}

/** Returns the nearest-rank percentile of sorted values, or null when there are none. */
function percentile(sorted: Float64Array, fraction: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)] ?? null
}
