/** What `Dedupe.check` says of one envelope. */
export type DedupeVerdict =
  /** Already delivered (or older than one delivered): ignore it. */
  | { duplicate: true }
  /** Deliver it; `missed` envelopes of this sender before it never arrived. */
  | { duplicate: false; missed: number }

/**
 * The last sequence number delivered per sending node, for at most `maxSenders` senders (the
 * least recently heard are forgotten first). A sender's envelopes are numbered 1, 2, 3... and
 * written to the stream in that order, so "delivered" is one number per sender: an envelope at or
 * below it is a resend, and one above it by more than one means envelopes in between were lost.
 * Delivery per sender is therefore in order and at most once, for the senders remembered.
 */
export class Dedupe {
  readonly #maxSenders: number
  readonly #last = new Map<string, number>()

  constructor(maxSenders: number) {
    this.#maxSenders = maxSenders
  }

  /** Senders remembered now. */
  get size(): number {
    return this.#last.size
  }

  check(sender: string, seq: number): DedupeVerdict {
    const last = this.#last.get(sender)
    if (last !== undefined && seq <= last) return { duplicate: true }
    // Delete and set again: the map's order is the order senders were last heard.
    this.#last.delete(sender)
    this.#last.set(sender, seq)
    if (this.#last.size > this.#maxSenders) {
      const oldest = this.#last.keys().next().value as string
      this.#last.delete(oldest)
    }
    return { duplicate: false, missed: last === undefined ? 0 : seq - last - 1 }
  }
}
