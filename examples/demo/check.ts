import type { GroupSummaryResponse, MessagePage, UnreadResponse } from '@readmark/shared'
import type { ReceiptOracle } from './oracle.ts'
import type { RestClient } from './rest.ts'

const PAGE_SIZE = 200

/** Matches and mismatches of one kind of count. */
export interface CheckTally {
  checked: number
  matched: number
  /** One line per mismatch, naming the seq or member with the expected and served values. */
  mismatches: string[]
}

export interface CheckResult {
  messages: CheckTally
  members: CheckTally
}

/**
 * Compares the counts the server's REST API serves with the oracle's: readCount and unreadCount
 * of every message from `GET /v1/groups/:gid/messages`, and every member's unread count from
 * `GET /v1/users/:uid/unread`. Call it once the server has confirmed every receipt.
 */
export async function checkAgainstOracle(
  rest: RestClient,
  groupId: string,
  oracle: ReceiptOracle,
  memberIds: readonly string[],
): Promise<CheckResult> {
  const group = encodeURIComponent(groupId)
  const messages: CheckTally = { checked: 0, matched: 0, mismatches: [] }
  const members: CheckTally = { checked: 0, matched: 0, mismatches: [] }

  const served = new Set<number>()
  let after: number | null = 0
  while (after !== null) {
    const page: MessagePage = await rest.request<MessagePage>(
      'GET',
      `/v1/groups/${group}/messages?after=${after}&limit=${PAGE_SIZE}`,
    )
    for (const message of page.messages) {
      served.add(message.seq)
      messages.checked += 1
      const expected = oracle.countsOf(message.seq)
      if (expected === undefined) {
        messages.mismatches.push(`seq ${message.seq}: served, but the replay never posted it`)
        continue
      }
      if (
        expected.readCount === message.readCount &&
        expected.unreadCount === message.unreadCount
      ) {
        messages.matched += 1
      } else {
        messages.mismatches.push(
          `seq ${message.seq} from ${message.sender}: expected read ${expected.readCount} / unread ${expected.unreadCount}, served read ${message.readCount} / unread ${message.unreadCount}`,
        )
      }
    }
    after = page.nextAfter
  }
  for (const seq of oracle.seqs()) {
    if (served.has(seq)) continue
    messages.checked += 1
    messages.mismatches.push(`seq ${seq}: posted, but missing from the message history`)
  }

  const summary = await rest.request<GroupSummaryResponse>('GET', `/v1/groups/${group}/summary`)
  for (const userId of memberIds) {
    members.checked += 1
    const response = await rest.request<UnreadResponse>(
      'GET',
      `/v1/users/${encodeURIComponent(userId)}/unread`,
    )
    const servedUnread = response.groups.find((entry) => entry.groupId === groupId)?.unread
    const expected = oracle.unreadOf(userId)
    if (servedUnread === expected) {
      members.matched += 1
    } else {
      members.mismatches.push(
        `${userId}: expected unread ${expected} (W ${oracle.watermark(userId)}), served ${servedUnread ?? 'no entry'} (W ${summary.watermarks[userId] ?? 'none'})`,
      )
    }
  }

  return { messages, members }
}
