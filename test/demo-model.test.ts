import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  busiestHourStart,
  ChatLogError,
  parseChatLog,
  readChatLog,
  selectWindow,
} from '../examples/demo/chat-log.ts'
import { ReceiptOracle } from '../examples/demo/oracle.ts'
import { fillerText } from '../examples/demo/replay.ts'
import {
  buildScenario,
  MIN_OFFLINE_MS,
  mergeVisits,
  ScenarioError,
  type ScenarioEvent,
} from '../examples/demo/scenario.ts'

const SLICE = fileURLToPath(
  new URL('../examples/demo/logs/duraspace-2009-08-19_2009-09-09.jsonl', import.meta.url),
)
const MINUTE = 60_000
const AUG_25_14H = Date.parse('2009-08-25T14:00Z')

describe('chat log', () => {
  it('parses lines and skips blank ones', () => {
    const messages = parseChatLog(
      '{"ts":60000,"sender":"u1","len":5}\n\n{"ts":60000,"sender":"u2","len":0}\n',
      'inline',
    )

    expect(messages).toEqual([
      { ts: 60_000, sender: 'u1', len: 5 },
      { ts: 60_000, sender: 'u2', len: 0 },
    ])
  })

  it('names the line of invalid input', () => {
    expect(() => parseChatLog('{"ts":1,"sender":"u1","len":1}\nnot json', 'a.jsonl')).toThrow(
      'a.jsonl:2: invalid JSON',
    )
    expect(() => parseChatLog('{"ts":1,"sender":"u 1","len":1}', 'a.jsonl')).toThrow(
      'a.jsonl:1: invalid sender: must be a valid user id',
    )
    expect(() => parseChatLog('{"ts":1,"sender":"u1"}', 'a.jsonl')).toThrow(ChatLogError)
  })

  it('rejects lines out of time order', () => {
    const text = '{"ts":5,"sender":"u1","len":1}\n{"ts":4,"sender":"u1","len":1}'

    expect(() => parseChatLog(text, 'a.jsonl')).toThrow('a.jsonl:2: ts 4 is earlier')
  })

  it('reports a missing file', async () => {
    await expect(readChatLog('/nonexistent/log.jsonl')).rejects.toThrow(
      'cannot read chat log /nonexistent/log.jsonl',
    )
  })

  it('spreads messages of one minute across it', () => {
    const messages = parseChatLog(
      [
        '{"ts":0,"sender":"u1","len":1}',
        '{"ts":0,"sender":"u2","len":1}',
        '{"ts":0,"sender":"u1","len":1}',
        '{"ts":60000,"sender":"u3","len":1}',
        '{"ts":90000,"sender":"u3","len":1}',
        '{"ts":90000,"sender":"u1","len":1}',
      ].join('\n'),
      'inline',
    )

    const timed = selectWindow(messages, 0, 1)

    expect(timed.map((message) => message.at)).toEqual([0, 20_000, 40_000, 60_000, 90_000, 120_000])
    expect(timed.map((message) => message.index)).toEqual([0, 1, 2, 3, 4, 5])
  })

  it('selects a half-open window', () => {
    const messages = parseChatLog(
      '{"ts":0,"sender":"u1","len":1}\n{"ts":3600000,"sender":"u2","len":1}',
      'inline',
    )

    expect(selectWindow(messages, 0, 1).map((message) => message.sender)).toEqual(['u1'])
  })

  it('finds the busiest hour of the committed slice', async () => {
    const log = await readChatLog(SLICE)

    expect(log.length).toBe(2_333)
    expect(busiestHourStart(log)).toBe(AUG_25_14H)
    expect(selectWindow(log, AUG_25_14H, 1).length).toBe(538)
  })
})

describe('reading model', () => {
  async function scenarioOfSlice(seed: number) {
    const log = await readChatLog(SLICE)
    const messages = selectWindow(log, AUG_25_14H, 2)
    return buildScenario({
      messages,
      from: AUG_25_14H,
      to: AUG_25_14H + 120 * MINUTE,
      memberCount: 40,
      bots: new Set(),
      seed,
    })
  }

  it('repeats a run for the same seed', async () => {
    const first = await scenarioOfSlice(7)
    const second = await scenarioOfSlice(7)
    const other = await scenarioOfSlice(8)

    expect(second.events).toEqual(first.events)
    expect(other.events).not.toEqual(first.events)
  })

  it('keeps every poster online at its posts', async () => {
    const scenario = await scenarioOfSlice(1)
    const online = new Map<string, boolean>()

    for (const event of scenario.events) {
      if (event.kind === 'online') online.set(event.userId, true)
      if (event.kind === 'offline') online.set(event.userId, false)
      if (event.kind === 'post')
        expect(online.get(event.userId), `${event.userId} at post`).toBe(true)
    }
  })

  it('leaves offline gaps long enough to reconnect', async () => {
    const scenario = await scenarioOfSlice(1)
    const wentOffline = new Map<string, number>()
    let reconnections = 0
    let offlineReads = 0

    for (const event of scenario.events) {
      if (event.kind === 'offline') wentOffline.set(event.userId, event.at)
      if (event.kind === 'read' && event.offline) offlineReads += 1
      if (event.kind !== 'online') continue
      const since = wentOffline.get(event.userId)
      if (since === undefined) continue
      expect(event.at - since).toBeGreaterThanOrEqual(MIN_OFFLINE_MS)
      reconnections += 1
    }
    expect(reconnections).toBeGreaterThan(10)
    expect(offlineReads).toBeGreaterThan(5)
  })

  it('names silent members apart from senders', async () => {
    const scenario = await scenarioOfSlice(1)
    const readers = scenario.members.filter((member) => !member.speaker)

    expect(scenario.members).toHaveLength(40)
    expect(readers[0]?.userId).toBe('reader01')
    expect(readers.every((member) => /^reader\d+$/.test(member.userId))).toBe(true)
  })

  it('lets bots post but never read', () => {
    const messages = selectWindow(
      parseChatLog(
        '{"ts":0,"sender":"bot1","len":1}\n{"ts":600000,"sender":"u1","len":1}',
        'inline',
      ),
      0,
      1,
    )
    const scenario = buildScenario({
      messages,
      from: 0,
      to: 3_600_000,
      memberCount: 5,
      bots: new Set(['bot1']),
      seed: 1,
    })
    const botEvents = scenario.events.filter((event) => event.userId === 'bot1')

    expect(scenario.members.find((member) => member.userId === 'bot1')?.bot).toBe(true)
    expect(botEvents.some((event) => event.kind === 'post')).toBe(true)
    expect(botEvents.some((event: ScenarioEvent) => event.kind === 'read')).toBe(false)
  })

  it('rejects fewer members than senders', async () => {
    const log = await readChatLog(SLICE)
    const options = {
      messages: selectWindow(log, AUG_25_14H, 1),
      from: AUG_25_14H,
      to: AUG_25_14H + 60 * MINUTE,
      memberCount: 10,
      bots: new Set<string>(),
      seed: 1,
    }

    expect(() => buildScenario(options)).toThrow(ScenarioError)
  })

  it('merges visits with short gaps', () => {
    const merged = mergeVisits([
      { start: 20 * MINUTE, end: 30 * MINUTE },
      { start: 0, end: 10 * MINUTE },
      { start: 12 * MINUTE, end: 15 * MINUTE },
    ])

    expect(merged).toEqual([
      { start: 0, end: 15 * MINUTE },
      { start: 20 * MINUTE, end: 30 * MINUTE },
    ])
  })
})

describe('receipt oracle', () => {
  it('counts audiences without sender and bots', () => {
    const oracle = new ReceiptOracle([
      { userId: 'ann', bot: false },
      { userId: 'ben', bot: false },
      { userId: 'cat', bot: false },
      { userId: 'bot', bot: true },
    ])
    oracle.recordPost(1, 'ann')
    oracle.recordPost(2, 'bot')
    oracle.recordPost(3, 'ben')
    oracle.recordRead('cat', 2)

    expect(oracle.countsOf(1)).toEqual({ readCount: 2, unreadCount: 0 })
    expect(oracle.countsOf(2)).toEqual({ readCount: 2, unreadCount: 1 })
    expect(oracle.countsOf(3)).toEqual({ readCount: 0, unreadCount: 2 })
    expect(oracle.countsOf(4)).toBeUndefined()
    expect(oracle.unreadOf('ann')).toBe(2)
    expect(oracle.unreadOf('ben')).toBe(0)
    expect(oracle.unreadOf('cat')).toBe(1)
    expect(oracle.unreadOf('bot')).toBe(1)
  })

  it('never lowers a watermark', () => {
    const oracle = new ReceiptOracle([{ userId: 'ann', bot: false }])
    oracle.recordRead('ann', 5)
    oracle.recordRead('ann', 3)

    expect(oracle.watermark('ann')).toBe(5)
  })

  it('rejects reads of unknown members', () => {
    const oracle = new ReceiptOracle([{ userId: 'ann', bot: false }])

    expect(() => oracle.recordRead('zed', 1)).toThrow('user "zed" is not a replayed member')
  })
})

describe('filler text', () => {
  it('has exactly the logged length', () => {
    for (const length of [0, 1, 9, 76, 500]) expect(fillerText(length)).toHaveLength(length)
  })
})
