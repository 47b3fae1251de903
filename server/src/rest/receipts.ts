import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import {
  countBelow,
  countMessage,
  type GroupState,
  listReaders,
  listUnread,
  type MemberRecord,
  type MessageFacts,
  type Reader,
} from '@readmark/shared'
import type { AppEnv, AppServices } from '../app.ts'
import type { GroupSummary } from '../summaries.ts'
import { findGroup, requireSenderOrManager } from './access.ts'
import { api, errorResponses, jsonResponse, messageParams, receiptsQuery } from './schemas.ts'

/** Smallest slice of the member list classified at a time, so sparse audiences take few slices. */
const MIN_CHUNK = 64

const getReceipts = createRoute({
  method: 'get',
  path: '/v1/groups/{gid}/messages/{seq}/receipts',
  tags: ['queries'],
  summary: 'Receipts of one message',
  description:
    'Its sender, owners, admins and the service. readCount and unreadCount cover the whole ' +
    'audience; `readers` (with the server time of the read) and `unread` list one page of it in ' +
    'user id order. Pass `nextCursor` as `cursor` for the next page.',
  request: { params: messageParams, query: receiptsQuery },
  responses: {
    200: jsonResponse(api.Receipts, 'Counts and one page of readers and unread members.'),
    ...errorResponses(400, 403, 404),
  },
})

/** Registers the receipts of one message. */
export function registerReceiptRoutes(app: OpenAPIHono<AppEnv>, services: AppServices): void {
  app.openapi(getReceipts, async (c) => {
    const { gid, seq } = c.req.valid('param')
    const { cursor, limit } = c.req.valid('query')
    const summary = await findGroup(services.summaries, gid)
    const facts = requireSenderOrManager(summary, c.get('caller'), seq, 'see the receipts of')

    const counts = countMessage(summary.countIndex(), facts)
    const page = pageAudience(summary, facts, cursor, limit)
    return c.json({ seq, ...counts, ...page }, 200)
  })
}

interface AudiencePage {
  readers: Reader[]
  unread: string[]
  nextCursor: string | null
}

/**
 * Lists up to limit audience members of a message after the cursor, in user id order, split into
 * readers and unread. It runs listReaders and listUnread on slices of the sorted member list, so a
 * page costs O(members on it) rather than O(group size).
 */
export function pageAudience(
  summary: GroupSummary,
  message: MessageFacts,
  cursor: string | undefined,
  limit: number,
): AudiencePage {
  const ids = summary.sortedMemberIds()
  const readers: Reader[] = []
  const unread: string[] = []
  let position = cursor === undefined ? 0 : firstIndexAfter(ids, cursor)
  let lastListed: string | null = null

  while (position < ids.length && readers.length + unread.length < limit) {
    const end = Math.min(ids.length, position + Math.max(limit, MIN_CHUNK))
    const slice = new Map<string, MemberRecord>()
    for (const userId of ids.slice(position, end)) {
      const record = summary.members.get(userId)
      if (record !== undefined) slice.set(userId, record)
    }
    const state: GroupState = { ...summary.state(), members: slice }
    const sliceReaders = listReaders(state, message, summary.advances)
    const sliceUnread = listUnread(state, message)

    // Merge the two lists, both sorted by user id, until the page is full.
    let r = 0
    let u = 0
    while (readers.length + unread.length < limit) {
      const reader = sliceReaders[r]
      const unreadId = sliceUnread[u]
      if (reader === undefined && unreadId === undefined) break
      if (unreadId === undefined || (reader !== undefined && reader.userId < unreadId)) {
        readers.push(reader as Reader)
        lastListed = (reader as Reader).userId
        r += 1
      } else {
        unread.push(unreadId)
        lastListed = unreadId
        u += 1
      }
    }
    const sliceDone = r === sliceReaders.length && u === sliceUnread.length
    position = sliceDone ? end : firstIndexAfter(ids, lastListed as string)
  }

  return { readers, unread, nextCursor: position < ids.length ? lastListed : null }
}

/** Returns the index of the first id greater than value in a sorted array of distinct ids. */
function firstIndexAfter(sorted: readonly string[], value: string): number {
  const at = countBelow(sorted, value)
  return sorted[at] === value ? at + 1 : at
}
