/** How often buckets that have refilled completely are dropped, in ms. */
const SWEEP_INTERVAL_MS = 60_000

interface Bucket {
  tokens: number
  updatedAt: number
}

/**
 * A token bucket per key: each key may make `perMinute` requests in a burst and regains them at
 * `perMinute` per minute. A bucket that is full again is forgotten, so memory follows the keys
 * active within the last minute.
 */
export class RateLimiter {
  readonly #capacity: number
  /** Tokens regained per ms. */
  readonly #refillRate: number
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()
  readonly #sweep: NodeJS.Timeout

  constructor(perMinute: number, now: () => number = Date.now) {
    this.#capacity = perMinute
    this.#refillRate = perMinute / 60_000
    this.#now = now
    this.#sweep = setInterval(() => this.#dropFullBuckets(), SWEEP_INTERVAL_MS)
    this.#sweep.unref()
  }

  /**
   * Takes one request from the key's budget. Returns 0 when the request may go ahead, otherwise
   * the whole seconds until it may be retried.
   */
  take(key: string): number {
    const now = this.#now()
    const bucket = this.#buckets.get(key) ?? { tokens: this.#capacity, updatedAt: now }
    bucket.tokens = Math.min(
      this.#capacity,
      bucket.tokens + (now - bucket.updatedAt) * this.#refillRate,
    )
    bucket.updatedAt = now
    this.#buckets.set(key, bucket)

    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#refillRate / 1_000))
  }

  stop(): void {
    clearInterval(this.#sweep)
    this.#buckets.clear()
  }

  #dropFullBuckets(): void {
    const now = this.#now()
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.updatedAt) * this.#refillRate >= this.#capacity) {
        this.#buckets.delete(key)
      }
    }
  }
}
