/**
 * `@verb-tcp/core`: the TCP server described by verb's docs, built on `node:net` and
 * `node:tls`, with graceful shutdown, a reconnecting client and the error class every
 * verb-tcp package shares.
 *
 * @example
 * ```ts
 * import { createServer, ServerProtocol } from '@verb-tcp/core'
 *
 * const app = createServer(ServerProtocol.TCP).withOptions({
 *   port: 8080,
 *   tcp: {
 *     onConnection: (socket) => {
 *       socket.write('Welcome to TCP server!\n')
 *       socket.on('data', (data) => socket.write(`Echo: ${data}`))
 *     },
 *   },
 * })
 * await app.listen()
 * app.handleSignals() // SIGTERM/SIGINT: graceful close, then exit 0
 * ```
 * @packageDocumentation
 */
export { backoffDelay, DEFAULT_RETRY, type RetryOptions } from './backoff.ts'
export {
  type ConnectOptions,
  connect,
  ReconnectingClient,
  type ReconnectingClientEvents,
} from './client.ts'
export {
  type AttachedDecoder,
  type AttachHandlers,
  type AttachOptions,
  attachDecoder,
} from './codec/attach.ts'
export { ChunkDecoder } from './codec/chunk-decoder.ts'
export {
  type BinaryInput,
  type DecodeResult,
  type DecodeSink,
  decodeAll,
  type SyncDecoder,
  toBuffer,
} from './codec/decoder.ts'
export { type CodecErrorOutcome, routeCodecError } from './codec/error-policy.ts'
export { CodecErrorCode, hexPreview, TruncatedFrameError } from './codec/errors.ts'
export { FrameRemainder } from './codec/frame-remainder.ts'
export { type ByteSource, type IterateOptions, iterateFrames } from './codec/iterate.ts'
export { checkFrameLimit, DEFAULT_MAX_FRAME_BYTES } from './codec/limits.ts'
export { PayloadBuffer, PRESIZE_LIMIT } from './codec/payload-buffer.ts'
export { SocketCodecHandler, type SocketCodecHandlerEvents } from './codec/socket-handler.ts'
export {
  createDecoderTransform,
  type DecoderTransformOptions,
  type RecoverableErrorOption,
} from './codec/transform.ts'
export { createDecoderStream, type DecoderStreamOptions } from './codec/web-stream.ts'
export {
  DEFAULT_BACKLOG,
  DEFAULT_GRACE_PERIOD,
  DEFAULT_HOST,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_KEEP_ALIVE_INITIAL_DELAY,
  DEFAULT_PORT,
  ServerProtocol,
} from './constants.ts'
export {
  type CoreErrorCode,
  ErrorCode,
  isProtocolError,
  ProtocolError,
  type ProtocolErrorOptions,
} from './errors.ts'
export { createServer, type HandleSignalsOptions, TcpServer } from './server.ts'
export type {
  AdmitHandler,
  CloseHandler,
  CloseOptions,
  CloseResult,
  ConnectionHandler,
  ErrorHandler,
  ListeningHandler,
  ServerOptions,
  TCPSocket,
  TcpOptions,
  TimeoutHandler,
} from './types.ts'
