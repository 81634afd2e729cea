import { knownKeys, limit, ms, number, oneOf } from './validate.ts'

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
   * same server); `'none'` waits exactly the cap, as the verb docs' client does. @default 'full'
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

const RETRY_KEYS: (keyof RetryOptions)[] = [
  'baseDelay',
  'factor',
  'maxDelay',
  'maxAttempts',
  'jitter',
]

export function resolveRetry(retry: RetryOptions | undefined): Required<RetryOptions> {
  knownKeys(retry, RETRY_KEYS, 'retry')
  const r = retry ?? {}
  const d = DEFAULT_RETRY
  return {
    baseDelay: ms(r.baseDelay, 'retry.baseDelay', d.baseDelay),
    factor: number(r.factor, 'retry.factor', d.factor, 1),
    maxDelay: ms(r.maxDelay, 'retry.maxDelay', d.maxDelay),
    maxAttempts: limit(r.maxAttempts, 'retry.maxAttempts', d.maxAttempts, 0),
    jitter: oneOf(r.jitter, 'retry.jitter', ['full', 'none'], d.jitter),
  }
}
