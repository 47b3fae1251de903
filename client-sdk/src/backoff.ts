/** Bounds of an exponential backoff, in ms. */
export interface BackoffOptions {
  baseMs: number
  maxMs: number
}

/**
 * Returns the delay before retry number `attempt` (0 for the first retry): a random value between
 * 0 and min(maxMs, baseMs · 2^attempt). This "full jitter" spreads the retries of many clients
 * that failed at the same moment, for example when a server restarts, over the whole interval
 * instead of sending them back in lockstep.
 */
export function jitteredDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30))
  return Math.round(random() * ceiling)
}
