/**
 * Payloads up to this size get their exact-size buffer as soon as the header is read. Larger
 * ones start smaller and grow with the bytes that arrive, so a header declaring megabytes
 * followed by silence costs no more than this.
 */
export const PRESIZE_LIMIT = 64 * 1024

/**
 * Collects one payload that spans input chunks into a buffer of exactly `expected` bytes.
 * Memory follows the bytes received (plus at most `PRESIZE_LIMIT`): the declared size is a
 * claim from the peer, not something to allocate on trust.
 */
export class PayloadBuffer {
  readonly expected: number
  #buf: Buffer
  #filled = 0

  /** `available` is how many bytes are already at hand, to size the first allocation. */
  constructor(expected: number, available: number) {
    this.expected = expected
    // Nothing at hand yet (the header ended the chunk): allocate nothing until a byte arrives.
    const first =
      available === 0
        ? 0
        : expected <= PRESIZE_LIMIT
          ? expected
          : Math.min(expected, Math.max(PRESIZE_LIMIT, available))
    this.#buf = Buffer.allocUnsafe(first)
  }

  get filled(): number {
    return this.#filled
  }

  /** Bytes of memory held: the capacity, not the fill. */
  get capacity(): number {
    return this.#buf.length
  }

  /** Appends from `src[start..end)` what still fits; returns the number of bytes taken. */
  append(src: Buffer, start: number, end: number): number {
    const take = Math.min(end - start, this.expected - this.#filled)
    const need = this.#filled + take
    if (need > this.#buf.length) {
      // Doubling keeps the copies linear; capping at `expected` makes the final buffer exact.
      const grown = Buffer.allocUnsafe(
        Math.min(this.expected, Math.max(need, this.#buf.length * 2)),
      )
      this.#buf.copy(grown, 0, 0, this.#filled)
      this.#buf = grown
    }
    src.copy(this.#buf, this.#filled, start, start + take)
    this.#filled = need
    return take
  }

  get complete(): boolean {
    return this.#filled === this.expected
  }

  /** The finished payload; only valid once `complete`. */
  take(): Buffer {
    return this.#buf
  }
}
