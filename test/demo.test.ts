import { describe, expect, it } from 'vitest'
import { runScript } from './helpers.ts'

const DEMO = 'examples/demo/main.ts'

describe('demo', () => {
  it('replays an hour and matches every count', async () => {
    const result = await runScript(
      DEMO,
      ['--hours', '1', '--speed', '600', '--members', '30'],
      90_000,
    )

    expect(result.stderr).not.toContain('demo failed')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('538 messages from 18 senders, 30 members (12 only read)')
    expect(result.stdout).toMatch(/reads online, [1-9]\d* offline; [1-9]\d* reconnections/)
    expect(result.stdout).toContain(
      "check: 538/538 messages' counts matched, 30/30 members' unread counts matched",
    )
  }, 100_000)

  it('rejects fewer members than senders', async () => {
    const result = await runScript(DEMO, ['--members', '5'], 20_000)

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('--members 5 is below the 18 senders in the window')
  })

  it('rejects a window without messages', async () => {
    const result = await runScript(DEMO, ['--from', '2001-01-01T00:00Z'], 20_000)

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('no messages in 2001-01-01 00:00–01:00 UTC')
  })

  it('rejects an invalid speed', async () => {
    const result = await runScript(DEMO, ['--speed', 'fast'], 20_000)

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('--speed must be a positive number, got "fast"')
  })
})
