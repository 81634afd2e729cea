/**
 * The receiving side of one credit window (a stream's or the session's), in absolute byte
 * offsets as in QUIC: the peer may send up to `limit` bytes in total. Credit is given back as
 * the application consumes data, never as it arrives, so unread data is bounded by the window.
 *
 * The window auto-tunes like quic-go: when the consumer got through more than half the window
 * in less than `4 × fraction consumed × RTT`, the window was the bottleneck, so it doubles, up
 * to `max`.
 */
export class FlowWindow {
  /** Current window size in bytes. */
  window: number
  /** Cap for auto-tuning. */
  readonly max: number
  /** Absolute limit advertised to the peer. */
  limit: number
  /** Bytes the peer has sent (counted at each frame header). */
  received = 0
  /** Bytes the application has consumed (or that were discarded). */
  consumed = 0
  #epochOffset = 0
  #epochTime: number

  constructor(initial: number, max: number, now: number) {
    this.window = initial
    this.max = Math.max(initial, max)
    this.limit = initial
    this.#epochTime = now
  }

  /** Counts `n` bytes from the peer; false when that goes past the credit given. */
  receive(n: number): boolean {
    this.received += n
    return this.received <= this.limit
  }

  /** Bytes received but not yet consumed: what the peer has made us hold. */
  get buffered(): number {
    return this.received - this.consumed
  }

  /**
   * When at least half the window has been consumed since the last update, auto-tunes and
   * returns the new absolute limit to advertise; otherwise -1. `rtt` is in ms (0 if unknown),
   * `cap` an extra bound on growth (the session's approval).
   */
  update(now: number, rtt: number, cap = Number.POSITIVE_INFINITY): number {
    if (this.limit - this.consumed > this.window / 2) return -1
    const inEpoch = this.consumed - this.#epochOffset
    if (rtt > 0 && inEpoch > this.window / 2) {
      const fraction = inEpoch / this.window
      if (now - this.#epochTime < 4 * fraction * rtt) {
        this.window = Math.max(this.window, Math.min(this.window * 2, this.max, cap))
      }
    }
    this.#epochOffset = this.consumed
    this.#epochTime = now
    this.limit = this.consumed + this.window
    return this.limit
  }

  /** Raises the window (never lowers it) up to `max`, e.g. for a session backing a stream. */
  ensure(size: number): void {
    if (size > this.window) this.window = Math.min(size, this.max)
  }
}
