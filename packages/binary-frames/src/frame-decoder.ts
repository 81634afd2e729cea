import { ProtocolError } from '@verb-tcp/core'
import {
  ChunkDecoder,
  type DecodeSink,
  FrameRemainder,
  hexPreview,
  TruncatedFrameError,
} from '@verb-tcp/core/codec'
import { argError, bool, intInRange, knownKeys, oneOf, optionKeys } from '@verb-tcp/core/validate'
import { HEADER_BYTES, MAX_FLAGS, MAX_TYPE } from './constants.ts'
import { BinaryFramesErrorCode } from './errors.ts'
import { checkLimit } from './limits.ts'
import type { BinaryFrame, FrameDecoderOptions } from './types.ts'

const OVERSIZE = ['error', 'skip'] as const

const DECODER_KEYS = optionKeys<FrameDecoderOptions>({
  maxFrameBytes: true,
  oversize: true,
  copy: true,
  slices: true,
  types: true,
  allowedFlags: true,
})
const EMPTY = Buffer.alloc(0)

/**
 * A header the fast path did not take, with where its bytes are: `bytes[at..at + 8)` (the input
 * chunk, or the scratch for a header split across chunks), its payload starting at
 * `chunk[start]`. One per decoder, reused.
 */
interface HeaderAt {
  type: number
  length: number
  flags: number
  bytes: Buffer
  at: number
  chunk: Buffer
  start: number
}

/**
 * A frame whose payload spanned chunks, in `slices` mode: the pieces as they arrived, joined
 * into `payload` only if someone reads it.
 */
function slicedFrame(type: number, flags: number, slices: Buffer[]): BinaryFrame {
  let joined: Buffer | undefined
  return {
    type,
    flags,
    slices,
    get payload(): Buffer {
      joined ??= slices.length === 1 ? (slices[0] as Buffer) : Buffer.concat(slices)
      return joined
    },
    set payload(value: Buffer) {
      joined = value
    },
  }
}

/** Big-endian u16 at `i`. */
function u16(b: Buffer, i: number): number {
  return ((b[i] as number) << 8) | (b[i + 1] as number)
}

/**
 * Big-endian u32 at `i`, unsigned: the top byte is multiplied in, since `<< 24` would make
 * 0x80000000 and above negative.
 */
function u32(b: Buffer, i: number): number {
  return (
    (b[i] as number) * 0x1000000 +
    (((b[i + 1] as number) << 16) | ((b[i + 2] as number) << 8) | (b[i + 3] as number))
  )
}

function checkU16Option(value: unknown, name: string): number {
  return intInRange(value ?? Number.NaN, name, 0, 0, 0xffff)
}

/**
 * Decodes `u16 type | u32 length | u16 flags | payload` frames (big-endian) into
 * `{ type, flags, payload }`.
 *
 * It parses in place: a frame inside one input chunk comes out as a view of it (or one copy with
 * `copy: true`); a frame that spans chunks is collected once into a buffer of exactly its size,
 * which grows with the bytes received rather than with the length the peer declared, or, with
 * `slices: true`, handed out as the views of the chunks it lies in (`frame.slices`), not copied.
 * A header split across chunks is kept in an 8-byte scratch. The length is read unsigned and checked
 * against the limit at the header, before any payload is buffered.
 */
export class BinaryFrameDecoder extends ChunkDecoder<BinaryFrame> {
  readonly maxFrameBytes: number
  readonly #skipOversize: boolean
  readonly #copy: boolean
  /** Spanning payloads are handed out as their pieces (`slices` option). */
  readonly #slices: boolean
  /** 1 for each accepted type, when there is an allow-list. */
  readonly #typeAllowed: Uint8Array | undefined
  /** Flag bits that are refused. */
  readonly #badFlags: number
  /** True when some header needs more than the limit check (allow-list or flag mask). */
  readonly #strict: boolean

  readonly #scratch = Buffer.alloc(HEADER_BYTES)
  #scratchFilled = 0
  /** Set by the slow path when the sink returned `false`: stop where it returns. */
  #stopped = false
  readonly #rest = new FrameRemainder()
  /** Type and flags of the frame whose payload `#rest` collects. */
  #type = 0
  #flags = 0
  /** Stream offset of the current frame's header. */
  #headerOffset = 0
  readonly #slow: HeaderAt = {
    type: 0,
    length: 0,
    flags: 0,
    bytes: EMPTY,
    at: 0,
    chunk: EMPTY,
    start: 0,
  }

  constructor(options: FrameDecoderOptions = {}) {
    knownKeys(options, DECODER_KEYS, 'BinaryFrameDecoder')
    super()
    this.maxFrameBytes = checkLimit(options.maxFrameBytes)
    this.#skipOversize = oneOf(options.oversize, 'oversize', OVERSIZE, 'error') === 'skip'
    this.#copy = bool(options.copy, 'copy', false)
    this.#slices = bool(options.slices, 'slices', false)
    if (this.#copy && this.#slices) {
      throw argError(
        'ERR_INVALID_ARG_VALUE',
        'copy and slices cannot both be true: slices are views of the input chunks',
      )
    }
    if (options.types !== undefined) {
      const types = options.types as unknown
      if (typeof (types as Iterable<unknown> | null)?.[Symbol.iterator] !== 'function') {
        throw argError(
          'ERR_INVALID_ARG_TYPE',
          `types must be an iterable of numbers, got ${typeof types}`,
        )
      }
      const allowed = new Uint8Array(MAX_TYPE + 1)
      for (const t of options.types) allowed[checkU16Option(t, 'types[]')] = 1
      this.#typeAllowed = allowed
    }
    this.#badFlags =
      options.allowedFlags === undefined
        ? 0
        : ~checkU16Option(options.allowedFlags, 'allowedFlags') & MAX_FLAGS
    this.#strict = this.#typeAllowed !== undefined || this.#badFlags !== 0
  }

  /** Bytes held for a partial frame: a partial header, or the capacity of a payload's buffer. */
  get bufferedBytes(): number {
    return this.#scratchFilled + this.#rest.bufferedBytes
  }

  protected truncation(offset: number): TruncatedFrameError | undefined {
    const limit = this.maxFrameBytes
    if (this.#scratchFilled > 0) {
      return new TruncatedFrameError(undefined, this.#scratchFilled, { offset, limit })
    }
    return this.#rest.truncation(offset, limit)
  }

  protected override finish(): void {
    this.#rest.clear()
    this.#scratchFilled = 0
    super.finish()
  }

  protected decodeChunk(chunk: Buffer, position: number, sink: DecodeSink<BinaryFrame>): number {
    const n = chunk.length
    const rest = this.#rest
    let i = 0
    if (this.#scratchFilled > 0) {
      // Finish a header that began in an earlier chunk.
      const s = this.#scratch
      const take = Math.min(HEADER_BYTES - this.#scratchFilled, n)
      chunk.copy(s, this.#scratchFilled, 0, take)
      this.#scratchFilled += take
      if (this.#scratchFilled < HEADER_BYTES) return n
      this.#scratchFilled = 0
      i = this.#onHeader(this.#header(u16(s, 0), u32(s, 2), u16(s, 6), s, 0, chunk, take), sink)
      if (i < 0) return this.#stop(n)
      if (this.#stopped) return this.#stop(i)
    } else if (rest.active) {
      i = rest.feed(chunk)
      if (rest.active) return n
      let frame: BinaryFrame | undefined
      if (this.#slices) {
        const slices = rest.takeSlices()
        if (slices !== undefined) frame = slicedFrame(this.#type, this.#flags, slices)
      } else {
        const payload = rest.take()
        if (payload !== undefined) frame = { type: this.#type, flags: this.#flags, payload }
      }
      if (frame !== undefined && sink.frame(frame) === false) return i
    }

    const limit = this.maxFrameBytes
    const strict = this.#strict
    const copy = this.#copy
    while (n - i >= HEADER_BYTES) {
      const type = u16(chunk, i)
      const length = u32(chunk, i + 2)
      const flags = u16(chunk, i + 6)
      const start = i + HEADER_BYTES
      const end = start + length
      if (length <= limit && end <= n && !strict) {
        const payload = copy ? Buffer.from(chunk.subarray(start, end)) : chunk.subarray(start, end)
        i = end
        if (sink.frame({ type, flags, payload }) === false) return i
        continue
      }
      this.#headerOffset = position + i
      i = this.#onHeader(this.#header(type, length, flags, chunk, i, chunk, start), sink)
      if (i < 0) return this.#stop(n)
      if (this.#stopped) return this.#stop(i)
    }
    if (i < n) {
      this.#headerOffset = position + i
      chunk.copy(this.#scratch, 0, i, n)
      this.#scratchFilled = n - i
    }
    return n
  }

  /** Returns `i` with the stop request cleared: the sink asked to stop there, or the chunk is used. */
  #stop(i: number): number {
    this.#stopped = false
    return i
  }

  /** Fills the reused `HeaderAt` for the slow path (no allocation per header). */
  #header(
    type: number,
    length: number,
    flags: number,
    bytes: Buffer,
    at: number,
    chunk: Buffer,
    start: number,
  ): HeaderAt {
    const h = this.#slow
    h.type = type
    h.length = length
    h.flags = flags
    h.bytes = bytes
    h.at = at
    h.chunk = chunk
    h.start = start
    return h
  }

  /**
   * Everything but the common case. Returns where scanning goes on, or -1 when this chunk is
   * used up (or the stream is over).
   */
  #onHeader(h: HeaderAt, sink: DecodeSink<BinaryFrame>): number {
    const { type, length, flags, chunk, start } = h
    if (length > this.maxFrameBytes) {
      const error = this.#error(
        BinaryFramesErrorCode.FRAME_TOO_LARGE,
        `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`,
        this.#skipOversize,
        h,
      )
      if (!this.#skipOversize) {
        this.fail(sink, error)
        return -1
      }
      this.#stopped = sink.error(error) === false
      return this.#rest.skip(length, chunk, start)
    }
    // Recoverable: the frame is intact, so it is skipped exactly and the stream goes on.
    let refused: [code: string, what: string] | undefined
    if (this.#typeAllowed !== undefined && this.#typeAllowed[type] === 0) {
      refused = [
        BinaryFramesErrorCode.UNKNOWN_TYPE,
        `frame of unknown type 0x${type.toString(16).padStart(4, '0')}`,
      ]
    } else if ((flags & this.#badFlags) !== 0) {
      refused = [
        BinaryFramesErrorCode.RESERVED_FLAGS,
        `frame with reserved flag bits 0x${(flags & this.#badFlags).toString(16).padStart(4, '0')} set`,
      ]
    }
    if (refused !== undefined) {
      const [code, what] = refused
      this.#stopped = sink.error(this.#error(code, what, true, h)) === false
      return this.#rest.skip(length, chunk, start)
    }
    const n = chunk.length
    const end = start + length
    if (end <= n) {
      const payload = this.#copy
        ? Buffer.from(chunk.subarray(start, end))
        : chunk.subarray(start, end)
      this.#stopped = sink.frame({ type, flags, payload }) === false
      return end
    }
    this.#rest.collect(length, chunk, start, this.#slices)
    this.#type = type
    this.#flags = flags
    return -1
  }

  #error(code: string, what: string, recoverable: boolean, h: HeaderAt): ProtocolError {
    const { type, length, chunk, start } = h
    // The header and what follows it, in hex: `47 45 54 20 …` is an HTTP client on our port,
    // `16 03 01 …` a TLS ClientHello.
    const header = h.bytes.subarray(h.at, h.at + HEADER_BYTES)
    const bytes =
      h.bytes === chunk
        ? chunk.subarray(h.at, start + 8)
        : Buffer.concat([header, chunk.subarray(start, start + 8)])
    const offset = this.#headerOffset
    return new ProtocolError(
      code,
      `${what} at offset ${offset} (type 0x${type.toString(16).padStart(4, '0')}; first bytes: ${hexPreview(bytes)})`,
      { recoverable, declaredLength: length, limit: this.maxFrameBytes, offset },
    )
  }
}
