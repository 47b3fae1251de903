import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  type Advance,
  buildCountIndex,
  buildMessageIndex,
  countMessage,
  countUnread,
  type GroupDoc,
  isCurrentMember,
  listReaders,
  listUnread,
  type MemberRecord,
  type MessageIndex,
  type MessageRecord,
  openGroupDoc,
  parseReceiptKey,
  readHead,
  readRate,
  readWatermark,
  SERVER_DEVICE,
  SERVER_ROOTS,
  validateUpdate,
} from '../src/index.ts'
import { forgeUpdate, REMOTE, reasonOf, stateOf, sync, TestDevice, TestServer } from './helpers.ts'

/**
 * Random groups with several users, each with several devices that go offline and online, while
 * the server sends, deletes and changes membership. Updates travel in any order, duplicated or
 * late, and forged updates are mixed in. The checks: every replica converges, W never drops on
 * any replica, the validator accepts every honest update and rejects every forged one, and every
 * count equals the oracle below, which implements the contract's semantics with plain loops.
 */

// Ids that share prefixes, so a key lookup by prefix would mix users up.
const USER_IDS = ['an', 'ann', 'bo', 'bo.b'] as const
const ROOT_NAMES = new Set(['receipts', ...SERVER_ROOTS])
const NUM_RUNS = 400
const FUZZ_RUNS = 20000
const MAX_OPS = 120
// The runs above took about 13 s on a 2-core machine, so the timeout leaves room for a busy one.
const PROPERTY_TIMEOUT_MS = 120_000

// ---------------------------------------------------------------------------------------------
// Oracle: the contract's count semantics over the raw document contents, with plain loops.

interface OracleInput {
  head: number
  members: Record<string, MemberRecord>
  receipts: Record<string, unknown>
  messages: readonly MessageRecord[]
  advances: ReadonlyMap<string, readonly Advance[]>
}

function oracleWatermark(input: OracleInput, userId: string): number {
  let watermark = 0
  for (const [key, value] of Object.entries(input.receipts)) {
    if (key.slice(0, key.indexOf('/')) !== userId) continue
    if (typeof value === 'number' && value > watermark) watermark = value
  }
  return watermark
}

function sentWhileMember(record: MemberRecord, seq: number): boolean {
  for (const period of record.periods) {
    if (period.from < seq && (period.to === undefined || seq <= period.to)) return true
  }
  return false
}

function isMemberNow(record: MemberRecord | undefined): boolean {
  if (record === undefined) return false
  const last = record.periods[record.periods.length - 1]
  return last !== undefined && last.to === undefined
}

/** Users who were members when the message was sent, minus sender and bots, minus former members who have not read it. */
function oracleAudience(input: OracleInput, message: MessageRecord): string[] {
  if (message.deleted === true) return []

  const audience: string[] = []
  for (const userId of Object.keys(input.members).sort()) {
    const record = input.members[userId] as MemberRecord
    if (userId === message.sender || record.bot === true) continue
    if (!sentWhileMember(record, message.seq)) continue
    if (!isMemberNow(record) && oracleWatermark(input, userId) < message.seq) continue
    audience.push(userId)
  }
  return audience
}

function oracleReaders(input: OracleInput, message: MessageRecord): string[] {
  return oracleAudience(input, message).filter(
    (userId) => oracleWatermark(input, userId) >= message.seq,
  )
}

function oracleNonReaders(input: OracleInput, message: MessageRecord): string[] {
  return oracleAudience(input, message).filter(
    (userId) => oracleWatermark(input, userId) < message.seq,
  )
}

function oracleReadAt(input: OracleInput, userId: string, seq: number): number | null {
  for (const advance of input.advances.get(userId) ?? []) {
    if (advance.seq >= seq) return advance.at
  }
  return null
}

function oracleUnread(input: OracleInput, userId: string): number | undefined {
  const record = input.members[userId]
  if (record === undefined || !isMemberNow(record)) return undefined

  const watermark = oracleWatermark(input, userId)
  let unread = 0
  for (const message of input.messages) {
    if (message.seq > input.head || message.seq <= watermark) continue
    if (message.sender === userId || message.deleted === true) continue
    if (sentWhileMember(record, message.seq)) unread += 1
  }
  return unread
}

function oracleReadRate(input: OracleInput): number | null {
  let read = 0
  let audience = 0
  for (const message of input.messages) {
    read += oracleReaders(input, message).length
    audience += oracleAudience(input, message).length
  }
  return audience === 0 ? null : read / audience
}

function oracleInputOf(
  group: GroupDoc,
  messages: readonly MessageRecord[],
  advances: ReadonlyMap<string, readonly Advance[]>,
): OracleInput {
  return {
    head: readHead(group),
    members: group.members.toJSON() as Record<string, MemberRecord>,
    receipts: group.receipts.toJSON() as Record<string, unknown>,
    messages,
    advances,
  }
}

/** Compares every count function on a replica's document with the oracle. */
function expectCountsMatchOracle(
  label: string,
  group: GroupDoc,
  messages: readonly MessageRecord[],
  messageIndexes: readonly MessageIndex[],
  advances: ReadonlyMap<string, readonly Advance[]>,
): void {
  const input = oracleInputOf(group, messages, advances)
  const state = stateOf(group)
  const index = buildCountIndex(state)

  for (const message of messages) {
    const where = `${label}, message ${message.seq}`
    const readers = oracleReaders(input, message)
    const nonReaders = oracleNonReaders(input, message)

    expect(countMessage(index, message), where).toEqual({
      readCount: readers.length,
      unreadCount: nonReaders.length,
    })
    expect(listReaders(state, message, advances), where).toEqual(
      readers.map((userId) => ({ userId, readAt: oracleReadAt(input, userId, message.seq) })),
    )
    expect(listUnread(state, message), where).toEqual(nonReaders)
  }

  for (const userId of USER_IDS) {
    for (const messageIndex of messageIndexes) {
      expect(countUnread(state, messageIndex, userId), `${label}, unread of ${userId}`).toBe(
        oracleUnread(input, userId),
      )
    }
  }
  expect(readRate(index, messages), `${label}, read rate`).toBe(oracleReadRate(input))
}

// ---------------------------------------------------------------------------------------------
// Scenario model.

const ATTACKS = [
  'foreign-key',
  'foreign-overwrite',
  'foreign-delete',
  'invalid-value',
  'beyond-head',
  'server-root',
  'nested-type',
  'foreign-client',
  'server-client',
  'own-delete',
  'lower-value',
  'gap',
  'repeated-client',
] as const
type Attack = (typeof ATTACKS)[number]

type Op =
  | { kind: 'send'; user: number }
  | { kind: 'join'; user: number; bot: boolean }
  | { kind: 'leave'; user: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'read'; device: number; pick: number; catchUp: boolean }
  | { kind: 'toggle'; device: number }
  | { kind: 'up'; device: number; pick: number; keep: boolean; count: number }
  | { kind: 'down'; device: number; pick: number; keep: boolean; count: number }
  | { kind: 'sync'; device: number }
  | { kind: 'resend'; device: number }
  | { kind: 'forge'; user: number; attack: Attack; pick: number }
  | { kind: 'mutate'; device: number; pick: number; position: number; byte: number }

interface Scenario {
  /** Per user: whether it starts as a bot member, and which of its devices start online. */
  users: Array<{ bot: boolean; member: boolean; devicesOnline: boolean[] }>
  /** Yjs client ids of the server and the devices, fixed so that a failing run repeats. */
  clientIds: number[]
  ops: Op[]
}

const index = fc.nat(63)
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('send' as const), user: index }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('join' as const), user: index, bot: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('leave' as const), user: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: index }) },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      device: index,
      pick: index,
      catchUp: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('toggle' as const), device: index }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('up' as const),
      device: index,
      pick: index,
      keep: fc.boolean(),
      count: fc.integer({ min: 1, max: 8 }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('down' as const),
      device: index,
      pick: index,
      keep: fc.boolean(),
      count: fc.integer({ min: 1, max: 16 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sync' as const), device: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resend' as const), device: index }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('forge' as const),
      user: index,
      attack: fc.constantFrom(...ATTACKS),
      pick: index,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('mutate' as const),
      device: index,
      pick: index,
      position: fc.nat(4095),
      byte: fc.nat(255),
    }),
  },
)

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc.record({
  users: fc.array(
    fc.record({
      bot: fc.constantFrom(false, false, false, false, true),
      member: fc.constantFrom(true, true, true, false),
      devicesOnline: fc.array(fc.constantFrom(true, true, false), { minLength: 1, maxLength: 2 }),
    }),
    { minLength: 2, maxLength: USER_IDS.length },
  ),
  clientIds: fc.uniqueArray(fc.integer({ min: 1, max: 2 ** 31 - 1 }), {
    minLength: 1 + USER_IDS.length * 3,
    maxLength: 1 + USER_IDS.length * 3,
  }),
  ops: fc.array(opArbitrary, { minLength: 10, maxLength: MAX_OPS, size: 'max' }),
})

interface SimDevice {
  device: TestDevice
  online: boolean
  /** Server updates on their way to this device. */
  inbox: Uint8Array[]
  /** This device's own updates on their way to the server. */
  sending: Uint8Array[]
  /** How many entries of device.outbox were moved to `sending`. */
  queued: number
}

/** Runs one scenario and checks every property along the way. */
class Simulation {
  readonly server: TestServer
  readonly devices: SimDevice[] = []
  readonly userIds: string[]
  /** Highest W seen per replica and user, to check that W never drops. */
  readonly seen = new Map<Y.Doc, Map<string, number>>()
  forgeries = 0

  constructor(scenario: Scenario) {
    this.userIds = scenario.users.map((_, position) => USER_IDS[position] as string)
    const members = scenario.users.flatMap((user, position) =>
      user.member ? [{ userId: this.userIds[position] as string, bot: user.bot }] : [],
    )
    const clientIds = scenario.clientIds.values()
    this.server = new TestServer(members, { clientId: clientIds.next().value as number })

    scenario.users.forEach((user, position) => {
      user.devicesOnline.forEach((online, count) => {
        const userId = this.userIds[position] as string
        const device = new TestDevice(userId, `d${count}`, clientIds.next().value as number)
        if (online) sync(this.server, device)
        this.devices.push({ device, online, inbox: [], sending: [], queued: 0 })
      })
    })
    this.server.doc.on('update', (update: Uint8Array) => {
      for (const simulated of this.devices) if (simulated.online) simulated.inbox.push(update)
    })
  }

  run(ops: readonly Op[]): void {
    for (const op of ops) {
      this.apply(op)
      this.checkAfterStep(op)
    }
    this.exchangeEverything()
    this.checkConverged()
  }

  apply(op: Op): void {
    const server = this.server
    switch (op.kind) {
      case 'send': {
        const userId = this.userAt(op.user)
        if (isCurrentMember(server.group.members.get(userId))) server.send(userId)
        return
      }
      case 'join':
        server.join(this.userAt(op.user), op.bot)
        return
      case 'leave':
        server.leave(this.userAt(op.user))
        return
      case 'delete': {
        const message = server.log[op.pick % Math.max(1, server.log.length)]
        if (message !== undefined) server.deleteMessage(message.seq)
        return
      }
      case 'read': {
        // With catchUp, an online device first applies what arrived, in order, as an app shows
        // new messages before the user reads them. Mostly the user reads up to the head of the
        // replica, sometimes only up to an older message.
        const simulated = this.deviceAt(op.device)
        if (op.catchUp && simulated.online) {
          for (const update of simulated.inbox.splice(0)) simulated.device.apply(update)
        }
        const head = readHead(simulated.device.group)
        simulated.device.read(op.pick < 32 ? head : op.pick % (head + 1))
        this.queueOutgoing(simulated)
        return
      }
      case 'toggle': {
        const simulated = this.deviceAt(op.device)
        simulated.online = !simulated.online
        if (simulated.online) this.expectHonest('reconnect', sync(server, simulated.device))
        return
      }
      case 'up': {
        // An honest update may only fail for a gap, after an earlier one was lost or is late.
        const simulated = this.deviceAt(op.device)
        for (let delivered = 0; delivered < op.count; delivered++) {
          const update = this.take(simulated.sending, delivered === 0 ? op.pick : 0, op.keep)
          if (update === undefined) return

          const reason = reasonOf(server.receive(simulated.device.userId, update))
          expect(['accepted', 'gap'], `update from ${simulated.device.userId}`).toContain(reason)
        }
        return
      }
      case 'down': {
        const simulated = this.deviceAt(op.device)
        for (let delivered = 0; delivered < op.count; delivered++) {
          const update = this.take(simulated.inbox, delivered === 0 ? op.pick : 0, op.keep)
          if (update === undefined) return
          simulated.device.apply(update)
        }
        return
      }
      case 'sync': {
        const simulated = this.deviceAt(op.device)
        if (simulated.online) this.expectHonest('sync', sync(server, simulated.device))
        return
      }
      case 'resend': {
        const simulated = this.deviceAt(op.device)
        const full = Y.encodeStateAsUpdate(simulated.device.doc)
        this.expectHonest('full-state resend', server.receive(simulated.device.userId, full))
        return
      }
      case 'forge':
        this.forge(this.userAt(op.user), op.attack, op.pick)
        return
      case 'mutate':
        this.mutate(this.deviceAt(op.device), op.pick, op.position, op.byte)
        return
    }
  }

  userAt(position: number): string {
    return this.userIds[position % this.userIds.length] as string
  }

  deviceAt(position: number): SimDevice {
    return this.devices[position % this.devices.length] as SimDevice
  }

  queueOutgoing(simulated: SimDevice): void {
    const outbox = simulated.device.outbox
    simulated.sending.push(...outbox.slice(simulated.queued))
    simulated.queued = outbox.length
  }

  /**
   * Takes an entry of a queue, leaving it there for a later duplicate when keep is set. Picks below
   * 32 take the oldest entry, as an ordered connection delivers, and the others take any entry.
   */
  take(queue: Uint8Array[], pick: number, keep: boolean): Uint8Array | undefined {
    if (queue.length === 0) return undefined
    const position = pick < 32 ? 0 : pick % queue.length
    const update = queue[position] as Uint8Array
    if (!keep) queue.splice(position, 1)
    return update
  }

  expectHonest(label: string, verdict: ReturnType<TestServer['receive']>): void {
    expect(verdict.ok ? 'accepted' : `${verdict.reason}: ${verdict.detail}`, label).toBe('accepted')
  }

  /** Builds one forged update for the attack and checks that the validator rejects it. */
  forge(attacker: string, attack: Attack, pick: number): void {
    const server = this.server
    const others = this.userIds.filter((userId) => userId !== attacker)
    const victim = others[pick % others.length] as string
    const keys = [...server.group.receipts.keys()]
    const foreignKeys = keys.filter((key) => !key.startsWith(`${attacker}/`))
    const ownKeys = keys.filter((key) => key.startsWith(`${attacker}/`))
    const ownDeviceKeys = ownKeys.filter(
      (key) => !key.endsWith(`/${SERVER_DEVICE}`) && (server.group.receipts.get(key) ?? 0) > 0,
    )
    const foreignClients = others.flatMap((userId) => server.clientsOf.get(userId) ?? [])
    this.forgeries += 1
    const freshClient = 900_000 + this.forgeries

    let update: Uint8Array
    let expected: string
    switch (attack) {
      case 'foreign-key':
        update = forgeUpdate(server, (group) => group.receipts.set(`${victim}/x${pick}`, 0))
        expected = 'foreign-key'
        break
      case 'foreign-overwrite': {
        const key = foreignKeys[pick % Math.max(1, foreignKeys.length)]
        if (key === undefined) return
        update = forgeUpdate(server, (group) => group.receipts.set(key, server.head))
        expected = parseReceiptKey(key)?.deviceId === SERVER_DEVICE ? 'invalid-key' : 'foreign-key'
        break
      }
      case 'foreign-delete': {
        const key = foreignKeys[pick % Math.max(1, foreignKeys.length)]
        if (key === undefined) return
        update = forgeUpdate(server, (group) => group.receipts.delete(key))
        expected = 'forbidden-delete'
        break
      }
      case 'invalid-value': {
        const values = [1.5, -1, '1', null, true, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]
        const value = values[pick % values.length]
        update = forgeUpdate(server, (group) => {
          group.receipts.set(`${attacker}/evil`, value as unknown as number)
        })
        expected = 'invalid-value'
        break
      }
      case 'beyond-head':
        update = forgeUpdate(server, (group) => {
          group.receipts.set(`${attacker}/evil`, server.head + 1 + (pick % 3))
        })
        expected = 'beyond-head'
        break
      case 'server-root': {
        const writes: Array<(group: GroupDoc) => void> = [
          (group) => group.members.set(attacker, { role: 'owner', periods: [{ from: 0 }] }),
          (group) => group.messages.push([{ seq: 1, id: 'x', sender: attacker, at: 0 }]),
          (group) => group.meta.set('head', server.head + 1),
          (group) => group.doc.getMap('extra').set('x', 1),
        ]
        update = forgeUpdate(server, writes[pick % writes.length] as (group: GroupDoc) => void)
        expected = 'server-root'
        break
      }
      case 'nested-type': {
        const types = [() => new Y.Map(), () => new Y.Array(), () => new Y.Text('1')]
        const create = types[pick % types.length] as () => unknown
        update = forgeUpdate(server, (group) => {
          group.receipts.set(`${attacker}/evil`, create() as number)
        })
        expected = 'nested-type'
        break
      }
      case 'foreign-client': {
        const clientId = foreignClients[pick % Math.max(1, foreignClients.length)]
        if (clientId === undefined) return
        update = forgeUpdate(server, (group) => group.receipts.set(`${attacker}/evil`, 0), {
          clientId,
        })
        expected = 'foreign-client'
        break
      }
      case 'server-client':
        update = forgeUpdate(server, (group) => group.receipts.set(`${attacker}/evil`, 0), {
          clientId: server.doc.clientID,
        })
        expected = 'foreign-client'
        break
      case 'own-delete': {
        const key = ownKeys[pick % Math.max(1, ownKeys.length)]
        if (key === undefined) return
        update = forgeUpdate(server, (group) => group.receipts.delete(key))
        expected = 'forbidden-delete'
        break
      }
      case 'lower-value': {
        const key = ownDeviceKeys[pick % Math.max(1, ownDeviceKeys.length)]
        if (key === undefined) return
        const lower = (server.group.receipts.get(key) as number) - 1
        update = forgeUpdate(server, (group) => group.receipts.set(key, lower))
        expected = 'lower-value'
        break
      }
      case 'gap': {
        const doc = new Y.Doc()
        doc.clientID = freshClient
        Y.applyUpdate(doc, Y.encodeStateAsUpdate(server.doc), REMOTE)
        const updates: Uint8Array[] = []
        doc.on('update', (written: Uint8Array, origin: unknown) => {
          if (origin !== REMOTE) updates.push(written)
        })
        doc.getMap('receipts').set(`${attacker}/gap`, 0)
        doc.getMap('receipts').set(`${attacker}/gap`, 0)
        update = updates[1] as Uint8Array
        expected = 'gap'
        break
      }
      case 'repeated-client': {
        const receipt = forgeUpdate(
          server,
          (group) => group.receipts.set(`${attacker}/r${this.forgeries}`, 0),
          { clientId: freshClient },
        )
        const promotion = forgeUpdate(
          server,
          (group) => group.members.set(`x${this.forgeries}`, { role: 'owner', periods: [] }),
          { clientId: freshClient },
        )
        update = new Uint8Array([2, ...receipt.slice(1, -1), ...promotion.slice(1, -1), 0])
        expected = 'malformed'
        break
      }
    }

    const before = Y.encodeStateVector(server.doc)
    expect(reasonOf(server.receive(attacker, update)), `${attack} by ${attacker}`).toBe(expected)
    expect(Y.encodeStateVector(server.doc)).toEqual(before)
  }

  /**
   * Flips one byte of an honest update. The validator may accept the result only when applying it
   * keeps every rule, which is checked on a copy of the server's document.
   */
  mutate(simulated: SimDevice, pick: number, position: number, byte: number): void {
    const device = simulated.device
    const honest = [
      ...device.outbox,
      device.diffFor(this.server),
      Y.encodeStateAsUpdate(device.doc),
    ][pick % (device.outbox.length + 2)] as Uint8Array

    const mutated = honest.slice()
    mutated[position % mutated.length] = byte
    expectAcceptedOnlyIfRulesKept(this.server, device.userId, mutated)
  }

  /** Checks what must hold after every step: W never drops, the server has no gaps, counts. */
  checkAfterStep(op: Op): void {
    const docs = [this.server.doc, ...this.devices.map((simulated) => simulated.device.doc)]
    for (const doc of docs) {
      const seen = this.seen.get(doc) ?? new Map<string, number>()
      const receipts = openGroupDoc(doc).receipts
      for (const userId of this.userIds) {
        const watermark = readWatermark(receipts, userId)
        expect(watermark, `W(${userId}) after ${op.kind}`).toBeGreaterThanOrEqual(
          seen.get(userId) ?? 0,
        )
        seen.set(userId, watermark)
      }
      this.seen.set(doc, seen)
    }

    expect(this.server.doc.store.pendingStructs).toBeNull()
    expect(this.server.doc.store.pendingDs).toBeNull()
    expectCountsMatchOracle(
      `server after ${op.kind}`,
      this.server.group,
      this.server.log,
      [buildMessageIndex(this.server.log), this.server.messageIndex],
      this.server.advances,
    )
  }

  /** Brings every device online and syncs each twice, so every replica has everything. */
  exchangeEverything(): void {
    for (let round = 0; round < 2; round++) {
      for (const simulated of this.devices) {
        simulated.online = true
        this.expectHonest('final sync', sync(this.server, simulated.device))
      }
    }
  }

  checkConverged(): void {
    const expected = snapshotOf(this.server.group)
    for (const simulated of this.devices) {
      const device = simulated.device
      const label = `${device.userId}/${device.deviceId}`
      expect(snapshotOf(device.group), label).toEqual(expected)
      expect(device.doc.store.pendingStructs, label).toBeNull()

      const messages = device.group.messages.toArray()
      expect(messages, label).toEqual(this.server.log)
      expectCountsMatchOracle(
        `replica ${label}`,
        device.group,
        messages,
        [buildMessageIndex(messages)],
        this.server.advances,
      )
      for (const userId of this.userIds) {
        expect(device.watermarkOf(userId), `${label} W(${userId})`).toBe(
          readWatermark(this.server.group.receipts, userId),
        )
      }
    }
  }
}

/**
 * Validates an update and, when the validator accepts it, applies it to a copy of the server's
 * document and checks the rules. Nothing may stay pending, no root type may appear, and the server
 * roots and other users' receipts must not change. Own receipts must not get lower, and new keys
 * must be the user's own with integer values from 0 to head.
 */
function expectAcceptedOnlyIfRulesKept(
  server: TestServer,
  userId: string,
  update: Uint8Array,
): void {
  if (!validateUpdate(server.doc, server.owners, userId, update).ok) return

  const copy = new Y.Doc()
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(server.doc))
  const group = openGroupDoc(copy)
  const before = snapshotOf(group)
  expect(() => Y.applyUpdate(copy, update), 'applying an accepted update').not.toThrow()
  const after = snapshotOf(group)

  expect(copy.store.pendingStructs, 'pending structs after an accepted update').toBeNull()
  expect(copy.store.pendingDs, 'pending deletions after an accepted update').toBeNull()
  expect([...copy.share.keys()].filter((name) => !ROOT_NAMES.has(name))).toEqual([])
  expect(after.serverRoots).toEqual(before.serverRoots)
  for (const [key, value] of Object.entries(before.receipts)) {
    if (key.startsWith(`${userId}/`) && !key.endsWith(`/${SERVER_DEVICE}`)) {
      expect(after.receipts[key], `own key ${key}`).toBeGreaterThanOrEqual(value as number)
    } else {
      expect(after.receipts[key], `key ${key}`).toBe(value)
    }
  }
  for (const [key, value] of Object.entries(after.receipts)) {
    if (key in before.receipts) continue
    expect(parseReceiptKey(key), `new key ${key}`).toEqual({
      userId,
      deviceId: expect.not.stringMatching(/^~/),
    })
    expect(Number.isSafeInteger(value), `value of ${key}`).toBe(true)
    expect(value as number, `value of ${key}`).toBeGreaterThanOrEqual(0)
    expect(value as number, `value of ${key}`).toBeLessThanOrEqual(readHead(group))
  }
}

function snapshotOf(group: GroupDoc): {
  receipts: Record<string, unknown>
  serverRoots: unknown
} {
  return {
    receipts: group.receipts.toJSON() as Record<string, unknown>,
    serverRoots: {
      members: group.members.toJSON(),
      messages: group.messages.toJSON(),
      meta: group.meta.toJSON(),
    },
  }
}

/**
 * Builds a group whose server has overwritten and deleted values, with updates of alice's devices
 * that the server has, has in part, or lacks. Returns the server, alice's honest updates, and those
 * of them that carry everything they build on, which the server must accept.
 */
function fuzzBase(): { server: TestServer; honest: Uint8Array[]; complete: Uint8Array[] } {
  const server = new TestServer([{ userId: 'alice' }, { userId: 'bob' }, { userId: 'carol' }])
  for (let sent = 0; sent < 4; sent++) server.send('carol')
  server.deleteMessage(2)
  const phone = new TestDevice('alice', 'phone', 101)
  const laptop = new TestDevice('alice', 'laptop', 102)
  const bobs = new TestDevice('bob', 'phone', 103)
  for (const device of [phone, laptop, bobs]) sync(server, device)
  phone.read(1)
  phone.read(2)
  bobs.read(3)
  sync(server, phone)
  sync(server, bobs)
  phone.read(3)
  phone.read(4)
  laptop.read(4)

  const complete = [phone, laptop].flatMap((device) => [
    device.diffFor(server),
    Y.encodeStateAsUpdate(device.doc),
  ])
  complete.push(forgeUpdate(server, (group) => group.receipts.set('alice/tablet', 4)))
  const honest = [...phone.outbox, ...laptop.outbox, ...complete]
  return { server, honest, complete }
}

const editArbitrary = fc.record({
  kind: fc.constantFrom('set' as const, 'insert' as const, 'remove' as const),
  position: fc.nat(),
  byte: fc.constantFrom(0, 1, 2, 3, 8, 40, 119, 125, 127, 128, 255),
})

describe('replicas under random schedules', () => {
  it(
    'converge with counts matching the oracle',
    () => {
      fc.assert(
        fc.property(scenarioArbitrary, (scenario) => {
          new Simulation(scenario).run(scenario.ops)
        }),
        { numRuns: NUM_RUNS },
      )
    },
    PROPERTY_TIMEOUT_MS,
  )
})

describe('validateUpdate under byte edits', () => {
  const { server, honest, complete } = fuzzBase()

  it(
    'accepts only updates that keep the rules',
    () => {
      fc.assert(
        fc.property(
          fc.nat(),
          fc.array(editArbitrary, { minLength: 1, maxLength: 3 }),
          (source, edits) => {
            const bytes = [...(honest[source % honest.length] as Uint8Array)]
            for (const edit of edits) {
              const position = edit.position % (bytes.length + 1)
              if (edit.kind === 'set') bytes[position] = edit.byte
              if (edit.kind === 'insert') bytes.splice(position, 0, edit.byte)
              if (edit.kind === 'remove') bytes.splice(position, 1)
            }

            expectAcceptedOnlyIfRulesKept(server, 'alice', new Uint8Array(bytes))
          },
        ),
        { numRuns: FUZZ_RUNS },
      )
    },
    PROPERTY_TIMEOUT_MS,
  )

  it('accepts the unedited complete updates', () => {
    for (const update of complete) {
      expect(reasonOf(validateUpdate(server.doc, server.owners, 'alice', update))).toBe('accepted')
    }
  })
})
