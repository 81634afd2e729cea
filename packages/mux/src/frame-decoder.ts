import { ProtocolError } from '@verb-tcp/core'
import {
  ChunkDecoder,
  CodecErrorCode,
  checkFrameLimit,
  type DecodeSink,
  hexPreview,
  PayloadBuffer,
  TruncatedFrameError,
} from '@verb-tcp/core/codec'
import { knownKeys, optionKeys } from '@verb-tcp/core/validate'
import { COMPACT_STREAM_ID, CONTROL_STREAM_ID, DEFAULTS, HEADER_BYTES } from './constants.ts'
import { MuxErrorCode } from './errors.ts'
import type { MuxFrame } from './types.ts'

export interface MuxFrameDecoderOptions {
  /** Largest data payload. Mutable later through `maxFrameSize`. @default 16 MiB (legacy peers) */
  maxFrameSize?: number
  /** Largest control payload (stream 0 and the compact stream). @default 16384 */
  maxControlBytes?: number
}

const U32 = 0xffff_ffff

const DECODER_KEYS = optionKeys<MuxFrameDecoderOptions>({
  maxFrameSize: true,
  maxControlBytes: true,
})
/**
 * Incremental decoder of the verb docs' 8-byte-header frames. Control frames (stream 0 and the
 * compact stream) come out whole, copied once with core's `PayloadBuffer` if they span chunks.
 * Data frames are streamed through as views of the input: the first piece (`offset` 0) is
 * emitted as soon as the header is read, so credit and size are checked before any payload is
 * held, and later pieces follow as bytes arrive. Limits are checked at the header. The stream
 * offset, the end of input and the stop after a fatal error are core's `ChunkDecoder`'s.
 */
export class MuxFrameDecoder extends ChunkDecoder<MuxFrame> {
  /** Largest data payload accepted; the session lowers it once the peer's hello is known. */
  maxFrameSize: number
  readonly maxControlBytes: number
  readonly #header = Buffer.alloc(HEADER_BYTES)
  #headerFill = 0
  #streamId = 0
  #length = 0
  #done = 0
  #inPayload = false
  #control: PayloadBuffer | undefined

  constructor(options: MuxFrameDecoderOptions = {}) {
    knownKeys(options, DECODER_KEYS, 'MuxFrameDecoder')
    super()
    this.maxFrameSize = checkFrameLimit(
      options.maxFrameSize,
      U32,
      'maxFrameSize',
      DEFAULTS.maxLegacyFrameSize,
    )
    this.maxControlBytes = checkFrameLimit(
      options.maxControlBytes,
      U32,
      'maxControlBytes',
      DEFAULTS.maxControlBytes,
    )
  }

  /** Ignores all further input, as after a fatal error. */
  stop(): void {
    this.finish()
  }

  protected override finish(): void {
    this.#control = undefined
    super.finish()
  }

  protected decodeChunk(buf: Buffer, base: number, sink: DecodeSink<MuxFrame>): void {
    const n = buf.length
    let i = 0
    while (i < n && !this.finished) {
      if (!this.#inPayload) {
        if (this.#headerFill === 0 && n - i >= HEADER_BYTES) {
          this.#streamId = buf.readUInt32BE(i)
          this.#length = buf.readUInt32BE(i + 4)
          i += HEADER_BYTES
        } else {
          const take = Math.min(HEADER_BYTES - this.#headerFill, n - i)
          buf.copy(this.#header, this.#headerFill, i, i + take)
          this.#headerFill += take
          i += take
          if (this.#headerFill < HEADER_BYTES) break
          this.#headerFill = 0
          this.#streamId = this.#header.readUInt32BE(0)
          this.#length = this.#header.readUInt32BE(4)
        }
        const id = this.#streamId
        const length = this.#length
        const available = n - i
        if (id === CONTROL_STREAM_ID || id === COMPACT_STREAM_ID) {
          if (length > this.maxControlBytes) {
            this.fail(
              sink,
              new ProtocolError(
                MuxErrorCode.CONTROL_TOO_LARGE,
                `control frame of ${length} bytes exceeds maxControlBytes ${this.maxControlBytes}`,
                {
                  limit: this.maxControlBytes,
                  declaredLength: length,
                  offset: base + i - HEADER_BYTES,
                  streamId: id,
                },
              ),
            )
            return
          }
          if (available >= length) {
            i += length
            sink.frame({
              streamId: id,
              length,
              offset: 0,
              start: true,
              payload: buf.subarray(i - length, i),
            })
          } else {
            this.#control = new PayloadBuffer(length, available)
            this.#inPayload = true
          }
          continue
        }
        if (length > this.maxFrameSize) {
          const at = base + i - HEADER_BYTES
          const head = buf.subarray(Math.max(0, i - HEADER_BYTES), i)
          this.fail(
            sink,
            new ProtocolError(
              CodecErrorCode.FRAME_TOO_LARGE,
              `frame for stream ${id} declares ${length} bytes, over the limit of ${this.maxFrameSize} (header ${hexPreview(head)})`,
              { limit: this.maxFrameSize, declaredLength: length, offset: at, streamId: id },
            ),
          )
          return
        }
        const take = Math.min(length, available)
        i += take
        this.#done = take
        this.#inPayload = take < length
        sink.frame({
          streamId: id,
          length,
          offset: 0,
          start: true,
          payload: buf.subarray(i - take, i),
        })
        continue
      }
      // Inside a payload that started in an earlier chunk.
      const control = this.#control
      if (control !== undefined) {
        i += control.append(buf, i, n)
        if (control.complete) {
          this.#control = undefined
          this.#inPayload = false
          sink.frame({
            streamId: this.#streamId,
            length: this.#length,
            offset: 0,
            start: true,
            payload: control.take(),
          })
        }
        continue
      }
      const take = Math.min(this.#length - this.#done, n - i)
      const offset = this.#done
      i += take
      this.#done += take
      if (this.#done === this.#length) this.#inPayload = false
      sink.frame({
        streamId: this.#streamId,
        length: this.#length,
        offset,
        start: false,
        payload: buf.subarray(i - take, i),
      })
    }
  }

  protected truncation(offset: number): ProtocolError | undefined {
    if (this.#headerFill > 0)
      return new TruncatedFrameError(undefined, this.#headerFill, { offset })
    if (!this.#inPayload) return undefined
    return new TruncatedFrameError(this.#length, this.#control?.filled ?? this.#done, {
      offset,
      streamId: this.#streamId,
    })
  }
}
