import type { ProtocolError } from '../errors.ts'
import { argError } from '../validate.ts'

/**
 * Where a decoder delivers what it finds, in stream order. A callback pair rather than a
 * returned array: measured on 64-byte frames, the array per chunk cost more than it gave,
 * and a recoverable error must land between the frames around it, not after all of them.
 */
export interface DecodeSink<T> {
  /**
   * One frame. Returning `false` asks the decoder to stop right after it (the caller's budget for
   * this turn is spent): `push` then returns how many bytes of the chunk it used, and the caller
   * pushes the rest later. Anything else, `undefined` included, means go on.
   */
  frame(value: T): unknown
  /**
   * Called with every error. After one with `recoverable: false` the decoder is finished.
   * Returning `false` after a recoverable one stops the decoder as `frame` does.
   */
  error(error: ProtocolError): unknown
}

/**
 * A synchronous, I/O-free frame decoder: bytes in, frames out. Every adapter in this folder
 * drives one of these, so a codec is written once and runs on sockets, Node streams, async
 * iterators and Web streams alike.
 *
 * `push` and `end` never throw for any input bytes: problems go to `sink.error`. An exception
 * thrown by the sink itself propagates to the caller and finishes the decoder, since the rest of
 * that chunk was never looked at.
 */
export interface SyncDecoder<T> {
  /**
   * Decodes one chunk. Input after a fatal error or after `end()` is ignored. Returns the number
   * of bytes of the chunk it used: less than its length only when the sink returned `false`, and
   * then the decoder stopped on a frame boundary and expects the rest of the chunk next (a
   * decoder that cannot stop returns nothing, which means all of it).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a decoder that cannot stop returns nothing
  push(chunk: BinaryInput, sink: DecodeSink<T>): number | void
  /** Marks the end of input: a partial frame is reported as `ERR_TRUNCATED_FRAME`. */
  end(sink: DecodeSink<T>): void
}

/** What a decoder accepts. Strings are refused: their byte encoding would be a guess. */
export type BinaryInput = Uint8Array | ArrayBuffer | DataView

/**
 * The input as a Buffer over the same memory, without copying. Honours `byteOffset`, since
 * Node's pooled buffers and `subarray` views rarely start at 0.
 */
export function toBuffer(input: BinaryInput): Buffer {
  if (Buffer.isBuffer(input)) return input
  if (ArrayBuffer.isView(input))
    return Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  if (input instanceof ArrayBuffer) return Buffer.from(input)
  throw argError(
    'ERR_INVALID_ARG_TYPE',
    `expected a Uint8Array, ArrayBuffer or DataView, got ${typeof input}`,
  )
}

/** The outcome of decoding a whole input at once: for tests, tools and small payloads. */
export interface DecodeResult<T> {
  frames: T[]
  errors: ProtocolError[]
}

/** Feeds every chunk to `decoder`, then ends it (unless `end` is false), and collects the results. */
export function decodeAll<T>(
  decoder: SyncDecoder<T>,
  chunks: Iterable<BinaryInput>,
  options: { end?: boolean } = {},
): DecodeResult<T> {
  const result: DecodeResult<T> = { frames: [], errors: [] }
  const sink: DecodeSink<T> = {
    frame: (value) => {
      result.frames.push(value)
    },
    error: (error) => {
      result.errors.push(error)
    },
  }
  for (const chunk of chunks) decoder.push(chunk, sink)
  if (options.end !== false) decoder.end(sink)
  return result
}
