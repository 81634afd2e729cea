import { HEADER_BYTES } from './constants.ts'

const EMPTY: Buffer[] = []
/** Payloads up to this size are copied next to their header: one buffer, one writev entry. */
const COALESCE_BYTES = 1024

/** Where framed bytes go: the session's (corked) socket, or a recorder in tests. */
export type SendFrame = (chunk: Buffer) => void

/**
 * The sending half of one stream: the credit the peer granted it (an absolute limit, as the
 * window updates carry it) and the chunks of the one write in progress, framed on demand.
 *
 * A stream has at most one write in progress (Node's `Writable` hands over the next only once
 * the callback of the last has run), so the queue is that write's chunks and an index into them.
 * The callback runs as soon as every byte is framed: the writer refills while its bytes are still
 * in the socket's (corked) buffer, so one turn's refills share one `writev`.
 */
export class SendQueue {
  /** Absolute send limit granted by the peer. */
  #limit: number
  /** Bytes framed so far. */
  #sent = 0
  #chunks: Buffer[] = EMPTY
  #index = 0
  #offset = 0
  #queued = 0
  #callback: ((error?: Error | null) => void) | undefined
  readonly #id: number
  readonly #sendFrame: SendFrame

  /**
   * @param id the stream id written into each header
   * @param limit the credit granted so far (the peer's initial window)
   * @param sendFrame where frames go; called once per header and once per payload piece
   */
  constructor(id: number, limit: number, sendFrame: SendFrame) {
    this.#id = id
    this.#limit = limit
    this.#sendFrame = sendFrame
  }

  /** Bytes framed so far. */
  get sent(): number {
    return this.#sent
  }

  /** The absolute limit the peer granted. */
  get limit(): number {
    return this.#limit
  }

  /** Bytes waiting to be framed. */
  get queued(): number {
    return this.#queued
  }

  /** Bytes that can be framed now: queued and covered by credit. */
  get sendable(): number {
    const credit = this.#limit - this.#sent
    return credit <= 0 ? 0 : Math.min(credit, this.#queued)
  }

  /** Raises the limit (window updates never lower it); true when that lets queued bytes go. */
  grant(limit: number): boolean {
    if (limit <= this.#limit) return false
    const blocked = this.#limit <= this.#sent
    this.#limit = limit
    return blocked && this.#queued > 0
  }

  /**
   * Sets the limit even below what it was: only for a late hello, which takes a peer we had
   * assumed to be a legacy one (no flow control) back to the credit it advertises.
   */
  setLimit(limit: number): void {
    this.#limit = limit
  }

  /** Takes over one write's chunks; `callback` runs once they are all framed. */
  enqueue(chunks: Buffer[], total: number, callback: (error?: Error | null) => void): void {
    if (total === 0) {
      callback()
      return
    }
    this.#chunks = chunks
    this.#index = 0
    this.#offset = 0
    this.#queued = total
    this.#callback = callback
  }

  /**
   * Frames the next `n` queued bytes (1 ≤ n ≤ `sendable`) as one frame: small payloads copied
   * next to their header, larger ones as the header and views of the written chunks. Runs the
   * write's callback when the queue empties.
   */
  send(n: number): void {
    const send = this.#sendFrame
    const chunks = this.#chunks
    let index = this.#index
    let chunk = chunks[index] as Buffer
    let offset = this.#offset
    const coalesce = n <= COALESCE_BYTES
    const frame = Buffer.allocUnsafe(coalesce ? HEADER_BYTES + n : HEADER_BYTES)
    frame.writeUInt32BE(this.#id, 0)
    frame.writeUInt32BE(n, 4)
    if (coalesce) {
      let at = HEADER_BYTES
      let left = n
      while (left > 0) {
        const take = Math.min(chunk.length - offset, left)
        chunk.copy(frame, at, offset, offset + take)
        at += take
        left -= take
        offset += take
        if (offset === chunk.length) {
          offset = 0
          chunk = chunks[++index] as Buffer
        }
      }
      send(frame)
    } else {
      send(frame)
      let left = n
      while (left > 0) {
        const avail = chunk.length - offset
        if (avail <= left) {
          send(offset === 0 ? chunk : chunk.subarray(offset))
          left -= avail
          offset = 0
          chunk = chunks[++index] as Buffer
        } else {
          send(chunk.subarray(offset, offset + left))
          offset += left
          left = 0
        }
      }
    }
    this.#index = index
    this.#offset = offset
    this.#queued -= n
    this.#sent += n
    if (this.#queued === 0) this.clear()?.()
  }

  /** Drops what is queued; returns the callback of the write in progress, for its error. */
  clear(): ((error?: Error | null) => void) | undefined {
    const callback = this.#callback
    this.#callback = undefined
    this.#chunks = EMPTY
    this.#index = 0
    this.#offset = 0
    this.#queued = 0
    return callback
  }
}
