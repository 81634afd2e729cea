/** One envelope of this node in durable mode, with its place in the node's sequence. */
export interface OutboxEntry {
  /** Per-node sequence number: 1, 2, 3... in the order the envelopes were made. */
  readonly seq: number
  readonly envelope: Buffer
  /** Records the envelope carries (what a drop of it loses). */
  readonly records: number
  /** When it was queued (`now()`). */
  readonly at: number
  /** Written to Redis at least once (a later write is a resend). */
  written: boolean
}

export interface OutboxLimits {
  /** Envelope bytes kept at most; above it the oldest go first. */
  readonly maxBytes: number
  /** Age past which an envelope is let go. */
  readonly maxAgeMs: number
  /** Envelopes that were never acknowledged by Redis and were let go: lost (counted). */
  dropped(entries: number, records: number): void
  readonly now?: () => number
}

/**
 * The envelopes of this node in durable mode, in sequence order, bounded by bytes and age. An
 * envelope stays until the limits let it go, acknowledged by Redis or not: an unacknowledged one
 * is sent again after a reconnect; an acknowledged one is sent again only when Redis lost the
 * stream (it restarted empty), since another node may not have read it yet. Letting go of an
 * envelope Redis never acknowledged is a counted drop.
 *
 * Three cursors move forward through one array: `#head` (oldest kept), `#firstUnacked` (everything
 * before it was acknowledged) and `#cursor` (the next envelope to write on this connection).
 */
export class Outbox {
  readonly #limits: OutboxLimits
  readonly #now: () => number
  #entries: OutboxEntry[] = []
  #head = 0
  #firstUnacked = 0
  #cursor = 0
  #bytes = 0
  #seq = 0

  constructor(limits: OutboxLimits) {
    this.#limits = limits
    this.#now = limits.now ?? Date.now
  }

  /** Envelopes Redis has not acknowledged yet. */
  get unacked(): number {
    return this.#entries.length - this.#firstUnacked
  }

  /** Envelope bytes kept (acknowledged or not). */
  get bytes(): number {
    return this.#bytes
  }

  /** Queues an envelope, giving it the next sequence number, and applies the limits. */
  push(envelope: Buffer, records: number): OutboxEntry {
    const entry: OutboxEntry = {
      seq: ++this.#seq,
      envelope,
      records,
      at: this.#now(),
      written: false,
    }
    this.#entries.push(entry)
    this.#bytes += envelope.length
    this.#trim()
    return entry
  }

  /** The envelopes to write now, in order (from the first not yet written on this connection). */
  take(): OutboxEntry[] {
    this.#trim()
    const out = this.#entries.slice(this.#cursor)
    this.#cursor = this.#entries.length
    return out
  }

  /** Redis acknowledged every envelope up to `seq` (acknowledgements come in order). */
  acked(seq: number): void {
    const entries = this.#entries
    while (this.#firstUnacked < entries.length && (entries[this.#firstUnacked]?.seq ?? 0) <= seq) {
      this.#firstUnacked++
    }
  }

  /**
   * The connection was lost: write again from the first unacknowledged envelope or, with `all`
   * (Redis lost the stream), from the oldest kept. Returns how many of those were written before.
   */
  rewind(all: boolean): number {
    this.#trim()
    this.#cursor = all ? this.#head : this.#firstUnacked
    if (all) this.#firstUnacked = this.#head
    let again = 0
    for (let i = this.#cursor; i < this.#entries.length; i++) {
      if (this.#entries[i]?.written) again++
    }
    return again
  }

  #trim(): void {
    const { maxBytes, maxAgeMs } = this.#limits
    const oldest = this.#now() - maxAgeMs
    let entries = 0
    let records = 0
    while (this.#head < this.#entries.length) {
      const entry = this.#entries[this.#head] as OutboxEntry
      if (this.#bytes <= maxBytes && entry.at >= oldest) break
      if (this.#head >= this.#firstUnacked) {
        entries++
        records += entry.records
      }
      this.#bytes -= entry.envelope.length
      this.#head++
    }
    if (this.#firstUnacked < this.#head) this.#firstUnacked = this.#head
    if (this.#cursor < this.#head) this.#cursor = this.#head
    // Compact once the let-go part is large and at least half of the array.
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head)
      this.#firstUnacked -= this.#head
      this.#cursor -= this.#head
      this.#head = 0
    }
    if (entries > 0) this.#limits.dropped(entries, records)
  }
}
