import {
  ChunkDecoder,
  checkFrameLimit,
  type DecodeSink,
  hexPreview,
  PayloadBuffer,
  ProtocolError,
  TruncatedFrameError,
} from '@verb-tcp/core'
import { LF, MAX_FRAME_BYTES_LIMIT, MAX_SKIP_DIGITS } from './constants.ts'
import { JsonFramesErrorCode } from './errors.ts'
import type { FrameDecoderOptions, RawFrameDecoderOptions } from './types.ts'

const HEADER = 0
const PAYLOAD = 1
const SKIP = 2

/** Validates a byte limit option, so a bad config fails at construction, not mid-stream. */
export function checkLimit(value: number | undefined, name?: string): number {
  return checkFrameLimit(value, MAX_FRAME_BYTES_LIMIT, name)
}

/**
 * The `<digits>\n<payload>` state machine, shared by the raw and the message decoder, which
 * differ only in what they make of a payload (`onPayload`).
 *
 * It parses in place: nothing is buffered but a payload that spans chunks (one exact-size copy,
 * see `PayloadBuffer`). A partial header needs no bytes kept, only its value and digit count.
 */
export abstract class NewlineLengthDecoder<T> extends ChunkDecoder<T> {
  readonly maxFrameBytes: number
  readonly #skipOversize: boolean
  #state = HEADER
  /** Value of the header digits read so far, then the declared length. */
  #length = 0
  #digits = 0
  #payload: PayloadBuffer | undefined
  #payloadOffset = 0
  #skipLeft = 0
  #headerOffset = 0

  constructor(options: FrameDecoderOptions = {}) {
    super()
    this.maxFrameBytes = checkLimit(options.maxFrameBytes)
    this.#skipOversize = options.oversize === 'skip'
  }

  /**
   * A complete payload: `buf[start..end)`. `owned` is true when `buf` was allocated for this
   * payload alone (it spanned chunks) rather than being the caller's input chunk.
   */
  protected abstract onPayload(
    buf: Buffer,
    start: number,
    end: number,
    offset: number,
    owned: boolean,
    sink: DecodeSink<T>,
  ): void

  /** Bytes held for a partial frame (the capacity of its buffer). */
  get bufferedBytes(): number {
    return this.#payload?.capacity ?? 0
  }

  protected truncation(offset: number): TruncatedFrameError | undefined {
    const state = this.#state
    const limit = this.maxFrameBytes
    if (state === HEADER && this.#digits > 0) {
      return new TruncatedFrameError(undefined, this.#digits, { offset, limit })
    }
    if (state === PAYLOAD) {
      const p = this.#payload as PayloadBuffer
      return new TruncatedFrameError(p.expected, p.filled, { offset, limit })
    }
    if (state === SKIP) {
      const received = this.#length - this.#skipLeft
      return new TruncatedFrameError(this.#length, received, { offset, limit })
    }
    return undefined
  }

  protected override finish(): void {
    this.#payload = undefined
    super.finish()
  }

  protected decodeChunk(chunk: Buffer, position: number, sink: DecodeSink<T>): void {
    const n = chunk.length
    let i = 0
    if (this.#state === PAYLOAD) {
      const p = this.#payload as PayloadBuffer
      i = p.append(chunk, 0, n)
      if (!p.complete) return
      this.#payload = undefined
      this.#state = HEADER
      this.#length = 0
      const buf = p.take()
      this.onPayload(buf, 0, buf.length, this.#payloadOffset, true, sink)
    } else if (this.#state === SKIP) {
      i = Math.min(n, this.#skipLeft)
      this.#skipLeft -= i
      if (this.#skipLeft > 0) return
      this.#state = HEADER
      this.#length = 0
    }

    const limit = this.maxFrameBytes
    let length = this.#length
    let digits = this.#digits
    while (i < n) {
      const headerStart = i
      if (digits === 0) this.#headerOffset = position + i
      // Digits, accumulated by hand: Number() and parseInt accept signs, spaces, 0x, 1e3, "".
      for (;;) {
        const c = chunk[i] as number
        if (c === LF) break
        if (c < 0x30 || c > 0x39 || (digits === 1 && length === 0)) {
          this.fail(sink, this.#badLength(chunk, headerStart, i, c, digits))
          return
        }
        length = length * 10 + (c - 0x30)
        digits++
        if (length > limit && (!this.#skipOversize || digits > MAX_SKIP_DIGITS)) {
          // More digits only make it larger: fail now, without waiting for the LF.
          this.fail(sink, this.#tooLarge(length, false, '(at least) '))
          return
        }
        if (++i === n) {
          this.#length = length
          this.#digits = digits
          return
        }
      }
      if (digits === 0) {
        this.fail(sink, this.#badLength(chunk, headerStart, i, LF, 0))
        return
      }
      i++
      if (length > limit) {
        sink.error(this.#tooLarge(length, true, ''))
        const skip = Math.min(n - i, length)
        i += skip
        if (skip < length) {
          this.#state = SKIP
          this.#skipLeft = length - skip
          this.#length = length
          this.#digits = 0
          return
        }
      } else {
        const end = i + length
        if (end > n) {
          const p = new PayloadBuffer(length, n - i)
          p.append(chunk, i, n)
          this.#payload = p
          this.#payloadOffset = position + i
          this.#state = PAYLOAD
          this.#length = length
          this.#digits = 0
          return
        }
        this.onPayload(chunk, i, end, position + i, false, sink)
        i = end
      }
      length = 0
      digits = 0
    }
    // Zero after a whole frame; the saved partial header when the chunk was empty.
    this.#length = length
    this.#digits = digits
  }

  #badLength(chunk: Buffer, headerStart: number, at: number, byte: number, digits: number) {
    const why =
      digits === 0 && byte === LF
        ? 'empty length'
        : byte >= 0x30 && byte <= 0x39 // a digit is refused only after a leading 0
          ? 'leading zero in length'
          : `byte 0x${byte.toString(16).padStart(2, '0')} where a ${digits === 0 ? 'digit' : 'digit or LF'} was expected`
    const offset = this.position + at
    return new ProtocolError(
      JsonFramesErrorCode.BAD_LENGTH,
      `bad length header at offset ${offset}: ${why} (header bytes: ${hexPreview(chunk.subarray(headerStart))})`,
      { offset, limit: this.maxFrameBytes },
    )
  }

  #tooLarge(length: number, recoverable: boolean, qualifier: string) {
    return new ProtocolError(
      JsonFramesErrorCode.FRAME_TOO_LARGE,
      `frame of ${qualifier}${length} bytes exceeds the limit of ${this.maxFrameBytes}`,
      {
        recoverable,
        declaredLength: length,
        limit: this.maxFrameBytes,
        offset: this.#headerOffset,
      },
    )
  }
}

/**
 * Decodes `<byte length>\n<payload>` frames into payload Buffers, without looking inside them.
 * A payload inside one input chunk is a view of it (unless `copy`); one that spans chunks is a
 * buffer of its own, copied once.
 */
export class FrameDecoder extends NewlineLengthDecoder<Buffer> {
  readonly #copy: boolean

  constructor(options: RawFrameDecoderOptions = {}) {
    super(options)
    this.#copy = options.copy === true
  }

  protected onPayload(
    buf: Buffer,
    start: number,
    end: number,
    _offset: number,
    owned: boolean,
    sink: DecodeSink<Buffer>,
  ): void {
    sink.frame(
      owned ? buf : this.#copy ? Buffer.from(buf.subarray(start, end)) : buf.subarray(start, end),
    )
  }
}
