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
export type {
  CertificateWatcher,
  ReloadOutcome,
  WatchCertificatesOptions,
} from './certificate-watcher.ts'
export {
  type ConnectOptions,
  connect,
  ReconnectingClient,
  type ReconnectingClientEvents,
} from './client.ts'
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
  VerbTcpError,
  type VerbTcpErrorOptions,
} from './errors.ts'
export { type CertificateInfo, checkSecureContext } from './secure-context.ts'
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
