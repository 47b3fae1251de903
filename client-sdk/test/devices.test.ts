import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { GroupSession } from '../src/node.ts'
import {
  createGroup,
  Fixture,
  freshGroupId,
  serverWatermark,
  startServer,
  type TestServer,
  waitFor,
} from './helpers.ts'

let test: TestServer
let fixture: Fixture

beforeEach(async () => {
  test = await startServer()
  fixture = new Fixture()
})

afterEach(async () => {
  await fixture.cleanup()
  await test.close()
})

type Device = 'phone' | 'laptop'
type Step = [Device, 'offline' | 'online'] | [Device, 'read', number]

/** Orders of offline and online writes of two devices of one user; every one ends online. */
const orders: Array<[string, Step[]]> = [
  [
    'both online',
    [
      ['phone', 'read', 2],
      ['laptop', 'read', 4],
    ],
  ],
  [
    'phone offline, laptop online',
    [
      ['phone', 'offline'],
      ['phone', 'read', 4],
      ['laptop', 'read', 2],
      ['phone', 'online'],
    ],
  ],
  [
    'both offline, phone back first',
    [
      ['phone', 'offline'],
      ['laptop', 'offline'],
      ['phone', 'read', 2],
      ['laptop', 'read', 4],
      ['phone', 'online'],
      ['laptop', 'online'],
    ],
  ],
  [
    'both offline, laptop back first',
    [
      ['phone', 'offline'],
      ['laptop', 'offline'],
      ['phone', 'read', 2],
      ['laptop', 'read', 4],
      ['laptop', 'online'],
      ['phone', 'online'],
    ],
  ],
  [
    'higher write offline, lower online',
    [
      ['phone', 'offline'],
      ['laptop', 'offline'],
      ['phone', 'read', 4],
      ['laptop', 'read', 2],
      ['phone', 'online'],
      ['laptop', 'online'],
    ],
  ],
  [
    'offline write below what the other device read online',
    [
      ['phone', 'offline'],
      ['laptop', 'read', 4],
      ['phone', 'read', 2],
      ['phone', 'online'],
    ],
  ],
  [
    'repeated offline periods',
    [
      ['phone', 'offline'],
      ['phone', 'read', 1],
      ['phone', 'online'],
      ['phone', 'offline'],
      ['phone', 'read', 4],
      ['laptop', 'read', 3],
      ['phone', 'online'],
    ],
  ],
]

describe('two devices of one user', () => {
  it.each(orders)('converge on the maximum: %s', async (_name, steps) => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'], 4)
    const sessions = new Map<Device, GroupSession>()
    const dropped: string[] = []
    for (const device of ['phone', 'laptop'] as const) {
      const client = await fixture.client(test, 'bob', fixture.folder(), { deviceId: device })
      const session = await client.group(groupId)
      await session.whenSynced()
      let seen = 0
      session.on('change', () => {
        const watermark = session.watermark()
        if (watermark < seen) dropped.push(`${device}: ${seen} → ${watermark}`)
        seen = Math.max(seen, watermark)
      })
      sessions.set(device, session)
    }
    const device = (name: Device) => sessions.get(name) as GroupSession

    let expected = 0
    for (const [name, action, seq] of steps) {
      if (action === 'offline') device(name).disconnect()
      if (action === 'online') device(name).connect()
      if (action === 'read') {
        device(name).markRead(seq as number)
        expected = Math.max(expected, seq as number)
      }
    }
    await Promise.all([...sessions.values()].map((session) => session.whenConfirmed()))

    await waitFor('both devices to see the maximum', () =>
      [...sessions.values()].every((session) => session.watermark() === expected),
    )
    expect(await serverWatermark(test, groupId, 'bob')).toBe(expected)
    const receipts = await test.server.rooms.use(groupId, (room) => room.group.receipts.toJSON())
    const bobKeys = Object.keys(receipts).filter((key) => key.startsWith('bob/'))
    expect(bobKeys.every((key) => ['bob/phone', 'bob/laptop'].includes(key))).toBe(true)
    expect(dropped).toEqual([])
  })
})
