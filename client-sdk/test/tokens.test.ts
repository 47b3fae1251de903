import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mintToken } from '../../server/src/auth.ts'
import type { ReadmarkError } from '../src/node.ts'
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

describe('tokens', () => {
  it('refreshes a token the server rejects', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'], 2)
    const forged = await mintToken('a-secret-the-server-does-not-know-0123456789', 'bob')
    const issued: string[] = []
    const client = await fixture.client(test, 'bob', fixture.folder(), {
      getToken: async () => {
        const token = issued.length === 0 ? forged : await test.token('bob')
        issued.push(token)
        return token
      },
    })

    const session = await client.group(groupId)
    await session.whenSynced()
    session.markRead(2)
    await session.whenConfirmed()

    expect(issued.length).toBe(2)
    expect(await serverWatermark(test, groupId, 'bob')).toBe(2)
  })

  it('refreshes an expired token before connecting', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'], 1)
    let calls = 0
    const client = await fixture.client(test, 'bob', fixture.folder(), {
      getToken: () => {
        calls += 1
        return test.token('bob', { ttlSeconds: calls === 1 ? -60 : 3_600 })
      },
    })

    const session = await client.group(groupId)
    await session.whenSynced()

    expect(calls).toBe(2)
  })

  it('stops syncing when a fixed token is rejected', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'], 1)
    const client = await fixture.client(test, 'bob', fixture.folder(), {
      token: await test.token('bob', { ttlSeconds: -60 }),
    })
    const errors: ReadmarkError[] = []

    const session = await client.group(groupId)
    session.on('error', (error) => errors.push(error))

    await expect(session.whenSynced()).rejects.toMatchObject({ code: 'invalid-token' })
    expect(errors.map((error) => error.code)).toContain('invalid-token')
    expect(session.status).toBe('offline')
  })

  it('rejects service and malformed tokens', async () => {
    const folder = fixture.folder()
    const service = await test.token('backend', { service: true })

    await expect(fixture.client(test, 'bob', folder, { token: service })).rejects.toMatchObject({
      code: 'invalid-token',
    })
    await expect(fixture.client(test, 'bob', folder, { token: 'not-a-jwt' })).rejects.toMatchObject(
      { code: 'invalid-token' },
    )
  })

  it('stops syncing after removal from group', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'], 1)
    const session = await (await fixture.client(test, 'bob', fixture.folder())).group(groupId)
    await session.whenSynced()
    const errors: ReadmarkError[] = []
    session.on('error', (error) => errors.push(error))

    await test.server.groups.removeMember(groupId, 'bob')

    await waitFor('not-member error', () => errors.some((error) => error.code === 'not-member'))
    expect(session.status).toBe('offline')
    expect(session.markRead(1)).toBe(0)
  })

  it('stops syncing an unknown group', async () => {
    const session = await (await fixture.client(test, 'bob', fixture.folder())).group(
      freshGroupId(),
    )

    await expect(session.whenSynced()).rejects.toMatchObject({ code: 'group-not-found' })
  })
})
