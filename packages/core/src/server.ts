import { type AddressInfo, Server as NetServer, type Socket } from 'node:net'
import { type SecureContextOptions, Server as TlsServer } from 'node:tls'
import { bind } from './bind.ts'
import {
  type CertificateWatcher,
  createCertificateWatcher,
  type WatchCertificatesOptions,
} from './certificate-watcher.ts'
import {
  DEFAULT_BACKLOG,
  DEFAULT_GRACE_PERIOD,
  DEFAULT_HOST,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_KEEP_ALIVE_INITIAL_DELAY,
  DEFAULT_PORT,
  ServerProtocol,
} from './constants.ts'
import { ErrorCode, VerbTcpError } from './errors.ts'
import { mergeOptions, validateOptions } from './options.ts'
import { asError, report } from './report.ts'
import { type CertificateInfo, checkSecureContext } from './secure-context.ts'
import type {
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
import { argError, MAX_TIMER_MS, number, object } from './validate.ts'

interface Handlers {
  onAdmit: AdmitHandler[]
  onConnection: ConnectionHandler[]
  onError: ErrorHandler[]
  onListening: ListeningHandler[]
  onClose: CloseHandler[]
  onTimeout: TimeoutHandler[]
}

interface Shutdown {
  result: Promise<CloseResult>
  /** Moves the deadline earlier; never later. */
  shorten(gracePeriod: number): void
}

export interface HandleSignalsOptions extends CloseOptions {
  /** @default ['SIGTERM', 'SIGINT'] */
  signals?: NodeJS.Signals[]
  /** Called on each handled signal: `'graceful'` for the first, `'force'` for a later one. */
  onSignal?: (signal: NodeJS.Signals, phase: 'graceful' | 'force') => void
  /** Called with 0 and the close result once the server has closed. @default process.exit */
  exit?: (code: number, result: CloseResult) => void
}

/**
 * A TCP or TLS server with verb's API. Create it with {@link createServer}.
 *
 * Handlers given in options and handlers added with `onConnection(fn)` & co. all run, options
 * first. Options are read when they are needed: listen-time ones (`port`, `host`, `backlog`,
 * `exclusive`, `allowHalfOpen`, `pauseOnConnect`, `tls`) at `listen`, per-connection ones when a
 * connection arrives, handlers when their event happens.
 */
export class TcpServer {
  readonly protocol: 'tcp' | 'tls'
  #options: ServerOptions = {}
  readonly #handlers: Handlers = {
    onAdmit: [],
    onConnection: [],
    onError: [],
    onListening: [],
    onClose: [],
    onTimeout: [],
  }
  #server: NetServer | undefined
  /** Sockets handed to the application. */
  readonly #sockets = new Set<TCPSocket>()
  /** Every accepted TCP connection, including TLS ones still in their handshake. */
  readonly #raw = new Set<Socket>()
  #shutdown: Shutdown | undefined

  constructor(protocol: 'tcp' | 'tls' = 'tcp') {
    this.protocol = protocol
  }

  /** Merges `options` into the current ones (the `tcp` block key by key) and returns `this`. */
  withOptions(options: ServerOptions): this {
    validateOptions(options)
    this.#options = mergeOptions(this.#options, options)
    return this
  }

  /** The merged options, as the server will read them. */
  get options(): Readonly<ServerOptions> {
    return this.#options
  }

  /** Adds an admission check that runs before `onConnection`; return `false` to refuse. */
  onAdmit(handler: AdmitHandler): this {
    return this.#add('onAdmit', handler)
  }
  /**
   * Removes an admission check added with `onAdmit` (a pool or throttler being detached).
   * Returns false when it was not registered.
   */
  offAdmit(handler: AdmitHandler): boolean {
    const list = this.#handlers.onAdmit
    const index = list.indexOf(handler)
    if (index === -1) return false
    list.splice(index, 1)
    return true
  }
  onConnection(handler: ConnectionHandler): this {
    return this.#add('onConnection', handler)
  }
  onError(handler: ErrorHandler): this {
    return this.#add('onError', handler)
  }
  onListening(handler: ListeningHandler): this {
    return this.#add('onListening', handler)
  }
  onClose(handler: CloseHandler): this {
    return this.#add('onClose', handler)
  }
  onTimeout(handler: TimeoutHandler): this {
    return this.#add('onTimeout', handler)
  }

  /** Live connections (read-only view): iterate it, or read `size`. */
  get connections(): ReadonlySet<TCPSocket> {
    return this.#sockets
  }

  get listening(): boolean {
    return this.#server?.listening ?? false
  }

  /** The bound address, or `null` before `listen` has bound a socket and after `close`. */
  address(): AddressInfo | null {
    const address = this.#server?.address()
    return typeof address === 'object' && address !== null ? address : null
  }

  /**
   * Starts listening and resolves with the bound address. Arguments beat options, options beat
   * the defaults (port 0, host `127.0.0.1`). For an IP-literal host the socket is bound before
   * this returns, so `address()` is usable at once. A busy port rejects with `EADDRINUSE`.
   */
  listen(port?: number, host?: string): Promise<AddressInfo> {
    if (port !== undefined || host !== undefined) {
      validateOptions({ ...(port !== undefined && { port }), ...(host !== undefined && { host }) })
    }
    if (this.#server || this.#shutdown) {
      return Promise.reject(
        new VerbTcpError(
          ErrorCode.SERVER_STATE,
          'listen() called on a server that is already running',
        ),
      )
    }
    const tcp = this.#tcp()
    if (this.protocol === 'tls' && !tcp.tls) {
      return Promise.reject(
        argError(
          'ERR_INVALID_ARG_VALUE',
          'A TLS server needs tcp.tls options with at least a key and certificate',
        ),
      )
    }
    const base = {
      allowHalfOpen: tcp.allowHalfOpen ?? false,
      pauseOnConnect: tcp.pauseOnConnect ?? false,
    }
    const server: NetServer =
      this.protocol === 'tls' ? new TlsServer({ ...tcp.tls, ...base }) : new NetServer(base)
    this.#server = server

    server.on('connection', (socket: Socket) => this.#track(socket))
    if (server instanceof TlsServer) {
      server.on('secureConnection', (socket: TCPSocket) => this.#accept(socket))
      server.on('tlsClientError', (error: Error, socket: TCPSocket) =>
        report(this.#list('onError'), error, socket, true),
      )
    } else {
      server.on('connection', (socket: Socket) => this.#accept(socket))
    }

    const listening = new ListenPromise<AddressInfo>((resolve, reject) => {
      const onStartError = (error: Error) => {
        this.#server = undefined
        const handlers = this.#list('onError')
        // Reported once: to whoever awaits the promise, or else to onError, and then the promise
        // is marked handled so the verb docs' un-awaited `app.listen(8080)` cannot crash the process.
        if (!listening.observed && handlers.length > 0) {
          report(handlers, error, undefined, false)
          listening.catch(() => {})
        }
        reject(error)
      }
      server.once('error', onStartError)
      server.once('listening', () => {
        server.off('error', onStartError)
        server.on('error', (error) => report(this.#list('onError'), error, undefined, false))
        const address = this.address() as AddressInfo
        this.#each('onListening', (handler) => handler(address))
        resolve(address)
      })
    })
    bind(server, {
      port: port ?? this.#options.port ?? DEFAULT_PORT,
      host: host ?? this.#options.host ?? DEFAULT_HOST,
      backlog: tcp.backlog ?? DEFAULT_BACKLOG,
      exclusive: tcp.exclusive ?? false,
    })
    return listening
  }

  /**
   * Replaces the TLS certificate and key (or any other `tls.createSecureContext` option given,
   * merged into `tcp.tls`) of this TLS server without closing it: connections accepted from now
   * on get the new context, open ones keep theirs. The options are checked first, and on failure
   * this throws a `VerbTcpError` (`ERR_TLS_KEY_MISMATCH`, `ERR_TLS_CONTEXT_INVALID`) and the old
   * context keeps serving. Before `listen`, it sets what `listen` will use. Returns the new
   * certificate's details (`fingerprint256`, `subject`, `validFrom`, `validTo`).
   */
  setSecureContext(tls: SecureContextOptions): CertificateInfo | undefined {
    return this.#setSecureContext(tls, 'the TLS options')
  }

  #setSecureContext(tls: SecureContextOptions, what: string): CertificateInfo | undefined {
    if (tls === undefined) {
      throw argError('ERR_INVALID_ARG_TYPE', 'setSecureContext expects TLS options, got undefined')
    }
    object(tls, 'tls', undefined)
    if (this.protocol !== 'tls') {
      throw new VerbTcpError(
        ErrorCode.PROTOCOL_UNSUPPORTED,
        'setSecureContext() is for TLS servers: createServer(ServerProtocol.TLS)',
      )
    }
    const merged = mergeOptions(this.#tcp().tls ?? {}, tls as object)
    const info = checkSecureContext(merged, what)
    if (this.#server instanceof TlsServer) this.#server.setSecureContext(merged)
    this.#options = mergeOptions(this.#options, { tcp: { tls: merged } })
    return info
  }

  /**
   * Serves the certificate and key in these files, and puts new ones in service when the files
   * change (or when `reload()` is called, for SIGHUP), without closing anything: each new pair
   * is checked first, a bad or mismatched one is reported to `onError` (or the server's
   * `onError`) with a coded error and the old one stays. Throws if the files are not a valid
   * pair now. Call it before or after `listen`.
   */
  watchCertificates(options: WatchCertificatesOptions): CertificateWatcher {
    return createCertificateWatcher(options, {
      apply: (tls, what) => this.#setSecureContext(tls, what),
      report: (error) => report(this.#list('onError'), error, undefined, false),
    })
  }

  /**
   * Graceful shutdown: stop accepting at once, `notify` every live connection, wait up to
   * `gracePeriod` ms for connections to end by themselves, destroy the rest, then resolve.
   * Calling it again while closing returns the same promise, and a smaller `gracePeriod`
   * (such as 0) moves the deadline earlier.
   */
  close(options: CloseOptions = {}): Promise<CloseResult> {
    const gracePeriod = number(options.gracePeriod, 'gracePeriod', DEFAULT_GRACE_PERIOD, 0)
    if (this.#shutdown) {
      this.#shutdown.shorten(gracePeriod)
      return this.#shutdown.result
    }
    const server = this.#server
    if (!server) return Promise.resolve({ closed: 0, forced: 0 })
    this.#shutdown = this.#startShutdown(server, gracePeriod, options.notify)
    return this.#shutdown.result
  }

  /**
   * Opts in to SIGTERM and SIGINT running `close(options)` and then exiting with code 0.
   * A second signal while closing destroys the remaining connections at once. The listeners
   * are removed when the server closes, whatever closed it.
   */
  handleSignals(options: HandleSignalsOptions = {}): this {
    const {
      signals = ['SIGTERM', 'SIGINT'],
      exit = (code) => process.exit(code),
      onSignal: notifySignal,
      ...close
    } = options
    this.#unhandleSignals()
    const onSignal = (signal: NodeJS.Signals) => {
      const phase = this.#shutdown ? 'force' : 'graceful'
      try {
        notifySignal?.(signal, phase)
      } catch (thrown) {
        report(this.#list('onError'), asError(thrown), undefined, false)
      }
      if (this.#shutdown) {
        this.#shutdown.shorten(0)
        return
      }
      void this.close(close).then((result) => exit(0, result))
    }
    for (const signal of signals) process.on(signal, onSignal)
    this.#unhandleSignals = () => {
      for (const signal of signals) process.off(signal, onSignal)
      this.#unhandleSignals = () => {}
    }
    return this
  }

  /** Removes the listeners `handleSignals` added; runs when the server has closed, however. */
  #unhandleSignals: () => void = () => {}

  #startShutdown(server: NetServer, gracePeriod: number, notify: CloseOptions['notify']): Shutdown {
    let closed = 0
    let forced = 0
    const counted = new Set<Socket>()
    for (const socket of this.#raw) {
      socket.once('close', () => {
        if (!counted.has(socket)) closed++
      })
    }
    const forceAll = () => {
      for (const socket of this.#raw) {
        if (counted.has(socket) || socket.destroyed) continue
        counted.add(socket)
        forced++
        socket.destroy()
      }
    }
    let timer: NodeJS.Timeout | undefined
    let deadline = Number.POSITIVE_INFINITY
    const shorten = (ms: number) => {
      const next = Date.now() + ms
      if (next >= deadline) return
      deadline = next
      clearTimeout(timer)
      if (ms === 0) forceAll()
      // Node fires a timer over 2^31-1 ms at once; a grace period that long means "wait".
      else timer = setTimeout(forceAll, Math.min(ms, MAX_TIMER_MS))
    }

    // Done when the listener is closed and every socket has emitted 'close' (the server's own
    // 'close' can come a tick before the last socket's), so counts and `connections` are final.
    // Not `events.once`: it rejects on 'error', and a client that answers the goodbye with a
    // reset is a connection that ended, not a failed shutdown.
    const sockets = [...this.#raw, ...this.#sockets].map((socket) =>
      socket.closed ? undefined : new Promise((r) => socket.once('close', r)),
    )
    const result = Promise.all([new Promise((r) => server.close(r)), ...sockets]).then(() => {
      clearTimeout(timer)
      this.#server = undefined
      this.#shutdown = undefined
      this.#unhandleSignals()
      this.#each('onClose', (handler) => handler())
      return { closed, forced }
    })
    if (notify) {
      for (const socket of this.#sockets) this.#guard(socket, () => notify(socket))
    }
    shorten(gracePeriod)
    return { result, shorten }
  }

  #track(socket: Socket): void {
    this.#raw.add(socket)
    socket.once('close', () => this.#raw.delete(socket))
  }

  #accept(socket: TCPSocket): void {
    const tcp = this.#tcp()
    // Without a listener a socket 'error' throws from the event loop and kills the process.
    socket.on('error', (error) => report(this.#list('onError'), error, socket, true))
    if (!this.#admit(socket)) return
    this.#sockets.add(socket)
    socket.once('close', () => this.#sockets.delete(socket))

    socket.setNoDelay(tcp.noDelay ?? true)
    socket.setKeepAlive(
      tcp.keepAlive ?? true,
      tcp.keepAliveInitialDelay ?? DEFAULT_KEEP_ALIVE_INITIAL_DELAY,
    )
    setHighWaterMarks(socket, tcp.readableHighWaterMark, tcp.writableHighWaterMark)
    const timeout = tcp.timeout ?? DEFAULT_IDLE_TIMEOUT
    if (timeout > 0) {
      socket.setTimeout(timeout)
      socket.on('timeout', () => this.#onIdle(socket))
    }

    for (const handler of this.#list('onConnection')) {
      if (socket.destroyed) break
      this.#guard(socket, () => handler(socket))
    }
  }

  /** False when an admission handler refused the socket (or failed); the socket is then ended. */
  #admit(socket: TCPSocket): boolean {
    for (const handler of this.#list('onAdmit')) {
      let verdict: unknown
      this.#guard(socket, () => {
        verdict = handler(socket)
      })
      if (socket.destroyed) return false
      if (verdict === false) {
        socket.end()
        // A refused peer that never reads must not hold the socket open.
        socket.setTimeout(REFUSED_LINGER, () => socket.destroy())
        socket.resume()
        return false
      }
    }
    return true
  }

  #onIdle(socket: TCPSocket): void {
    let keep = false
    for (const handler of this.#list('onTimeout')) {
      this.#guard(socket, () => {
        if (handler(socket) === true) keep = true
      })
    }
    // Node does not re-arm the idle timer after it fires; a kept socket gets a fresh period.
    if (keep && !socket.destroyed) socket.setTimeout(this.#tcp().timeout ?? DEFAULT_IDLE_TIMEOUT)
    else socket.destroy()
  }

  /** Runs application code for one socket: a throw or rejection goes to onError and ends that socket only. */
  #guard(socket: TCPSocket, fn: () => unknown): void {
    const fail = (thrown: unknown) => {
      report(this.#list('onError'), asError(thrown), socket, false)
      socket.destroy()
    }
    try {
      const result = fn()
      if (result instanceof Promise) result.catch(fail)
    } catch (thrown) {
      fail(thrown)
    }
  }

  /** Runs server-level handlers; a throw goes to onError. */
  #each<K extends 'onListening' | 'onClose'>(
    kind: K,
    call: (handler: Handlers[K][number]) => void,
  ) {
    for (const handler of this.#list(kind)) {
      try {
        call(handler)
      } catch (thrown) {
        report(this.#list('onError'), asError(thrown), undefined, false)
      }
    }
  }

  #tcp(): TcpOptions {
    return this.#options.tcp ?? {}
  }

  #list<K extends keyof Handlers>(kind: K): Handlers[K] {
    const fromOptions = this.#tcp()[kind]
    return (
      fromOptions ? [fromOptions, ...this.#handlers[kind]] : this.#handlers[kind]
    ) as Handlers[K]
  }

  #add<K extends keyof Handlers>(kind: K, handler: Handlers[K][number]): this {
    if (typeof handler !== 'function') {
      throw argError('ERR_INVALID_ARG_TYPE', `${kind} expects a function, got ${typeof handler}`)
    }
    ;(this.#handlers[kind] as unknown[]).push(handler)
    return this
  }
}

/** A promise that knows whether anyone has subscribed to it (`then`, `catch`, `await`). */
class ListenPromise<T> extends Promise<T> {
  static override get [Symbol.species]() {
    return Promise
  }
  observed = false
  // biome-ignore lint/suspicious/noThenProperty: subclassing Promise, on purpose
  override then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.observed = true
    return super.then(onFulfilled, onRejected)
  }
}

/**
 * Node's net.Server takes one `highWaterMark` for both directions; the verb docs' options set them
 * separately, so the stream states are adjusted right after accept, before any byte is read.
 */
function setHighWaterMarks(socket: TCPSocket, readable?: number, writable?: number): void {
  type State = { highWaterMark: number }
  const s = socket as unknown as { _readableState: State; _writableState: State }
  if (readable !== undefined) s._readableState.highWaterMark = readable
  if (writable !== undefined) s._writableState.highWaterMark = writable
}

/** Ms a refused connection may take to read its notice and close before it is destroyed. */
const REFUSED_LINGER = 5_000

const SERVED = new Set<string>([ServerProtocol.TCP, ServerProtocol.TLS])

/**
 * Creates a TCP (default) or TLS server. Other verb protocols are not served here: they throw a
 * `VerbTcpError` with code `ERR_PROTOCOL_UNSUPPORTED`.
 *
 * @example
 * ```ts
 * const app = createServer(ServerProtocol.TCP).withOptions({
 *   tcp: { onConnection: (socket) => socket.end('hello\n') },
 * })
 * const { port } = await app.listen(8080)
 * ```
 */
export function createServer(protocol: ServerProtocol | string = ServerProtocol.TCP): TcpServer {
  if (!SERVED.has(protocol)) {
    throw new VerbTcpError(
      ErrorCode.PROTOCOL_UNSUPPORTED,
      `@verb-tcp/core serves only ServerProtocol.TCP and ServerProtocol.TLS, not ${JSON.stringify(protocol)}. ` +
        'Use the verb package for HTTP, WebSocket, gRPC and UDP servers.',
    )
  }
  return new TcpServer(protocol as 'tcp' | 'tls')
}
