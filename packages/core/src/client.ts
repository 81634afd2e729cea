import { EventEmitter } from 'node:events'
import { connect as netConnect, type Socket } from 'node:net'
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls'
import { backoffDelay, type RetryOptions, resolveRetry } from './backoff.ts'
import { ErrorCode, VerbTcpError } from './errors.ts'
import type { TCPSocket } from './types.ts'
import { argError, bool, intInRange, knownKeys, ms, object, string } from './validate.ts'

export interface ConnectOptions {
  /** @default '127.0.0.1' */
  host?: string
  port: number
  /** `true` for TLS with default options, or `tls.connect` options (`ca`, `servername`, …). */
  tls?: boolean | ConnectionOptions
  retry?: RetryOptions
  /** An attempt that has not connected after this many ms fails; `0` disables. @default 10000 */
  connectTimeout?: number
  /** @default true */
  noDelay?: boolean
  /** @default true, with a 60000 ms initial delay */
  keepAlive?: boolean
  keepAliveInitialDelay?: number
}

export interface ReconnectingClientEvents {
  /** Every established connection, the first and each reconnection. Attach codecs here. */
  connect: [socket: TCPSocket]
  /** A connection that was established has dropped; `error` is why, if it failed. */
  disconnect: [error: Error | undefined]
  /**
   * A retry is scheduled: `attempt` is the retry's number, from 1 after a drop or a failed
   * first connection; `delay` is how long it waits first.
   */
  reconnecting: [info: { attempt: number; delay: number; error: Error | undefined }]
  /** A connection came back after a drop or failed attempts. */
  reconnected: [socket: TCPSocket]
  /** `maxAttempts` connection attempts in a row failed; the client is closed. */
  'give-up': [error: VerbTcpError<'ERR_RECONNECT_GAVE_UP'>]
  /** The client has stopped for good (after `close()` or giving up). */
  close: []
}

/**
 * A client connection that comes back: after a drop or a failed attempt it retries with capped
 * exponential backoff and full jitter, until `maxAttempts` connection attempts in a row have
 * failed. The first connection is an attempt like any other; a drop is not a failed attempt, so
 * with `maxAttempts: 5` a client makes at most 5 attempts with no server at all, and at most 5
 * after a drop.
 * It never emits `'error'` (so nothing can crash for want of a listener): failures arrive as
 * `'disconnect'`, `'reconnecting'` and `'give-up'`. Writes go to the current `socket`; while
 * disconnected there is none, so nothing is silently queued or dropped.
 */
export class ReconnectingClient extends EventEmitter<ReconnectingClientEvents> {
  readonly #options: ConnectOptions
  readonly #retry: Required<RetryOptions>
  #socket: TCPSocket | undefined
  /** The socket of the attempt in progress, until it connects or fails. */
  #dialling: Socket | undefined
  /** Connection attempts that failed since the last good connection. */
  #failures = 0
  /** Retries scheduled since the last good connection (the backoff's exponent). */
  #attempt = 0
  #everConnected = false
  #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor(options: ConnectOptions) {
    super()
    validateConnectOptions(options)
    this.#options = options
    this.#retry = resolveRetry(options.retry)
    this.#dial()
  }

  /** The connected socket, or `undefined` while (re)connecting or after close. */
  get socket(): TCPSocket | undefined {
    return this.#socket
  }

  get connected(): boolean {
    return this.#socket !== undefined
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Resolves with the connected socket, now or at the next connection; rejects if the client stops first. */
  ready(): Promise<TCPSocket> {
    if (this.#socket) return Promise.resolve(this.#socket)
    if (this.#closed) return Promise.reject(this.#closedError())
    return new Promise((resolve, reject) => {
      const onConnect = (socket: TCPSocket) => {
        this.off('close', onClose)
        resolve(socket)
      }
      const onClose = () => {
        this.off('connect', onConnect)
        reject(this.#closedError())
      }
      this.once('connect', onConnect)
      this.once('close', onClose)
    })
  }

  /**
   * Stops retrying, abandons an attempt in progress and ends the current connection; resolves
   * once its socket has closed. What we wrote is still delivered; whatever the peer sends from
   * now on (or sent and nobody read) is discarded, so unread data cannot hold the close.
   */
  close(): Promise<void> {
    const socket = this.#socket
    this.#dialling?.destroy()
    this.#stop()
    if (!socket || socket.closed) return Promise.resolve()
    return new Promise((resolve) => {
      socket.once('close', () => resolve())
      socket.end()
      // A paused socket with unread data never reaches the peer's end (and so never closes):
      // read to the end, discarding.
      socket.resume()
      // A peer that never acknowledges the end must not hold close() forever.
      const timer = setTimeout(() => socket.destroy(), 5_000)
      socket.once('close', () => clearTimeout(timer))
    })
  }

  #dial(): void {
    const o = this.#options
    const host = o.host ?? '127.0.0.1'
    const secure = o.tls !== undefined && o.tls !== false
    const socket: Socket = secure
      ? tlsConnect({ host, port: o.port, ...(o.tls === true ? {} : o.tls) })
      : netConnect({ host, port: o.port })
    const connectTimeout = o.connectTimeout ?? 10_000
    let failure: Error | undefined
    let established = false
    this.#dialling = socket

    socket.on('error', (error) => {
      failure = error
    })
    if (connectTimeout > 0) {
      socket.setTimeout(connectTimeout, () => {
        if (established) return
        failure = Object.assign(new Error(`connect to ${host}:${o.port} timed out`), {
          code: 'ETIMEDOUT',
        })
        socket.destroy()
      })
    }
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      established = true
      if (this.#dialling === socket) this.#dialling = undefined
      socket.setTimeout(0)
      if (this.#closed) {
        socket.destroy()
        return
      }
      socket.setNoDelay(o.noDelay ?? true)
      socket.setKeepAlive(o.keepAlive ?? true, o.keepAliveInitialDelay ?? 60_000)
      const again = this.#everConnected || this.#attempt > 0
      this.#socket = socket
      this.#attempt = 0
      this.#failures = 0
      this.#everConnected = true
      this.emit('connect', socket)
      if (again) this.emit('reconnected', socket)
    })
    socket.once('close', () => {
      if (this.#dialling === socket) this.#dialling = undefined
      if (established && this.#socket === socket) {
        this.#socket = undefined
        this.emit('disconnect', failure)
      }
      if (!established) this.#failures++
      if (!this.#closed) this.#schedule(failure)
    })
  }

  #schedule(error: Error | undefined): void {
    if (this.#failures >= this.#retry.maxAttempts) {
      const giveUp = new VerbTcpError(
        ErrorCode.RECONNECT_GAVE_UP,
        `gave up after ${this.#failures} failed ${this.#failures === 1 ? 'attempt' : 'attempts'} in a row to reach ${this.#options.host ?? '127.0.0.1'}:${this.#options.port}`,
        { cause: error, limit: this.#retry.maxAttempts },
      )
      this.emit('give-up', giveUp)
      this.#stop()
      return
    }
    this.#attempt++
    const delay = backoffDelay(this.#attempt, this.#retry)
    this.emit('reconnecting', { attempt: this.#attempt, delay, error })
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (!this.#closed) this.#dial()
    }, delay)
  }

  #stop(): void {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#timer)
    this.#socket = undefined
    this.emit('close')
  }

  #closedError(): VerbTcpError {
    return new VerbTcpError(ErrorCode.CLIENT_CLOSED, 'the client was closed before it connected')
  }
}

const CONNECT_KEYS: (keyof ConnectOptions)[] = [
  'host',
  'port',
  'tls',
  'retry',
  'connectTimeout',
  'noDelay',
  'keepAlive',
  'keepAliveInitialDelay',
]

/** Bad options throw here, in the caller's stack, not later from a reconnect timer. */
function validateConnectOptions(options: ConnectOptions): void {
  if (options?.port === undefined) {
    throw argError('ERR_INVALID_ARG_TYPE', 'connect needs options with a port, got none')
  }
  knownKeys(options, CONNECT_KEYS, 'connect')
  string(options.host, 'host', '')
  intInRange(options.port, 'port', 0, 1, 65535)
  if (typeof options.tls !== 'boolean') object(options.tls, 'tls', undefined)
  ms(options.connectTimeout, 'connectTimeout', 0)
  bool(options.noDelay, 'noDelay', true)
  bool(options.keepAlive, 'keepAlive', true)
  ms(options.keepAliveInitialDelay, 'keepAliveInitialDelay', 0)
}

/**
 * Connects to a TCP or TLS server and keeps reconnecting after drops.
 *
 * @example
 * ```ts
 * const client = connect({ host: '127.0.0.1', port: 8080, retry: { maxAttempts: Infinity } })
 * client.on('connect', (socket) => socket.write('hello\n'))
 * client.on('give-up', (err) => logger.error({ code: err.code }, 'server unreachable'))
 * // later
 * await client.close()
 * ```
 */
export function connect(options: ConnectOptions): ReconnectingClient {
  return new ReconnectingClient(options)
}
