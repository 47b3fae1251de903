/** The figures of one frame of the live view. */
export interface LiveSnapshot {
  /** Log time the replay has reached, in ms since the epoch. */
  logNow: number
  posted: number
  totalMessages: number
  syncedMembers: number
  memberCount: number
  /** Open sync connections the server's /metrics reports; null before the first reading. */
  serverConnections: number | null
  reconnections: number
  onlineReads: number
  offlineReads: number
  receiptLatency: string
  storeLatency: string
  /** The newest messages, newest first. */
  latest: Array<{ seq: number; sender: string; readCount: number; unreadCount: number }>
}

const LATEST_SHOWN = 5

/** Returns the lines of a full frame. */
export function renderFrame(snapshot: LiveSnapshot): string[] {
  const lines = [
    `log time ${clock(snapshot.logNow)} UTC · ${snapshot.posted}/${snapshot.totalMessages} messages`,
    `connections: ${snapshot.syncedMembers}/${snapshot.memberCount} members synced · server ${snapshot.serverConnections ?? '?'} open · ${snapshot.reconnections} reconnections`,
    `reads: ${snapshot.onlineReads} online, ${snapshot.offlineReads} offline`,
    `receipt latency (reader's markRead → sender's replica): ${snapshot.receiptLatency}`,
    `store latency (markRead → server confirms it stored):  ${snapshot.storeLatency}`,
  ]
  for (const message of snapshot.latest.slice(0, LATEST_SHOWN)) {
    const seq = `#${message.seq}`.padStart(6)
    lines.push(
      `  ${seq} ${message.sender.padEnd(10)} read ${message.readCount} / unread ${message.unreadCount}`,
    )
  }
  return lines
}

/** Returns one line for logs that are not a terminal, such as CI's. */
export function renderLine(snapshot: LiveSnapshot): string {
  const newest = snapshot.latest
    .slice(0, 3)
    .map((message) => `#${message.seq} ${message.readCount}/${message.unreadCount}`)
    .join(' ')
  return `${clock(snapshot.logNow)} · ${snapshot.posted}/${snapshot.totalMessages} messages · ${snapshot.syncedMembers}/${snapshot.memberCount} synced · server ${snapshot.serverConnections ?? '?'} connections · receipt latency ${snapshot.receiptLatency} · newest read/unread: ${newest || 'none yet'}`
}

/**
 * Draws frames on a stream. On a terminal each frame replaces the previous one; elsewhere every
 * frame is one appended line.
 */
export class LiveView {
  readonly #out: NodeJS.WritableStream
  readonly #terminal: boolean
  #drawnLines = 0

  constructor(out: NodeJS.WritableStream, terminal: boolean) {
    this.#out = out
    this.#terminal = terminal
  }

  draw(snapshot: LiveSnapshot): void {
    if (!this.#terminal) {
      this.#out.write(`${renderLine(snapshot)}\n`)
      return
    }
    const lines = renderFrame(snapshot)
    // Move to the start of the previous frame and clear to the end of the screen.
    const rewind = this.#drawnLines > 0 ? `\x1b[${this.#drawnLines}F\x1b[J` : ''
    this.#out.write(`${rewind}${lines.join('\n')}\n`)
    this.#drawnLines = lines.length
  }
}

function clock(time: number): string {
  return new Date(time).toISOString().slice(11, 19)
}
