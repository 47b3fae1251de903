import * as Y from 'yjs'
import {
  type Advance,
  addMessageToIndex,
  buildMessageIndex,
  ClientOwners,
  closePeriod,
  type GroupDoc,
  type GroupState,
  isCurrentMember,
  META_HEAD,
  type MessageIndex,
  type MessageRecord,
  markDeletedInIndex,
  openGroupDoc,
  openPeriod,
  readHead,
  readMembers,
  readWatermark,
  readWatermarks,
  SERVER_DEVICE,
  type Verdict,
  validateUpdate,
  writeDeviceReceipt,
} from '../src/index.ts'

/** Transaction origin of updates a test delivers, so a replica's outbox keeps only its own writes. */
export const REMOTE = Symbol('remote')

/** A user in a new test group. */
export interface MemberSpec {
  userId: string
  bot?: boolean
}

/**
 * Stand-in for the readmark server's handling of one group. It owns the server's replica, the
 * client id owners and the full message log, applies only updates the validator accepts, and does
 * what the readmark contract requires of the server on join, leave, send and delete. Every change the server
 * makes is one Yjs transaction, so each becomes its own broadcast update.
 */
export class TestServer {
  readonly doc = new Y.Doc()
  readonly group: GroupDoc = openGroupDoc(this.doc)
  readonly owners: ClientOwners
  /** Every message ever sent, oldest first; the document keeps only the newest windowSize. */
  readonly log: MessageRecord[] = []
  /** Message index kept up to date one message at a time, as a long-running server would. */
  readonly messageIndex: MessageIndex = buildMessageIndex([])
  /** Watermark advances per user with the server time of each, oldest first. */
  readonly advances = new Map<string, Advance[]>()
  /** Yjs client ids recorded for each user when their first update was accepted. */
  readonly clientsOf = new Map<string, number[]>()
  readonly windowSize: number
  /** Server time in ms; each change the server makes ticks it by one. */
  time = 1_000

  constructor(
    members: readonly MemberSpec[],
    options: { windowSize?: number; clientId?: number } = {},
  ) {
    this.windowSize = options.windowSize ?? Number.POSITIVE_INFINITY
    if (options.clientId !== undefined) this.doc.clientID = options.clientId
    this.doc.transact(() => {
      this.group.meta.set(META_HEAD, 0)
      for (const member of members) {
        this.group.members.set(member.userId, openPeriod(undefined, 0, 'member', member.bot))
      }
    })
    this.owners = ClientOwners.fromDoc(this.doc)
  }

  get head(): number {
    return readHead(this.group)
  }

  /**
   * Adds a user at the current head, or again after it left. A first join raises its W to the
   * head; a rejoin keeps W, so unread messages of earlier periods stay unread.
   */
  join(userId: string, bot?: boolean): void {
    const existing = this.group.members.get(userId)
    if (isCurrentMember(existing)) return

    const head = this.head
    const record = openPeriod(existing, head, existing?.role ?? 'member', bot ?? existing?.bot)
    this.doc.transact(() => this.group.members.set(userId, record))
    if (existing === undefined) writeDeviceReceipt(this.group, userId, SERVER_DEVICE, head)
    this.tick()
  }

  /** Closes the user's membership at the current head. */
  leave(userId: string): void {
    const existing = this.group.members.get(userId)
    if (existing === undefined || !isCurrentMember(existing)) return

    this.group.members.set(userId, closePeriod(existing, this.head))
    this.tick()
  }

  /** Sends a message and moves the sender's W to its seq, as sending counts as reading. */
  send(sender: string, body = 'hello'): number {
    const seq = this.head + 1
    const message: MessageRecord = { seq, id: `m${seq}`, sender, at: this.time, body }
    this.doc.transact(() => {
      this.group.messages.push([message])
      const overflow = this.group.messages.length - this.windowSize
      if (overflow > 0) this.group.messages.delete(0, overflow)
      this.group.meta.set(META_HEAD, seq)
    })
    this.log.push(message)
    addMessageToIndex(this.messageIndex, message)

    writeDeviceReceipt(this.group, sender, SERVER_DEVICE, seq)
    this.tick()
    return seq
  }

  /** Marks a message deleted in the log and, when it is still in the window, in the document. */
  deleteMessage(seq: number): void {
    const position = this.log.findIndex((message) => message.seq === seq)
    const original = this.log[position]
    if (original === undefined || original.deleted === true) return

    const deleted: MessageRecord = {
      seq,
      id: original.id,
      sender: original.sender,
      at: original.at,
      deleted: true,
    }
    this.log[position] = deleted
    markDeletedInIndex(this.messageIndex, original)

    const inWindow = this.group.messages.toArray().findIndex((message) => message.seq === seq)
    if (inWindow >= 0) {
      this.doc.transact(() => {
        this.group.messages.delete(inWindow, 1)
        this.group.messages.insert(inWindow, [deleted])
      })
    }
    this.tick()
  }

  /**
   * Validates an update from a connection of userId and, when accepted, records its new client ids
   * and applies it, as the sync endpoint does. Returns the verdict.
   */
  receive(userId: string, update: Uint8Array): Verdict {
    const verdict = validateUpdate(this.doc, this.owners, userId, update)
    if (!verdict.ok) return verdict

    for (const client of verdict.newClients) {
      this.owners.record(client, userId)
      const clients = this.clientsOf.get(userId) ?? []
      clients.push(client)
      this.clientsOf.set(userId, clients)
    }
    Y.applyUpdate(this.doc, update, REMOTE)
    this.tick()
    return verdict
  }

  /** Returns the inputs of the count functions, read from the server's replica. */
  state(): GroupState {
    return stateOf(this.group)
  }

  /** Ticks the server clock and logs every watermark that moved forward since the last tick. */
  private tick(): void {
    for (const [userId, watermark] of readWatermarks(this.group.receipts)) {
      const advances = this.advances.get(userId) ?? []
      const last = advances.at(-1)?.seq ?? 0
      if (watermark > last) advances.push({ seq: watermark, at: this.time })
      this.advances.set(userId, advances)
    }
    this.time += 1
  }
}

/** Returns the inputs of the count functions, read from a replica. */
export function stateOf(group: GroupDoc): GroupState {
  return {
    head: readHead(group),
    members: readMembers(group),
    watermarks: readWatermarks(group.receipts),
  }
}

/**
 * One client installation: a replica of the group document that writes receipts only for its own
 * user and device. `outbox` collects the updates of its own writes, in the order they were made.
 */
export class TestDevice {
  readonly doc = new Y.Doc()
  readonly group: GroupDoc = openGroupDoc(this.doc)
  readonly outbox: Uint8Array[] = []

  /** Give clientId to make a run repeatable; Yjs picks a random one otherwise. */
  constructor(
    readonly userId: string,
    readonly deviceId: string,
    clientId?: number,
  ) {
    if (clientId !== undefined) this.doc.clientID = clientId
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== REMOTE) this.outbox.push(update)
    })
  }

  /** Marks messages up to seq read, unless W already covers seq. Returns W after the call. */
  read(seq: number): number {
    return writeDeviceReceipt(this.group, this.userId, this.deviceId, seq)
  }

  /** Applies an update that arrived from the server. */
  apply(update: Uint8Array): void {
    Y.applyUpdate(this.doc, update, REMOTE)
  }

  /** Returns W of any user, read from this replica. */
  watermarkOf(userId: string): number {
    return readWatermark(this.group.receipts, userId)
  }

  /** Returns the update with every write of this replica that the server lacks. */
  diffFor(server: TestServer): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc, Y.encodeStateVector(server.doc))
  }
}

/**
 * Exchanges state both ways as a y-websocket sync does: the device's part that the server lacks
 * goes up first, then the server's part that the device lacks comes down. Returns the verdict on
 * the device's part.
 */
export function sync(server: TestServer, device: TestDevice): Verdict {
  const verdict = server.receive(device.userId, device.diffFor(server))
  device.apply(Y.encodeStateAsUpdate(server.doc, Y.encodeStateVector(device.doc)))
  return verdict
}

/**
 * Builds an update the way a modified client would: a fresh replica synced from the server runs
 * `change`, and the update of that change is returned. Give clientId to write with a chosen Yjs
 * client id, and gc false to keep the values of overwritten items in the update.
 */
export function forgeUpdate(
  server: TestServer,
  change: (group: GroupDoc) => void,
  options: { clientId?: number; gc?: boolean } = {},
): Uint8Array {
  const doc = new Y.Doc({ gc: options.gc ?? true })
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(server.doc), REMOTE)
  if (options.clientId !== undefined) doc.clientID = options.clientId

  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (origin !== REMOTE) updates.push(update)
  })
  doc.transact(() => change(openGroupDoc(doc)))
  return Y.mergeUpdates(updates)
}

/** Returns the reason of a rejected verdict, or 'accepted'. */
export function reasonOf(verdict: Verdict): string {
  return verdict.ok ? 'accepted' : verdict.reason
}
