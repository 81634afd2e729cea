/**
 * `@verb-tcp/core/codec`: the plumbing every verb-tcp codec is built on, for people who write
 * their own: a synchronous decoder contract, the bookkeeping for frames that span chunks, and
 * the adapters that turn one decoder into a socket handler, a Transform, an async iterator or a
 * Web stream. Applications that only compose the shipped codecs do not need this entry.
 *
 * @example
 * ```ts
 * import { attachDecoder } from '@verb-tcp/core/codec'
 *
 * // Any SyncDecoder (json-frames', binary-frames', your own) reads a socket the same way:
 * attachDecoder(socket, decoder, {
 *   frame: (frame) => handle(frame),
 *   error: (err) => log(err.code), // coded ProtocolErrors; the socket is never crashed
 * })
 * ```
 * @packageDocumentation
 */
export { type CodecAdapters, codecAdapters } from './adapters.ts'
export {
  type AttachedDecoder,
  type AttachHandlers,
  type AttachOptions,
  attachDecoder,
  DEFAULT_MAX_FRAMES_PER_TURN,
} from './attach.ts'
export { ChunkDecoder } from './chunk-decoder.ts'
export {
  type BinaryInput,
  type DecodeResult,
  type DecodeSink,
  decodeAll,
  type SyncDecoder,
  toBuffer,
} from './decoder.ts'
export { type CodecErrorOutcome, routeCodecError } from './error-policy.ts'
export { CodecErrorCode, hexPreview, TruncatedFrameError } from './errors.ts'
export { FrameRemainder } from './frame-remainder.ts'
export { type ByteSource, type IterateOptions, iterateFrames } from './iterate.ts'
export { checkFrameLimit, DEFAULT_MAX_FRAME_BYTES } from './limits.ts'
export { PayloadBuffer, PRESIZE_LIMIT } from './payload-buffer.ts'
export { type PayloadSlice, payloadSlice } from './payload-slice.ts'
export { MIN_SLICE_BYTES, PayloadSlices } from './payload-slices.ts'
export { SocketCodecHandler, type SocketCodecHandlerEvents } from './socket-handler.ts'
export {
  createDecoderTransform,
  type DecoderTransformOptions,
  type RecoverableErrorOption,
} from './transform.ts'
export {
  DEFAULT_UNITS_PER_TURN,
  sharedTurnBudget,
  TurnBudget,
  type TurnWaiter,
} from './turn-budget.ts'
export { createDecoderStream, type DecoderStreamOptions } from './web-stream.ts'
