import { performance } from 'node:perf_hooks'

/**
 * A token bucket: `rate` events per second with a burst of `rate`. Used as an abuse budget for
 * stream opens, resets and pings (HTTP/2 rapid reset, ping floods).
 */
export class RateLimiter {
  readonly rate: number
  #tokens: number
  #last: number

  constructor(rate: number) {
    this.rate = rate
    this.#tokens = rate
    this.#last = performance.now()
  }

  /** Takes one token; false when the budget is spent. */
  take(): boolean {
    const now = performance.now()
    const refill = ((now - this.#last) / 1000) * this.rate
    this.#last = now
    this.#tokens = Math.min(this.rate, this.#tokens + refill)
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
