/** Durations in ms, for percentiles. Keeps every sample: a replay records thousands, not millions. */
export class LatencyRecorder {
  readonly #samples: number[] = []
  #sorted = true

  record(durationMs: number): void {
    this.#samples.push(durationMs)
    this.#sorted = false
  }

  get count(): number {
    return this.#samples.length
  }

  /** Returns the p-th percentile (0–100) by the nearest-rank method, or null without samples. */
  percentile(p: number): number | null {
    if (this.#samples.length === 0) return null
    if (!this.#sorted) {
      this.#samples.sort((a, b) => a - b)
      this.#sorted = true
    }
    const rank = Math.max(1, Math.ceil((p / 100) * this.#samples.length))
    return this.#samples[rank - 1] as number
  }

  /** Formats p50 and p99 as `p50 3 ms · p99 25 ms`, or `no samples yet`. */
  describe(): string {
    const p50 = this.percentile(50)
    const p99 = this.percentile(99)
    if (p50 === null || p99 === null) return 'no samples yet'
    return `p50 ${formatMs(p50)} · p99 ${formatMs(p99)}`
  }
}

function formatMs(value: number): string {
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`
}
