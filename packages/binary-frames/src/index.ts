/**
 * `@verb-tcp/binary-frames`: frames with an 8-byte big-endian header (`u16 type | u32 length |
 * u16 flags`) then the payload, the verb docs' `BinaryProtocolHandler` made real: a size limit on by
 * default and checked at the header, memory that grows only with the bytes received, zero-copy
 * payloads where they are free, heartbeats answered, unknown types surfaced as an event, errors
 * that cannot crash the process, and backpressure.
 *
 * @example
 * ```ts
 * import { createServer } from '@verb-tcp/core'
 * import { BinaryProtocolHandler, DATA } from '@verb-tcp/binary-frames'
 *
 * const app = createServer().withOptions({
 *   port: 9000,
 *   tcp: {
 *     onConnection: (socket) => {
 *       const handler = new BinaryProtocolHandler(socket) // answers HEARTBEAT with PONG "pong"
 *       handler.on(DATA, (frame) => handler.sendBinaryMessage(DATA, frame.payload, frame.flags))
 *       handler.on('unknown', (frame) => logger.warn({ type: frame.type }, 'unknown type'))
 *     },
 *   },
 * })
 * await app.listen()
 * ```
 * @packageDocumentation
 */
export {
  attachBinaryFrames,
  createBinaryFrameStream,
  createBinaryFrameTransform,
  iterateBinaryFrames,
} from './adapters.ts'
export {
  COALESCE_MAX_BYTES,
  DATA,
  DEFAULT_MAX_FRAME_BYTES,
  FILE_TRANSFER,
  HEADER_BYTES,
  HEARTBEAT,
  MAX_FLAGS,
  MAX_FRAME_BYTES_LIMIT,
  MAX_TYPE,
  MessageType,
  PONG,
  PONG_PAYLOAD,
} from './constants.ts'
export { encodeFrame, encodeFrameParts, encodeHeader, writeFrame } from './encoder.ts'
export { BinaryFramesErrorCode } from './errors.ts'
export { BinaryFrameDecoder } from './frame-decoder.ts'
export {
  BinaryProtocolHandler,
  type BinaryProtocolHandlerEvents,
  type BinaryProtocolHandlerOptions,
} from './protocol-handler.ts'
export type { BinaryFrame, EncoderOptions, FrameDecoderOptions } from './types.ts'
