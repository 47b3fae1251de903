import { describe, expect, it } from 'vitest'
import { jitteredDelay } from '../src/backoff.ts'

const options = { baseMs: 250, maxMs: 30_000 }

describe('jittered backoff', () => {
  it('draws each delay from zero up to the doubled window', () => {
    expect(jitteredDelay(0, options, () => 0)).toBe(0)
    expect(jitteredDelay(0, options, () => 0.999_999)).toBe(250)
    expect(jitteredDelay(3, options, () => 0.5)).toBe(1_000)
    expect(jitteredDelay(4, options, () => 0.999_999)).toBe(4_000)
  })

  it('caps the window at the maximum', () => {
    expect(jitteredDelay(20, options, () => 0.999_999)).toBe(30_000)
    expect(jitteredDelay(10_000, options, () => 0.5)).toBe(15_000)
  })

  it('spreads clients that fail at the same moment over the window', () => {
    const delays = Array.from({ length: 1_000 }, () => jitteredDelay(5, options))
    const window = 250 * 2 ** 5

    expect(Math.min(...delays)).toBeLessThan(window * 0.1)
    expect(Math.max(...delays)).toBeGreaterThan(window * 0.9)
    expect(new Set(delays).size).toBeGreaterThan(500)
  })
})
