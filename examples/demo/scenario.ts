import type { TimedMessage } from './chat-log.ts'

/**
 * The reading model of the replay: who is online when, and when each member reads.
 *
 * - A member who posts in the log (a speaker) is online around each burst of its posts: from a
 *   few minutes before the first post to a while after the last. Posting moves the sender's
 *   watermark to its message, so a poster has read everything before its post.
 * - A member who only reads comes online at times drawn from the log's own activity: each visit
 *   starts near a message picked at random from the window, so busy stretches draw more readers.
 * - While online, a member marks read everything its replica has, every few minutes.
 * - Offline gaps are at least MIN_OFFLINE_MS of log time, so every visit after the first is a
 *   reconnection. Half of the offline gaps hold one read of what the replica already had: a
 *   receipt written offline that must reach the server after the reconnection.
 * - Bots post and never read.
 *
 * All times are log times in ms since the epoch; the replay maps them onto the wall clock.
 */

const MINUTE_MS = 60_000

/** Posts of one speaker closer than this belong to one burst, and one online visit. */
const BURST_GAP_MS = 20 * MINUTE_MS
/** Shortest offline gap; shorter gaps between visits are merged into one visit. */
export const MIN_OFFLINE_MS = 5 * MINUTE_MS

/** A member of the replayed group. */
export interface ScenarioMember {
  userId: string
  /** True for a member who posts in the window. */
  speaker: boolean
  bot: boolean
}

/** One step of the replay, at log time `at`. */
export type ScenarioEvent =
  | { kind: 'online'; at: number; userId: string }
  | { kind: 'offline'; at: number; userId: string }
  /** Marks read everything the member's replica holds, online or offline. */
  | { kind: 'read'; at: number; userId: string; offline: boolean }
  | { kind: 'post'; at: number; userId: string; message: TimedMessage }

export interface Scenario {
  members: ScenarioMember[]
  /** Sorted by time; events at the same time keep the order in which the model made them. */
  events: ScenarioEvent[]
  /** Log time of the window's start and end. */
  from: number
  to: number
}

export interface ScenarioOptions {
  messages: readonly TimedMessage[]
  from: number
  to: number
  /** Members in all, speakers included; the rest only read. */
  memberCount: number
  /** Senders of the log that are bots. */
  bots: ReadonlySet<string>
  seed: number
}

/** Thrown when the options cannot make a scenario, for example too few members. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError'
}

interface Visit {
  start: number
  end: number
}

/** Builds the replay's members and events; the same options and seed give the same scenario. */
export function buildScenario(options: ScenarioOptions): Scenario {
  const { messages, from, to, memberCount, bots } = options
  const random = seededRandom(options.seed)

  const postsBySender = new Map<string, TimedMessage[]>()
  for (const message of messages) {
    const posts = postsBySender.get(message.sender) ?? []
    posts.push(message)
    postsBySender.set(message.sender, posts)
  }
  if (memberCount < postsBySender.size) {
    throw new ScenarioError(
      `--members ${memberCount} is below the ${postsBySender.size} senders in the window; use at least ${postsBySender.size}`,
    )
  }

  const members: ScenarioMember[] = []
  const events: ScenarioEvent[] = []

  for (const [sender, posts] of postsBySender) {
    const bot = bots.has(sender)
    members.push({ userId: sender, speaker: true, bot })

    const visits = mergeVisits(speakerVisits(posts, random, from, to))
    addVisitEvents(events, sender, visits, bot ? null : readInterval(random), random, to)
    for (const message of posts) {
      events.push({ kind: 'post', at: message.at, userId: sender, message })
    }
  }

  const readerCount = memberCount - postsBySender.size
  const width = String(readerCount).length
  for (let number = 1; number <= readerCount; number++) {
    const userId = `reader${String(number).padStart(width, '0')}`
    members.push({ userId, speaker: false, bot: false })

    const visits = mergeVisits(readerVisits(messages, random, from, to))
    addVisitEvents(events, userId, visits, readInterval(random), random, to)
  }

  // Array.prototype.sort is stable, so events at one time keep the order they were made in.
  events.sort((a, b) => a.at - b.at)
  return { members, events, from, to }
}

/** Returns a visit per burst of posts, from 1–10 minutes before its first post to 5–30 after its last. */
function speakerVisits(
  posts: readonly TimedMessage[],
  random: () => number,
  from: number,
  to: number,
): Visit[] {
  const visits: Visit[] = []
  let burstStart = (posts[0] as TimedMessage).at
  let burstEnd = burstStart
  const close = () => {
    const lead = between(random, 1, 10) * MINUTE_MS
    const linger = between(random, 5, 30) * MINUTE_MS
    visits.push({ start: Math.max(from, burstStart - lead), end: Math.min(to, burstEnd + linger) })
  }

  for (const post of posts.slice(1)) {
    if (post.at - burstEnd > BURST_GAP_MS) {
      close()
      burstStart = post.at
    }
    burstEnd = post.at
  }
  close()
  return visits
}

/**
 * Visits of a member who only reads: 0 to 4 per hour of the window, each starting up to five
 * minutes before a message picked at random and lasting 3 to 20 minutes.
 */
function readerVisits(
  messages: readonly TimedMessage[],
  random: () => number,
  from: number,
  to: number,
): Visit[] {
  const hours = Math.max(1, Math.round((to - from) / (60 * MINUTE_MS)))
  const visits: Visit[] = []
  for (let hour = 0; hour < hours; hour++) {
    const count = pick(random, [0, 1, 2, 2, 3, 3, 4])
    for (let visit = 0; visit < count; visit++) {
      const anchor = messages[Math.floor(random() * messages.length)]
      if (anchor === undefined) continue
      const start = Math.max(from, anchor.at - between(random, 0, 5) * MINUTE_MS)
      const end = Math.min(to, start + between(random, 3, 20) * MINUTE_MS)
      visits.push({ start, end })
    }
  }
  return visits
}

/** Sorts visits and merges those that overlap or leave an offline gap under MIN_OFFLINE_MS. */
export function mergeVisits(visits: readonly Visit[]): Visit[] {
  const sorted = [...visits].sort((a, b) => a.start - b.start)
  const merged: Visit[] = []
  for (const visit of sorted) {
    const last = merged.at(-1)
    if (last !== undefined && visit.start - last.end < MIN_OFFLINE_MS) {
      last.end = Math.max(last.end, visit.end)
    } else {
      merged.push({ ...visit })
    }
  }
  return merged
}

/**
 * Adds the online, offline and read events of one member's visits. readEveryMs null means the
 * member never reads (a bot). A visit that lasts to the window's end has no offline event.
 */
function addVisitEvents(
  events: ScenarioEvent[],
  userId: string,
  visits: readonly Visit[],
  readEveryMs: number | null,
  random: () => number,
  to: number,
): void {
  for (const [position, visit] of visits.entries()) {
    events.push({ kind: 'online', at: visit.start, userId })
    if (readEveryMs !== null) {
      // The first read comes a little after coming online: the member opens the group.
      for (let at = visit.start + readEveryMs / 2; at < visit.end; at += readEveryMs) {
        events.push({ kind: 'read', at, userId, offline: false })
      }
    }
    if (visit.end >= to) continue

    events.push({ kind: 'offline', at: visit.end, userId })
    const nextStart = visits[position + 1]?.start ?? to
    const gap = nextStart - visit.end
    if (readEveryMs !== null && gap > 2 * MINUTE_MS && random() < 0.5) {
      const delay = Math.min(gap - MINUTE_MS, between(random, 1, 10) * MINUTE_MS)
      events.push({ kind: 'read', at: visit.end + delay, userId, offline: true })
    }
  }
}

/** Returns how often an online member reads: every 1 to 4 minutes of log time. */
function readInterval(random: () => number): number {
  return between(random, 1, 4) * MINUTE_MS
}

function between(random: () => number, low: number, high: number): number {
  return low + random() * (high - low)
}

function pick<T>(random: () => number, values: readonly T[]): T {
  return values[Math.floor(random() * values.length)] as T
}

/** mulberry32: a small seeded generator of numbers in [0, 1), so a seed repeats a run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let value = state
    value = Math.imul(value ^ (value >>> 15), value | 1)
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61)
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296
  }
}
