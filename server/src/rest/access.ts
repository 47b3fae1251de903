import { isCurrentMember, type MessageFacts, type Role } from '@readmark/shared'
import type { Caller } from '../auth.ts'
import { AppError } from '../errors.ts'
import type { GroupSummary, SummaryService } from '../summaries.ts'

/**
 * Permission checks shared by the route groups. They read the persisted summaries only, never a
 * group's document.
 */

/** Returns a group's summary, or throws AppError `not_found` for an unknown group. */
export async function findGroup(summaries: SummaryService, groupId: string): Promise<GroupSummary> {
  const summary = await summaries.get(groupId)
  if (summary === undefined) throw new AppError('not_found', `group "${groupId}" not found`)
  return summary
}

/** Returns the role of a current member, or undefined for a former member or a stranger. */
export function currentRole(summary: GroupSummary, userId: string): Role | undefined {
  const record = summary.members.get(userId)
  return isCurrentMember(record) ? record?.role : undefined
}

/** Tells whether the caller is a current owner or admin of the group. */
export function isManager(summary: GroupSummary, caller: Caller): boolean {
  const role = currentRole(summary, caller.userId)
  return role === 'owner' || role === 'admin'
}

/** Throws AppError `forbidden` unless the caller is the service. */
export function requireService(caller: Caller, action: string): void {
  if (!caller.service) throw new AppError('forbidden', `only a service token may ${action}`)
}

/** Throws AppError `forbidden` unless the caller is the service or a current member. */
export function requireMemberOrService(summary: GroupSummary, caller: Caller): void {
  if (caller.service || currentRole(summary, caller.userId) !== undefined) return
  throw new AppError(
    'forbidden',
    `user "${caller.userId}" is not a member of group "${summary.id}"`,
  )
}

/**
 * Returns the user a request acts for. A service token must name it in `userId`. A user token
 * acts for itself and may name only itself.
 */
export function actingUserId(caller: Caller, userId: string | undefined): string {
  if (caller.service) {
    if (userId === undefined) {
      throw new AppError('invalid_request', 'a service token must name the user in "userId"')
    }
    return userId
  }
  if (userId !== undefined && userId !== caller.userId) {
    throw new AppError(
      'forbidden',
      `user "${caller.userId}" may not act for user "${userId}"; only a service token may`,
    )
  }
  return caller.userId
}

/**
 * Returns the facts of a logged message, after checking that the caller is its sender (and still a
 * member), an owner, an admin or the service. Throws AppError `not_found` or `forbidden`.
 */
export function requireSenderOrManager(
  summary: GroupSummary,
  caller: Caller,
  seq: number,
  action: string,
): MessageFacts & { at: number } {
  const facts = summary.messages.get(seq)
  if (facts === undefined) {
    throw new AppError('not_found', `message ${seq} not found in group "${summary.id}"`)
  }

  const isSender =
    facts.sender === caller.userId && currentRole(summary, caller.userId) !== undefined
  if (!caller.service && !isSender && !isManager(summary, caller)) {
    throw new AppError(
      'forbidden',
      `only its sender, owners, admins and the service may ${action} message ${seq}`,
    )
  }
  return facts
}
