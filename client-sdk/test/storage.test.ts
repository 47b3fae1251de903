import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { openGroupDoc } from '@readmark/shared'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LeveldbPersistence } from 'y-leveldb'
import * as Y from 'yjs'
import { createClient, leveldbStorage, type ReadmarkError } from '../src/node.ts'
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

/** Returns the pid of a process that has exited. */
function exitedPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid as number
}

describe('leveldb storage', () => {
  it('rejects a second client on the same folder', async () => {
    const folder = fixture.folder()
    await fixture.client(test, 'bob', folder)

    await expect(fixture.client(test, 'bob', folder)).rejects.toMatchObject({
      code: 'storage-locked',
    })
  })

  it('releases the lock file on close', async () => {
    const folder = fixture.folder()
    const client = await fixture.client(test, 'bob', folder)
    expect(JSON.parse(readFileSync(join(folder, 'readmark.lock'), 'utf8')).pid).toBe(process.pid)

    await fixture.close(client)

    expect(existsSync(join(folder, 'readmark.lock'))).toBe(false)
    await fixture.client(test, 'bob', folder)
  })

  it('takes over a stale lock file', async () => {
    const folder = fixture.folder()
    const lock = { pid: exitedPid(), hostname: hostname(), token: 'old', acquiredAt: 0 }
    writeFileSync(join(folder, 'readmark.lock'), JSON.stringify(lock))

    await fixture.client(test, 'bob', folder)

    expect(JSON.parse(readFileSync(join(folder, 'readmark.lock'), 'utf8')).pid).toBe(process.pid)
  })

  it('keeps a lock from another host', async () => {
    const folder = fixture.folder()
    const lock = { pid: exitedPid(), hostname: `not-${hostname()}`, token: 'x', acquiredAt: 0 }
    writeFileSync(join(folder, 'readmark.lock'), JSON.stringify(lock))

    await expect(fixture.client(test, 'bob', folder)).rejects.toMatchObject({
      code: 'storage-locked',
    })
  })

  it('starts over after a rejected update', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob', 'carol'], 3)
    const folder = fixture.folder()
    const first = await fixture.client(test, 'bob', folder)
    const session = await first.group(groupId)
    await session.whenSynced()
    session.markRead(2)
    await session.whenConfirmed()
    await fixture.close(first)

    // Forge a write of carol's key with bob's stored client id, as a corrupted replica would hold.
    const persistence = new LeveldbPersistence(join(folder, 'replicas'))
    const name = `bob/${groupId}`
    const clientIds = (await persistence.getMeta(name, 'clientIds')) as number[]
    const forged = await persistence.getYDoc(name)
    forged.clientID = clientIds.at(-1) as number
    const before = Y.encodeStateVector(forged)
    openGroupDoc(forged).receipts.set('carol/forged', 2)
    await persistence.storeUpdate(name, Y.encodeStateAsUpdate(forged, before))
    await persistence.destroy()

    const restarted = await fixture.client(test, 'bob', folder)
    const replay = await restarted.group(groupId)
    expect(replay.watermark('carol')).toBe(2)
    const errors: ReadmarkError[] = []
    replay.on('error', (error) => errors.push(error))
    replay.markRead(3)

    await waitFor(
      'bob W = 3 on the server',
      async () => (await serverWatermark(test, groupId, 'bob')) === 3,
    )
    expect(errors.map((error) => error.code)).toContain('update-rejected')
    expect(replay.watermark('carol')).toBe(0)
    const receipts = await test.server.rooms.use(groupId, (room) => room.group.receipts.toJSON())
    expect(receipts['carol/forged']).toBeUndefined()
    // The server applies a batch before it stores it, so its W can lead the confirmation.
    await replay.whenConfirmed()
    expect(replay.unconfirmed).toBe(0)
  })

  it('rejects invalid options with the option name', async () => {
    const base = {
      url: test.server.url,
      token: await test.token('bob'),
      storage: leveldbStorage(fixture.folder()),
    }

    await expect(createClient({ ...base, deviceId: 'bad id' })).rejects.toThrow(/deviceId/)
    await expect(createClient({ ...base, deviceId: 'd', url: 'ftp://x' })).rejects.toThrow(/url/)
    expect(() => leveldbStorage('')).toThrow(/folder/)
  })
})
