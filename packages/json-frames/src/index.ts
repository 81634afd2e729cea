/**
 * `@verb-tcp/json-frames`: messages framed as `<byte length>\n<json>`, the verb docs'
 * `MessageHandler` made correct: byte lengths, strict UTF-8, canonical headers, a size limit,
 * recoverable errors, backpressure and no crash for want of an `'error'` listener.
 *
 * @example
 * ```ts
 * import { createServer } from '@verb-tcp/core'
 * import { MessageHandler } from '@verb-tcp/json-frames'
 *
 * const app = createServer().withOptions({
 *   port: 8080,
 *   tcp: {
 *     onConnection: (socket) => {
 *       const messages = new MessageHandler(socket)
 *       messages.on('message', (message) => {
 *         messages.sendMessage({ type: 'response', echo: message.data })
 *       })
 *     },
 *   },
 * })
 * await app.listen()
 * ```
 * @packageDocumentation
 */
export {
  attachMessages,
  createMessageStream,
  createMessageTransform,
  iterateMessages,
} from './adapters.ts'
export { DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_BYTES_LIMIT } from './constants.ts'
export { encodeFrame, encodeMessage } from './encoder.ts'
export { JsonFramesErrorCode } from './errors.ts'
export { FrameDecoder } from './frame-decoder.ts'
export { MessageDecoder } from './message-decoder.ts'
export {
  MessageHandler,
  type MessageHandlerEvents,
  type MessageHandlerOptions,
} from './message-handler.ts'
export type {
  EncoderOptions,
  FrameDecoderOptions,
  MessageDecoderOptions,
  RawFrameDecoderOptions,
} from './types.ts'
