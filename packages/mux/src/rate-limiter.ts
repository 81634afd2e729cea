import { performance } from 'node:perf_hooks'

/**
 * A token bucket: `rate` events per second with a burst of `burst` (default `rate`). Used as an
 * abuse budget for stream opens, resets and pings (HTTP/2 rapid reset, ping floods).
 */
export class RateLimiter {
  readonly rate: number
  readonly burst: number
  #tokens: number
  #last: number

  constructor(rate: number, burst = rate) {
    this.rate = rate
    this.burst = burst
    this.#tokens = burst
    this.#last = performance.now()
  }

  /** Gives one token back (useful work earns budget), up to the burst. */
  refund(): void {
    if (this.#tokens < this.burst) this.#tokens += 1
  }

  /** Takes one token; false when the budget is spent. */
  take(): boolean {
    const now = performance.now()
    const refill = ((now - this.#last) / 1000) * this.rate
    this.#last = now
    this.#tokens = Math.min(this.burst, this.#tokens + refill)
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
