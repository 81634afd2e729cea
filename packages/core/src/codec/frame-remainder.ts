import { TruncatedFrameError } from './errors.ts'
import { PayloadBuffer } from './payload-buffer.ts'
import { PayloadSlices } from './payload-slices.ts'

/**
 * The rest of a frame whose header has been read but whose payload goes past the chunk: either
 * collected (one exact-size copy, see `PayloadBuffer`, or the list of pieces it lies in, see
 * `PayloadSlices`) or, for an oversize frame a decoder chose to skip, discarded as it arrives.
 * One of these is the whole cross-chunk state of a length-prefixed decoder besides its partial
 * header.
 */
export class FrameRemainder {
  #payload: PayloadBuffer | PayloadSlices | undefined
  #done: Buffer | Buffer[] | undefined
  #skipLength = 0
  #skipLeft = 0

  /** True while the payload is still arriving: the next chunk starts with more of it. */
  get active(): boolean {
    return this.#payload !== undefined || this.#skipLeft > 0
  }

  /** Bytes of memory held: the capacity of the payload's buffer. */
  get bufferedBytes(): number {
    return this.#payload?.capacity ?? 0
  }

  /**
   * A payload of `length` bytes starts at `chunk[start]` and ends past the chunk: keep it, joined
   * into one buffer, or with `slices` as the pieces it lies in (`takeSlices`).
   */
  collect(length: number, chunk: Buffer, start: number, slices = false): void {
    const p = slices ? new PayloadSlices(length) : new PayloadBuffer(length, chunk.length - start)
    p.append(chunk, start, chunk.length)
    this.#payload = p
  }

  /**
   * Drops a payload of `length` bytes starting at `chunk[start]`. Returns where the next frame
   * starts, or -1 when the payload goes past the chunk (the rest is dropped as it arrives).
   */
  skip(length: number, chunk: Buffer, start: number): number {
    const available = chunk.length - start
    if (length <= available) return start + length
    this.#skipLength = length
    this.#skipLeft = length - available
    return -1
  }

  /**
   * Takes what belongs to the frame from the start of the next chunk and returns how many bytes
   * that was. When `active` is false afterwards the frame is complete: `take()` has its payload.
   */
  feed(chunk: Buffer): number {
    const p = this.#payload
    if (p !== undefined) {
      const taken = p.append(chunk, 0, chunk.length)
      if (p.complete) {
        this.#payload = undefined
        this.#done = p.take()
      }
      return taken
    }
    const taken = Math.min(chunk.length, this.#skipLeft)
    this.#skipLeft -= taken
    return taken
  }

  /** The payload `feed` completed, handed out once; undefined when the frame was skipped. */
  take(): Buffer | undefined {
    const done = this.#done
    this.#done = undefined
    return Array.isArray(done) ? Buffer.concat(done) : done
  }

  /** `take()` as the pieces the payload was collected in (one when it was joined). */
  takeSlices(): Buffer[] | undefined {
    const done = this.#done
    this.#done = undefined
    return done === undefined || Array.isArray(done) ? done : [done]
  }

  /** The error for input ending at `offset` while `active`; undefined otherwise. */
  truncation(offset: number, limit: number): TruncatedFrameError | undefined {
    const p = this.#payload
    if (p !== undefined) return new TruncatedFrameError(p.expected, p.filled, { offset, limit })
    if (this.#skipLeft > 0) {
      const received = this.#skipLength - this.#skipLeft
      return new TruncatedFrameError(this.#skipLength, received, { offset, limit })
    }
    return undefined
  }

  /** Drops everything held (the decoder is finished). */
  clear(): void {
    this.#payload = undefined
    this.#done = undefined
    this.#skipLeft = 0
  }
}
