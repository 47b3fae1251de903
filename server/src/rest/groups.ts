import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { isCurrentMember, type Member, type MemberRecord, type Role } from '@readmark/shared'
import type { AppEnv, AppServices } from '../app.ts'
import type { Caller } from '../auth.ts'
import { AppError } from '../errors.ts'
import type { GroupSummary } from '../summaries.ts'
import { currentRole, findGroup, requireService } from './access.ts'
import { api, errorResponses, jsonBody, jsonResponse, memberParams } from './schemas.ts'

const createGroup = createRoute({
  method: 'post',
  path: '/v1/groups',
  tags: ['groups'],
  summary: 'Create a group with its first members',
  description:
    'Service only. Every member joins at head 0, and a member without a role gets "member".',
  request: { body: jsonBody(api.CreateGroupBody) },
  responses: {
    201: jsonResponse(api.Group, 'The new group.'),
    ...errorResponses(400, 403, 409, 413),
  },
})

const putMember = createRoute({
  method: 'put',
  path: '/v1/groups/{gid}/members/{uid}',
  tags: ['groups'],
  summary: 'Add a member or change its role',
  description:
    'Service, owners and admins. A new or returning member joins at the current head with W set ' +
    'to it. Only the service and owners may grant the owner role or change an owner.',
  request: { params: memberParams, body: jsonBody(api.PutMemberBody) },
  responses: {
    200: jsonResponse(api.Member, 'The changed member.'),
    201: jsonResponse(api.Member, 'The member who joined.'),
    ...errorResponses(400, 403, 404, 413),
  },
})

const removeMember = createRoute({
  method: 'delete',
  path: '/v1/groups/{gid}/members/{uid}',
  tags: ['groups'],
  summary: 'Remove a member',
  description:
    'Service, owners, admins (not of an owner) and the member itself. The group leaves the ' +
    "user's unread totals, and the user's sync connections and event streams are closed.",
  request: { params: memberParams },
  responses: {
    200: jsonResponse(api.Member, 'The former member, with its closed period.'),
    ...errorResponses(400, 403, 404),
  },
})

/** Registers group creation and membership changes. */
export function registerGroupRoutes(app: OpenAPIHono<AppEnv>, services: AppServices): void {
  const { groups, summaries } = services

  app.openapi(createGroup, async (c) => {
    requireService(c.get('caller'), 'create groups')
    const summary = await groups.createGroup(c.req.valid('json'))
    return c.json(groupView(summary), 201)
  })

  app.openapi(putMember, async (c) => {
    const { gid, uid } = c.req.valid('param')
    const body = c.req.valid('json')
    const summary = await findGroup(summaries, gid)
    requireMayChangeMember(summary, c.get('caller'), uid, body.role)

    const { member, joined } = await groups.putMember(gid, uid, body)
    return c.json(memberView(summary, uid, member), joined ? 201 : 200)
  })

  app.openapi(removeMember, async (c) => {
    const { gid, uid } = c.req.valid('param')
    const summary = await findGroup(summaries, gid)
    const caller = c.get('caller')
    if (caller.userId !== uid) requireMayChangeMember(summary, caller, uid)

    const record = await groups.removeMember(gid, uid)
    return c.json(memberView(summary, uid, record), 200)
  })
}

/**
 * Throws AppError `forbidden` unless the caller may change the target's membership: the service
 * and owners always, admins unless the target is an owner or the new role is owner.
 */
function requireMayChangeMember(
  summary: GroupSummary,
  caller: Caller,
  targetId: string,
  newRole?: Role,
): void {
  if (caller.service) return

  const role = currentRole(summary, caller.userId)
  if (role === 'owner') return
  if (role === 'admin') {
    if (currentRole(summary, targetId) === 'owner') {
      throw new AppError('forbidden', `an admin may not change owner "${targetId}"`)
    }
    if (newRole === 'owner') {
      throw new AppError('forbidden', 'an admin may not grant the owner role')
    }
    return
  }
  throw new AppError(
    'forbidden',
    `only the service, owners and admins of group "${summary.id}" may change its members`,
  )
}

/** Builds the REST view of a member from its record and the summary's watermark. */
export function memberView(summary: GroupSummary, userId: string, record: MemberRecord): Member {
  return {
    ...record,
    userId,
    current: isCurrentMember(record),
    watermark: summary.watermarks.get(userId) ?? 0,
  }
}

function groupView(summary: GroupSummary) {
  const members: Member[] = []
  for (const userId of summary.sortedMemberIds()) {
    const record = summary.members.get(userId)
    if (record !== undefined) members.push(memberView(summary, userId, record))
  }
  return {
    id: summary.id,
    head: summary.head,
    createdAt: summary.group.createdAt,
    members,
  }
}
