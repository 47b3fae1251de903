import { describe, expect, it } from 'vitest'
import { runStory } from '../examples/desktop-offline/story.ts'

describe('desktop offline example', () => {
  it('delivers a receipt marked offline after a restart', async () => {
    const lines: string[] = []

    const result = await runStory((line) => lines.push(line))

    const [online, offline, reconnect] = result.appOutput
    expect(online).toContain('[bob] synced with')
    expect(offline).toContain('server unreachable after 2000 ms')
    expect(offline).toContain('[bob] marked read up to #3 offline: watermark 3, unread 1')
    expect(offline).toContain('1 receipt writes wait in')
    expect(reconnect).toContain('head 4, unread 1, 1 receipt writes not yet confirmed')
    expect(reconnect).toContain('[bob] the server confirmed every receipt as stored')

    expect(result.unreadBefore).toBe(4)
    expect(result.unreadAfter).toBe(1)
    expect(result.readersAfter.map((reader) => reader.userId)).toEqual(['bob'])
    // The server records the read when the receipt arrives, after it came back up.
    expect(result.readersAfter[0]?.readAt ?? 0).toBeGreaterThan(result.serverStoppedAt)
  }, 60_000)
})
