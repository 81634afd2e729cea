export interface RetryOptions {
  /** Delay cap for the first retry, in ms. @default 1000 */
  baseDelay?: number
  /** Growth of the cap per attempt. @default 2 */
  factor?: number
  /** Largest cap, in ms. @default 30000 */
  maxDelay?: number
  /**
   * Connection attempts that may fail in a row before the client gives up. The first connection
   * is an attempt; a drop is not, so with 5 there are at most 5 attempts with no server at all
   * and at most 5 after a drop. `0` never reconnects; `Infinity` never gives up. @default 5
   */
  maxAttempts?: number
  /**
   * `'full'` waits a uniform random time in [0, cap] (spreads a crowd of clients that lost the
   * same server); `'none'` waits exactly the cap, as the seed does. @default 'full'
   */
  jitter?: 'full' | 'none'
}

export const DEFAULT_RETRY: Required<RetryOptions> = {
  baseDelay: 1000,
  factor: 2,
  maxDelay: 30_000,
  maxAttempts: 5,
  jitter: 'full',
}

/** Delay before retry number `attempt` (1-based): capped exponential growth, then jitter. */
export function backoffDelay(attempt: number, retry: Required<RetryOptions>): number {
  const cap = Math.min(retry.maxDelay, retry.baseDelay * retry.factor ** (attempt - 1))
  return retry.jitter === 'full' ? Math.floor(Math.random() * (cap + 1)) : cap
}

export function resolveRetry(retry: RetryOptions | undefined): Required<RetryOptions> {
  const r = { ...DEFAULT_RETRY, ...retry }
  const nonNegative = (name: keyof RetryOptions, v: number) => {
    if (!(v >= 0)) throw new TypeError(`retry.${name} must be a non-negative number, got ${v}`)
  }
  nonNegative('baseDelay', r.baseDelay)
  nonNegative('maxDelay', r.maxDelay)
  nonNegative('maxAttempts', r.maxAttempts)
  if (!(r.factor >= 1)) throw new TypeError(`retry.factor must be >= 1, got ${r.factor}`)
  if (r.jitter !== 'full' && r.jitter !== 'none') {
    throw new TypeError(`retry.jitter must be 'full' or 'none', got ${String(r.jitter)}`)
  }
  return r
}
