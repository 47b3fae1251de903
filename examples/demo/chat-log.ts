import { readFile } from 'node:fs/promises'
import { z } from 'zod'

/**
 * Chat logs in the pseudonymised format of the project's traffic records: one JSON object per
 * line, `{ ts, sender, len }`, sorted by time. `ts` is Unix time in ms (UTC), `sender` a
 * pseudonym such as `u17`, `len` the message's length in characters. The text itself is not
 * kept.
 */

const logLineSchema = z.object({
  ts: z.number().int().nonnegative(),
  sender: z.string().regex(/^[A-Za-z0-9_.:@-]{1,128}$/, 'must be a valid user id'),
  len: z.number().int().nonnegative(),
})

/** One message of a chat log. */
export type LogMessage = z.infer<typeof logLineSchema>

/** A message placed on the replay clock. */
export interface TimedMessage extends LogMessage {
  /** Position in the selected window, from 0. */
  index: number
  /** Log time of the replay, in ms since the epoch; differs from ts only by the spreading below. */
  at: number
}

const MINUTE_MS = 60_000
const HOUR_MS = 3_600_000

/** Thrown for an unreadable log or an invalid line; the message names the file and line. */
export class ChatLogError extends Error {
  override readonly name = 'ChatLogError'
}

/**
 * Parses JSON-lines text into messages, skipping blank lines. Throws ChatLogError naming the
 * source and line of the first invalid one, and for lines out of time order.
 */
export function parseChatLog(text: string, source: string): LogMessage[] {
  const messages: LogMessage[] = []
  const lines = text.split('\n')
  for (const [position, line] of lines.entries()) {
    if (line.trim() === '') continue

    const lineNumber = position + 1
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      throw new ChatLogError(`${source}:${lineNumber}: invalid JSON`)
    }
    const parsed = logLineSchema.safeParse(value)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      const field = issue?.path.join('.') || 'line'
      throw new ChatLogError(`${source}:${lineNumber}: invalid ${field}: ${issue?.message}`)
    }

    const previous = messages.at(-1)
    if (previous !== undefined && parsed.data.ts < previous.ts) {
      throw new ChatLogError(
        `${source}:${lineNumber}: ts ${parsed.data.ts} is earlier than the line before; the log must be sorted by time`,
      )
    }
    messages.push(parsed.data)
  }
  return messages
}

/** Reads and parses a chat log file; throws ChatLogError when it is missing or invalid. */
export async function readChatLog(path: string): Promise<LogMessage[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new ChatLogError(`cannot read chat log ${path}: ${(error as Error).message}`)
  }
  return parseChatLog(text, path)
}

/**
 * Returns the start of the clock hour with the most messages, the default start of a replay.
 * Returns undefined for an empty log.
 */
export function busiestHourStart(messages: readonly LogMessage[]): number | undefined {
  const perHour = new Map<number, number>()
  for (const message of messages) {
    const hour = Math.floor(message.ts / HOUR_MS) * HOUR_MS
    perHour.set(hour, (perHour.get(hour) ?? 0) + 1)
  }

  let best: number | undefined
  let bestCount = 0
  for (const [hour, count] of perHour) {
    if (count > bestCount || (count === bestCount && best !== undefined && hour < best)) {
      best = hour
      bestCount = count
    }
  }
  return best
}

/**
 * Selects the messages with from ≤ ts < from + hours and places them on the replay clock.
 *
 * The logs have a resolution of one minute, so a busy minute has several messages with one ts.
 * Replaying them in the same millisecond would turn a conversation into a burst, so k messages
 * that share a ts are spread evenly over the time until the next distinct ts, at most one
 * minute, in log order.
 */
export function selectWindow(
  messages: readonly LogMessage[],
  from: number,
  hours: number,
): TimedMessage[] {
  const end = from + hours * HOUR_MS
  const selected = messages.filter((message) => message.ts >= from && message.ts < end)

  const timed: TimedMessage[] = []
  let start = 0
  while (start < selected.length) {
    const ts = (selected[start] as LogMessage).ts
    let stop = start
    while (stop < selected.length && (selected[stop] as LogMessage).ts === ts) stop += 1

    const nextTs = selected[stop]?.ts ?? ts + MINUTE_MS
    const span = Math.min(MINUTE_MS, nextTs - ts)
    const count = stop - start
    for (let offset = 0; offset < count; offset++) {
      const message = selected[start + offset] as LogMessage
      timed.push({ ...message, index: timed.length, at: ts + Math.floor((offset * span) / count) })
    }
    start = stop
  }
  return timed
}
