import {
  createClient,
  type GroupSession,
  memoryStorage,
  type ReadmarkClient,
} from '@readmark/client-sdk'
import WebSocket from 'ws'
import { LatencyRecorder } from './latency.ts'
import { ReceiptOracle } from './oracle.ts'
import type { Scenario, ScenarioEvent } from './scenario.ts'

/** Replay counters the live view and the summary print. */
export interface ReplayStats {
  posted: number
  sendFailures: number
  onlineReads: number
  /** Reads made while the member's sync connection was closed. */
  offlineReads: number
  /** Visits after a member's first one: each one reconnects a session. */
  reconnections: number
  /** `error` events of the sessions, for example a refused connection. */
  sessionErrors: number
  lastSessionError: string | null
  /** Largest delay of an event behind its place on the replay clock, in ms. */
  maxLagMs: number
}

/** A receipt whose arrival at the sender's session is being timed. */
interface ReceiptProbe {
  reader: string
  seq: number
  startedAt: number
}

interface MemberSession {
  userId: string
  bot: boolean
  client: ReadmarkClient
  session: GroupSession
  online: boolean
  visits: number
  /** Receipts of this member's messages on their way to its session. */
  probes: ReceiptProbe[]
}

export interface ReplayOptions {
  scenario: Scenario
  baseUrl: string
  groupId: string
  /** Returns the token of a member. */
  tokenOf(userId: string): Promise<string>
  /** Log time passes this many times faster than wall time. */
  speed: number
}

/**
 * Plays a scenario against a server: one client-SDK session per member, each with in-memory
 * storage, connecting, disconnecting, reading and posting at the scenario's times scaled by the
 * speed. Every post and read the server must reflect goes into the oracle.
 */
export class Replay {
  readonly oracle: ReceiptOracle
  readonly stats: ReplayStats = {
    posted: 0,
    sendFailures: 0,
    onlineReads: 0,
    offlineReads: 0,
    reconnections: 0,
    sessionErrors: 0,
    lastSessionError: null,
    maxLagMs: 0,
  }
  /** From a reader's markRead to the sender's session seeing the receipt, both online. */
  readonly receiptLatency = new LatencyRecorder()
  /**
   * From an online markRead to the server's confirmation that it stored the receipt, for members
   * who stayed online meanwhile.
   */
  readonly storeLatency = new LatencyRecorder()
  /** Sender of each accepted seq. */
  readonly senders = new Map<number, string>()

  readonly #options: ReplayOptions
  readonly #members = new Map<string, MemberSession>()
  readonly #sends = new Set<Promise<void>>()
  #startedAt = 0

  private constructor(options: ReplayOptions) {
    this.#options = options
    this.oracle = new ReceiptOracle(options.scenario.members)
  }

  /** Opens an offline session for every member of the scenario. */
  static async open(options: ReplayOptions): Promise<Replay> {
    const replay = new Replay(options)
    // y-websocket 3.1.0 adds a process 'exit' listener per provider in Node; one per member is
    // expected here, not a leak.
    process.setMaxListeners(process.getMaxListeners() + options.scenario.members.length)
    await Promise.all(options.scenario.members.map((member) => replay.#openMember(member)))
    return replay
  }

  /** Members whose session is synced with the server now. */
  get syncedMembers(): number {
    let synced = 0
    for (const member of this.#members.values()) if (member.session.status === 'synced') synced += 1
    return synced
  }

  get memberCount(): number {
    return this.#members.size
  }

  /** Returns the log time the replay has reached. */
  logNow(): number {
    const { from, to } = this.#options.scenario
    if (this.#startedAt === 0) return from
    return Math.min(to, from + (performance.now() - this.#startedAt) * this.#options.speed)
  }

  /** Applies every event at its place on the replay clock; resolves after the last one. */
  async run(): Promise<void> {
    const { scenario, speed } = this.#options
    this.#startedAt = performance.now()

    for (const event of scenario.events) {
      const due = this.#startedAt + (event.at - scenario.from) / speed
      const wait = due - performance.now()
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
      else this.stats.maxLagMs = Math.max(this.stats.maxLagMs, -wait)

      this.#apply(event)
    }

    const rest = (scenario.to - scenario.from) / speed - (performance.now() - this.#startedAt)
    if (rest > 1) await new Promise((resolve) => setTimeout(resolve, rest))
  }

  /**
   * Ends the replay: waits for every post, connects every session so receipts written offline
   * reach the server, and waits until the server has confirmed each session's receipts as stored.
   * Throws naming the members still waiting after timeoutMs.
   */
  async settle(timeoutMs: number): Promise<void> {
    await withTimeout(Promise.all(this.#sends), timeoutMs, () => `${this.#sends.size} posts`)

    for (const member of this.#members.values()) {
      if (member.online) continue
      member.session.connect()
      member.online = true
      if (member.visits > 0) this.stats.reconnections += 1
      member.visits += 1
    }

    const waiting = new Set(this.#members.keys())
    await withTimeout(
      Promise.all(
        [...this.#members.values()].map(async (member) => {
          await member.session.whenSynced()
          await member.session.whenConfirmed()
          waiting.delete(member.userId)
        }),
      ),
      timeoutMs,
      () => `the confirmations of ${[...waiting].slice(0, 5).join(', ')} (${waiting.size} in all)`,
    )
  }

  /** Closes every session. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#members.values()].map((member) => member.client.close()))
  }

  async #openMember(member: { userId: string; bot: boolean }): Promise<void> {
    const client = await createClient({
      url: this.#options.baseUrl,
      token: await this.#options.tokenOf(member.userId),
      deviceId: 'demo',
      storage: memoryStorage(),
      WebSocket,
      connect: false,
      reconnect: { baseMs: 100, maxMs: 2_000 },
    })
    const session = await client.group(this.#options.groupId)
    const state: MemberSession = {
      userId: member.userId,
      bot: member.bot,
      client,
      session,
      online: false,
      visits: 0,
      probes: [],
    }
    session.on('change', (change) => {
      if (change.receipts) this.#checkProbes(state)
    })
    session.on('error', (error) => {
      this.stats.sessionErrors += 1
      this.stats.lastSessionError = `${member.userId}: ${error.code}: ${error.message}`
    })
    this.#members.set(member.userId, state)
  }

  #apply(event: ScenarioEvent): void {
    const member = this.#members.get(event.userId)
    if (member === undefined) throw new Error(`event for unknown member "${event.userId}"`)

    switch (event.kind) {
      case 'online':
        member.session.connect()
        member.online = true
        if (member.visits > 0) this.stats.reconnections += 1
        member.visits += 1
        return
      case 'offline':
        member.session.disconnect()
        member.online = false
        member.probes.length = 0
        return
      case 'read':
        this.#read(member)
        return
      case 'post':
        this.#post(member, event.message.index, event.message.len)
        return
    }
  }

  /** Marks read everything the member's replica holds. */
  #read(member: MemberSession): void {
    const { session } = member
    const head = session.head()
    if (head <= session.watermark()) return

    const startedAt = performance.now()
    session.markRead(head)
    this.oracle.recordRead(member.userId, head)
    if (!member.online) {
      this.stats.offlineReads += 1
      return
    }

    this.stats.onlineReads += 1
    if (session.status !== 'synced') return
    // A confirmation that waited for a reconnection measures the offline gap, not the server.
    const visit = member.visits
    session.whenConfirmed().then(
      () => {
        if (member.online && member.visits === visit) {
          this.storeLatency.record(performance.now() - startedAt)
        }
      },
      () => undefined,
    )
    const sender = this.#members.get(this.senders.get(head) ?? '')
    if (sender !== undefined && sender !== member && sender.session.status === 'synced') {
      sender.probes.push({ reader: member.userId, seq: head, startedAt })
    }
  }

  #post(member: MemberSession, index: number, length: number): void {
    const sending = member.session
      .send(fillerText(length), { clientMessageId: `m${index}` })
      .then(
        (sent) => {
          this.oracle.recordPost(sent.seq, member.userId)
          this.senders.set(sent.seq, member.userId)
          this.stats.posted += 1
        },
        (error: unknown) => {
          this.stats.sendFailures += 1
          this.stats.lastSessionError = `${member.userId}: send failed: ${String(error)}`
        },
      )
      .finally(() => this.#sends.delete(sending))
    this.#sends.add(sending)
  }

  #checkProbes(member: MemberSession): void {
    if (member.probes.length === 0) return

    const now = performance.now()
    member.probes = member.probes.filter((probe) => {
      if (member.session.watermark(probe.reader) < probe.seq) return true
      this.receiptLatency.record(now - probe.startedAt)
      return false
    })
  }
}

const WORDS = ['the', 'build', 'fails', 'on', 'trunk', 'with', 'a', 'new', 'index', 'patch']

/** Returns text of exactly length characters, standing in for a message whose text the log omits. */
export function fillerText(length: number): string {
  let text = ''
  for (let word = 0; text.length < length; word++) {
    text += `${WORDS[word % WORDS.length]} `
  }
  return text.slice(0, length)
}

async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  describe: () => string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`)),
      timeoutMs,
    )
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
