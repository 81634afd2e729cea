import type { AddressInfo, Socket } from 'node:net'
import type { TLSSocket, TlsOptions } from 'node:tls'

/** The socket handed to handlers: the real `net.Socket`, or a `tls.TLSSocket` for TLS servers. */
export type TCPSocket = Socket | TLSSocket

/** May be async: a rejection is handled like a throw. Its return value is otherwise ignored. */
export type ConnectionHandler = (socket: TCPSocket) => unknown
/** `socket` is present when the error concerns one connection (its handler threw, or it failed). */
export type ErrorHandler = (error: Error, socket?: TCPSocket) => void
export type ListeningHandler = (address: AddressInfo) => void
export type CloseHandler = () => void
/**
 * Called when a connection has been idle for `timeout` ms. Return `true` to keep it open
 * (its idle timer starts again); anything else lets the server destroy it.
 */
export type TimeoutHandler = (socket: TCPSocket) => unknown

/**
 * Runs for every accepted connection before any `onConnection` handler, to let it in or not.
 * Return `false` to refuse it: the server then ends the socket (after anything the handler
 * wrote, such as a "server full" line) and the application never sees it. Anything else admits.
 * Connection limits and per-IP throttling (`@verb-tcp/pool`) plug in here.
 */
export type AdmitHandler = (socket: TCPSocket) => unknown

export interface TcpOptions {
  /** Pending-connection queue length given to `listen(2)`. @default 511 */
  backlog?: number
  /** Do not share the listening handle with cluster workers. @default false */
  exclusive?: boolean
  /** Keep the writable side open after the peer ends its side. @default false */
  allowHalfOpen?: boolean
  /** Hand sockets to `onConnection` paused; call `socket.resume()` to read. @default false */
  pauseOnConnect?: boolean
  /** Bytes a connection reads ahead before pausing the kernel socket. @default Node's (16 KiB) */
  readableHighWaterMark?: number
  /** Buffered bytes at which `socket.write()` starts returning `false`. @default Node's (16 KiB) */
  writableHighWaterMark?: number
  /** Turn on TCP keep-alive probes so dead peers are noticed. @default true */
  keepAlive?: boolean
  /** Idle ms before the first keep-alive probe. @default 60000 */
  keepAliveInitialDelay?: number
  /** Disable Nagle's algorithm (send small writes at once). @default true */
  noDelay?: boolean
  /** Idle ms before a connection times out and is destroyed; `0` disables. @default 300000 */
  timeout?: number
  /** TLS options (`key`, `cert`, `ca`, `requestCert`, …) for `ServerProtocol.TLS`. */
  tls?: TlsOptions
  onAdmit?: AdmitHandler
  onConnection?: ConnectionHandler
  onError?: ErrorHandler
  onListening?: ListeningHandler
  onClose?: CloseHandler
  onTimeout?: TimeoutHandler
}

export interface ServerOptions {
  /** @default 0 (a free port) */
  port?: number
  /** @default '127.0.0.1' */
  host?: string
  tcp?: TcpOptions
}

export interface CloseOptions {
  /** Ms to wait for connections to end by themselves before destroying them. @default 30000 */
  gracePeriod?: number
  /** Called once for every live connection when closing starts: the place for a goodbye message. */
  notify?: (socket: TCPSocket) => void
}

export interface CloseResult {
  /** Connections that ended by themselves within the grace period. */
  closed: number
  /** Connections destroyed when the grace period ran out. */
  forced: number
}
