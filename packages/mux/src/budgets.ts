import type { ProtocolError } from '@verb-tcp/core'
import { MuxErrorCode, muxError } from './errors.ts'
import type { ResolvedOptions } from './options.ts'
import { RateLimiter } from './rate-limiter.ts'

/**
 * The work a peer may make us do that flow control does not bound: opens, resets, pings and
 * frames that carry little or no credit. Past a budget, `exceeded` gets the session's fatal
 * `ERR_MUX_RATE_LIMITED` error and the check returns false.
 */
export class PeerBudgets {
  readonly #open: RateLimiter
  readonly #overflow: RateLimiter
  readonly #reset: RateLimiter
  readonly #emptyReset: RateLimiter
  readonly #ping: RateLimiter
  readonly #small: RateLimiter
  readonly #o: ResolvedOptions
  readonly #exceeded: (error: ProtocolError) => void

  constructor(o: ResolvedOptions, exceeded: (error: ProtocolError) => void) {
    this.#o = o
    this.#exceeded = exceeded
    this.#open = new RateLimiter(o.maxOpensPerSecond)
    this.#overflow = new RateLimiter(o.maxOpensPerSecond)
    this.#reset = new RateLimiter(o.maxResetsPerSecond)
    this.#emptyReset = new RateLimiter(o.maxEmptyResets / 10, o.maxEmptyResets)
    this.#ping = new RateLimiter(o.maxPingsPerSecond)
    this.#small = new RateLimiter(o.maxSmallFramesPerSecond)
  }

  /** One frame that carries (almost) no credit. */
  small(): boolean {
    return this.#small.take() || this.#fail('small frames', this.#o.maxSmallFramesPerSecond)
  }

  /**
   * One stream open. Over the budget the stream is refused (`'refuse'`: safe to retry), so a
   * burst does not kill the session; only a peer that keeps going at twice the budget is cut
   * off (`'fail'`).
   */
  open(): 'accept' | 'refuse' | 'fail' {
    if (this.#open.take()) return 'accept'
    if (this.#overflow.take()) return 'refuse'
    this.#fail('stream opens', this.#o.maxOpensPerSecond)
    return 'fail'
  }

  /** One reset; `empty` when no byte moved on the stream either way (rapid reset). */
  reset(empty: boolean): boolean {
    if (!this.#reset.take()) return this.#fail('resets', this.#o.maxResetsPerSecond)
    if (empty && !this.#emptyReset.take()) {
      return this.#fail('resets of streams that carried no data', this.#o.maxEmptyResets)
    }
    return true
  }

  /** A stream that carried data earns one empty reset back. */
  refundEmptyReset(): void {
    this.#emptyReset.refund()
  }

  ping(): boolean {
    return this.#ping.take() || this.#fail('pings', this.#o.maxPingsPerSecond)
  }

  #fail(what: string, limit: number): false {
    this.#exceeded(
      muxError(MuxErrorCode.RATE_LIMITED, `peer exceeded ${limit} ${what} per second`, { limit }),
    )
    return false
  }
}
