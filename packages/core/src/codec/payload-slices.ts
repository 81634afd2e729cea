/**
 * Pieces of a payload shorter than this are copied instead of kept as views, so a peer that
 * dribbles a large frame a few bytes per read cannot make the decoder hold one view object per
 * few bytes, nor keep many input chunks alive for a few bytes each.
 */
export const MIN_SLICE_BYTES = 4096
/** Capacity of a buffer that collects short pieces (capped at what the payload still needs). */
const SHORT_PIECES_BYTES = 16 * 1024

/**
 * Collects one payload that spans input chunks as the list of pieces it lies in, without joining
 * them: each piece of `MIN_SLICE_BYTES` or more is a view of its input chunk (no copy); shorter
 * pieces are copied into a small buffer of their own and adjacent ones merged. Memory follows
 * the bytes received (plus at most 16 KiB), as with `PayloadBuffer`, and the number of pieces
 * is at most about two per `MIN_SLICE_BYTES` of payload.
 *
 * The views alias the caller's chunks: only for sources that never reuse their buffers (a
 * socket's `'data'` chunks are fresh), like any in-chunk view.
 */
export class PayloadSlices {
  readonly expected: number
  readonly #slices: Buffer[] = []
  #filled = 0
  /** Bytes of memory held: the views' lengths plus the capacity of the short-piece buffers. */
  #held = 0
  #short: Buffer | undefined
  #shortUsed = 0
  /** Index in `#slices` of the view that ends at `#shortUsed`, or -1: where a short piece merges. */
  #shortSlice = -1

  constructor(expected: number) {
    this.expected = expected
  }

  get filled(): number {
    return this.#filled
  }

  /** Bytes of memory held for this payload. */
  get capacity(): number {
    return this.#held
  }

  /** Takes from `src[start..end)` what still belongs to the payload; returns how many bytes. */
  append(src: Buffer, start: number, end: number): number {
    const take = Math.min(end - start, this.expected - this.#filled)
    if (take >= MIN_SLICE_BYTES) {
      this.#slices.push(src.subarray(start, start + take))
      this.#held += take
      this.#shortSlice = -1
    } else if (take > 0) {
      this.#copyShort(src, start, take)
    }
    this.#filled += take
    return take
  }

  #copyShort(src: Buffer, start: number, length: number): void {
    let at = start
    let left = length
    while (left > 0) {
      let short = this.#short
      if (short === undefined || this.#shortUsed === short.length) {
        // What the payload still needs, from this piece on, caps the buffer.
        const need = this.expected - this.#filled - (at - start)
        // Slow: a pooled buffer would keep Node's shared 8 KiB slab alive with it.
        short = Buffer.allocUnsafeSlow(Math.min(SHORT_PIECES_BYTES, need))
        this.#short = short
        this.#shortUsed = 0
        this.#shortSlice = -1
        this.#held += short.length
      }
      const used = this.#shortUsed
      const n = Math.min(left, short.length - used)
      src.copy(short, used, at, at + n)
      const last = this.#slices.length - 1
      if (this.#shortSlice === last && last >= 0) {
        const prev = this.#slices[last] as Buffer
        this.#slices[last] = short.subarray(prev.byteOffset - short.byteOffset, used + n)
      } else {
        this.#slices.push(short.subarray(used, used + n))
        this.#shortSlice = this.#slices.length - 1
      }
      this.#shortUsed = used + n
      at += n
      left -= n
    }
  }

  get complete(): boolean {
    return this.#filled === this.expected
  }

  /** The pieces, in order; only valid once `complete`. */
  take(): Buffer[] {
    return this.#slices
  }
}
