import { isAscii, isUtf8 } from 'node:buffer'
import { ProtocolError } from '@verb-tcp/core'
import type { DecodeSink, PayloadSlice } from '@verb-tcp/core/codec'
import { bool, knownKeys, optionKeys } from '@verb-tcp/core/validate'
import { JsonFramesErrorCode } from './errors.ts'
import { NewlineLengthDecoder } from './frame-decoder.ts'
import type { MessageDecoderOptions } from './types.ts'

// Which check a payload failed: small numbers keep the per-frame function's bytecode small.
const INVALID_UTF8 = 0
const INVALID_JSON = 1
const INVALID_MESSAGE = 2
type Rejection = typeof INVALID_UTF8 | typeof INVALID_JSON | typeof INVALID_MESSAGE

const MESSAGE_DECODER_KEYS = optionKeys<MessageDecoderOptions>({
  maxFrameBytes: true,
  oversize: true,
  requireType: true,
})

/**
 * Decodes `<byte length>\n<json>` frames into parsed JSON values. The payload must be strict
 * UTF-8 (never silently replaced with U+FFFD) and JSON: either failure is a recoverable error,
 * since the length already told us where the next frame starts.
 *
 * Values come from `JSON.parse`, so a `__proto__` key is an own property: safe here, but
 * `Object.assign({}, message)` would then set the target's prototype. Validate before merging.
 */
export class MessageDecoder<M = unknown> extends NewlineLengthDecoder<M> {
  readonly #requireType: boolean
  // Per chunk: when the rest of the chunk is ASCII, it is decoded to one string once, and each
  // payload is a slice of it. Small frames then cost a substring instead of a native call each.
  #chunk: Buffer | undefined
  #text: string | undefined
  #textStart = 0

  constructor(options: MessageDecoderOptions = {}) {
    knownKeys(options, MESSAGE_DECODER_KEYS, 'MessageDecoder')
    super(options)
    this.#requireType = bool(options.requireType, 'requireType', false)
    this.rawPayloads = 3
  }

  /** Never keep the chunk alive (or reuse its text for the next chunk) past the call. */
  protected override afterChunk(): void {
    this.#chunk = undefined
    this.#text = undefined
  }

  protected onPayload(slice: PayloadSlice, sink: DecodeSink<M>): unknown {
    return this.payloadAt(slice.chunk, slice.start, slice.end, slice.offset, slice.owned, sink)
  }

  /**
   * @internal Every payload: `onPayload`'s, and those inside one chunk without the slice.
   *
   * It runs once per frame and must stay small enough for V8 to inline it into the chunk loop
   * (460 bytes of bytecode on Node 20): two bytes over made the message decoder 2-7% slower on
   * 64 KiB chunks, with the frame call no longer inlined either. So the error paths, which are
   * rare, build their errors in `#error`, out of line.
   */
  protected override payloadAt(
    buf: Buffer,
    start: number,
    end: number,
    offset: number,
    owned: boolean,
    sink: DecodeSink<M>,
  ): unknown {
    let text: string | undefined
    if (!owned) {
      if (this.#chunk !== buf) {
        this.#chunk = buf
        this.#text = isAscii(buf.subarray(start)) ? buf.toString('latin1', start) : undefined
        this.#textStart = start
      }
      if (this.#text !== undefined) {
        text = this.#text.slice(start - this.#textStart, end - this.#textStart)
      }
    }
    if (text === undefined) {
      const payload = buf.subarray(start, end)
      // ASCII (most JSON) is checked and decoded faster than UTF-8.
      if (isAscii(payload)) text = payload.toString('latin1')
      else if (isUtf8(payload)) text = payload.toString('utf8')
      else return sink.error(this.#error(INVALID_UTF8, undefined, offset, end - start))
    }
    let value: M
    try {
      value = JSON.parse(text)
    } catch (cause) {
      return sink.error(this.#error(INVALID_JSON, text, offset, end - start, cause))
    }
    if (this.#requireType && !hasType(value)) {
      return sink.error(this.#error(INVALID_MESSAGE, undefined, offset, end - start))
    }
    return sink.frame(value)
  }

  /** The recoverable error for a payload that failed check `why`; `text` once it was decoded. */
  #error(
    why: Rejection,
    text: string | undefined,
    offset: number,
    length: number,
    cause?: unknown,
  ) {
    let code: string = JsonFramesErrorCode.INVALID_MESSAGE
    let message = 'message is not an object with a string "type"'
    if (why === INVALID_UTF8) {
      code = JsonFramesErrorCode.INVALID_UTF8
      message = 'payload is not valid UTF-8'
    } else if (why === INVALID_JSON) {
      code = JsonFramesErrorCode.INVALID_JSON
      message = 'payload is not JSON'
      if (text?.charCodeAt(0) === 0xfeff) message += ' (it starts with a UTF-8 byte order mark)'
    }
    return new ProtocolError(code, `${message} (frame at offset ${offset}, ${length} bytes)`, {
      recoverable: true,
      offset,
      declaredLength: length,
      limit: this.maxFrameBytes,
      ...(cause === undefined ? {} : { cause }),
    })
  }
}

function hasType(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { type?: unknown }).type === 'string'
  )
}
