import { describe, expect, it } from 'vitest'
import {
  CloseCode,
  idSchema,
  MAX_BODY_LENGTH,
  memberRecordSchema,
  messageRecordSchema,
  sendMessageBodySchema,
  seqSchema,
} from '../src/index.ts'

describe('idSchema', () => {
  it.each(['alice', 'a', 'user@example.com', 'group:1_2.3-4', 'x'.repeat(128)])(
    'accepts %s',
    (id) => {
      expect(idSchema.safeParse(id).success).toBe(true)
    },
  )

  it.each([
    ['an empty id', ''],
    ['129 characters', 'x'.repeat(129)],
    ['a slash', 'a/b'],
    ['a space', 'a b'],
    ['a tilde', '~server'],
    ['a non-ASCII letter', 'jürgen'],
  ])('rejects %s', (_, id) => {
    expect(idSchema.safeParse(id).success).toBe(false)
  })
})

describe('seqSchema', () => {
  it.each([0, 1, Number.MAX_SAFE_INTEGER])('accepts %d', (seq) => {
    expect(seqSchema.safeParse(seq).success).toBe(true)
  })

  it.each([-1, 1.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN])('rejects %d', (seq) => {
    expect(seqSchema.safeParse(seq).success).toBe(false)
  })
})

describe('record schemas', () => {
  it('rejects a message with seq 0', () => {
    const message = { seq: 0, id: 'm0', sender: 'alice', at: 0 }

    expect(messageRecordSchema.safeParse(message).success).toBe(false)
  })

  it('accepts a member with two periods', () => {
    const record = { role: 'member', bot: false, periods: [{ from: 0, to: 4 }, { from: 6 }] }

    expect(memberRecordSchema.safeParse(record).success).toBe(true)
  })

  it('rejects an unknown role', () => {
    const record = { role: 'guest', periods: [{ from: 0 }] }

    expect(memberRecordSchema.safeParse(record).success).toBe(false)
  })

  it('accepts a body at the maximum length', () => {
    const body = { clientMessageId: 'c1', body: 'x'.repeat(MAX_BODY_LENGTH) }

    expect(sendMessageBodySchema.safeParse(body).success).toBe(true)
  })

  it('rejects a body over the maximum length', () => {
    const body = { clientMessageId: 'c1', body: 'x'.repeat(MAX_BODY_LENGTH + 1) }

    expect(sendMessageBodySchema.safeParse(body).success).toBe(false)
  })
})

describe('CloseCode', () => {
  it('uses distinct codes', () => {
    const codes = Object.values(CloseCode)

    expect(new Set(codes).size).toBe(codes.length)
  })

  it('keeps application codes in 4000 to 4999', () => {
    const applicationCodes = Object.values(CloseCode).filter((code) => code >= 4000)

    expect(applicationCodes.every((code) => code <= 4999)).toBe(true)
  })
})
