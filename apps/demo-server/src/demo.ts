import { once } from 'node:events'
import { mkdirSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type {
  CertificateWatcher,
  CloseResult,
  ReloadOutcome,
  TCPSocket,
  TcpServer,
} from '@verb-tcp/core'
import { FileReceiver, TCPFileTransferServer } from '@verb-tcp/file-transfer'
import { encodeMessage } from '@verb-tcp/json-frames'
import { type Attachment, attach, ConnectionPool, ConnectionThrottler } from '@verb-tcp/pool'
import type { RoomsAdapter } from '@verb-tcp/rooms'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { ServerConfig } from './args.ts'
import { BinaryServer } from './binary-server.ts'
import { createDemoServer, sayGoodbye } from './echo.ts'
import { ReadScheduler } from './fair-reads.ts'
import { createHttpServer } from './http-server.ts'
import { MessageErrorCode } from './message-errors.ts'
import { MessageServer } from './message-server.ts'
import { createMetrics, type PortView } from './metrics.ts'
import { createRoomsHub } from './rooms-hub.ts'
import { Stats } from './stats.ts'

/** The docs' file-transfer message types, served on the message port. */
const FILE_TYPES = new Set(['file_start', 'file_chunk', 'file_end', 'file_cancel'])

export type PortName = 'echo' | 'message' | 'binary'
export interface BoundPorts {
  echo: number
  message: number
  binary: number
  http?: number
}

export interface DemoOptions {
  config: ServerConfig
  logger: Logger
  /** Prefix of connection ids, unique per process when several share rooms (workers, Redis). */
  idPrefix?: string
  /** Serve the HTTP port here (false in cluster workers: the primary serves it). */
  http?: boolean
  /** Carries rooms, broadcasts and private messages to other servers (`--redis`). */
  roomsAdapter?: RoomsAdapter
}

/** Every port of the demo, assembled from the packages, and one way to start and stop them. */
export class Demo {
  readonly stats = new Stats()
  readonly registry: Registry
  readonly echo: TcpServer
  readonly messages: MessageServer
  readonly binary: BinaryServer
  readonly pools: Record<PortName, ConnectionPool>
  readonly admissions: Record<PortName, Attachment>
  readonly receiver: FileReceiver
  readonly files: TCPFileTransferServer
  readonly #options: DemoOptions
  #http: Server | undefined
  #certificates: CertificateWatcher | undefined
  #closing: Promise<CloseResult> | undefined

  constructor(options: DemoOptions) {
    this.#options = options
    const { config, logger } = options
    const stats = this.stats
    const protocol = config.tlsCert === undefined ? 'tcp' : 'tls'
    const pool = () =>
      new ConnectionPool({
        maxConnections: config.maxConnections,
        idleTimeoutMs: config.idleTimeout,
        maxBufferedBytes: config.maxBufferedBytes,
        slowReader: config.slowReader,
      })
    this.pools = { echo: pool(), message: pool(), binary: pool() }
    for (const [port, p] of Object.entries(this.pools)) {
      p.on('remove', (_id, reason) => {
        if (reason === 'idle' || reason === 'slow')
          logger.info({ port, reason }, 'connection closed by the pool')
      })
    }

    // One receiver for both upload paths and every worker: the directory is shared, and the
    // receiver's lock files keep one writer per transfer across processes.
    mkdirSync(config.uploadDir, { recursive: true })
    this.receiver = new FileReceiver(config.uploadDir)
    this.files = new TCPFileTransferServer(config.uploadDir, { receiver: this.receiver })
    // Counted when the receiver answers, not when a start arrives: a refused start (the name
    // exists) opens nothing, and would otherwise be a transfer that never ends.
    this.receiver.on('start', (transfer) => {
      stats.transfersStarted++
      logger.info(transfer, transfer.resumed ? 'upload resumed' : 'upload started')
    })
    this.receiver.on('refused', (error, request) => {
      stats.transfersRefused++
      logger.info(
        {
          code: error.wireCode,
          reason: error.message,
          name: request.name,
          ...(request.transferId !== undefined && { transferId: request.transferId }),
        },
        'upload refused',
      )
    })
    this.receiver.on('complete', (transfer) => {
      stats.transfersCompleted++
      stats.transferBytes += transfer.size
      logger.info(
        {
          transferId: transfer.transferId,
          name: transfer.name,
          size: transfer.size,
          sha256: transfer.sha256,
        },
        'upload complete',
      )
    })
    this.receiver.on('failed', (transferId, error) => {
      stats.transfersFailed++
      logger.info({ transferId, code: error.code }, 'upload failed')
    })

    // One budget of work per event-loop turn for every connection on every port.
    const reads = new ReadScheduler()

    this.echo = createDemoServer({ logger: logger.child({ port: 'echo' }), protocol })
    const prefix = options.idPrefix ?? ''
    this.messages = new MessageServer({
      logger,
      stats,
      protocol,
      pool: this.pools.message,
      connectionId: (id) => `${prefix}${id}`,
      maxFrameBytes: config.maxFrameBytes,
      hub: (clients) =>
        createRoomsHub(clients, {
          stats,
          logger,
          maxBufferedBytes: config.maxBufferedBytes,
          slowReader: config.slowReader,
          pool: this.pools.message,
          ...(options.roomsAdapter && { adapter: options.roomsAdapter }),
          charge: (bytes) => reads.charge(bytes),
        }),
      reads,
      extra: (client, message) => {
        if (!FILE_TYPES.has(message.type)) return false
        void this.files.handleFileTransfer(client.socket, message)
        return true
      },
    })
    this.binary = new BinaryServer({
      logger,
      stats,
      protocol,
      maxFrameBytes: config.maxFrameBytes,
      receiver: this.receiver,
      reads,
    })

    // One throttler for every port: a client address is limited however it connects. With
    // --ip-rate 0 the window is 1 ms wide, so only --max-per-ip counts.
    const throttler =
      config.ipRate > 0 || config.maxPerIp > 0
        ? new ConnectionThrottler({
            maxPerWindow: config.ipRate > 0 ? config.ipRate : 1000,
            windowMs: config.ipRate > 0 ? config.ipWindow : 1,
            ...(config.maxPerIp > 0 && { maxConcurrent: config.maxPerIp }),
          })
        : undefined
    // Each refusal notice is written in the codec its port speaks, so a client's decoder reads it.
    const notices: Record<
      PortName,
      [full: string | Buffer | undefined, throttled: string | Buffer | undefined]
    > = {
      echo: ['Server full, try again later.\n', 'Too many connections from your address.\n'],
      message: [
        encodeMessage({
          type: 'error',
          code: MessageErrorCode.SERVER_FULL,
          message: 'server full, try again later',
        }),
        encodeMessage({
          type: 'error',
          code: MessageErrorCode.TOO_MANY_CONNECTIONS,
          message: 'too many connections from your address',
        }),
      ],
      binary: [undefined, undefined],
    }
    const apps: Record<PortName, TcpServer> = {
      echo: this.echo,
      message: this.messages.app,
      binary: this.binary.app,
    }
    const admissions = {} as Record<PortName, Attachment>
    for (const name of ['echo', 'message', 'binary'] as const) {
      const app = apps[name]
      // The pool's idle sweep closes idle connections; core's own idle timer is turned off so
      // there is one rule, the one --idle-timeout sets.
      app.withOptions({ tcp: { timeout: 0 } })
      // The codecs on the message and binary ports charge every frame to the same budget.
      if (name === 'echo') app.onConnection((socket) => reads.add(socket))
      if (name !== 'echo') {
        app.onError((error, socket) => {
          if (socket)
            logger.warn(
              { port: name, err: error, remoteAddress: socket.remoteAddress },
              'connection error',
            )
          else logger.error({ port: name, err: error }, 'server error')
        })
      }
      const [fullNotice, throttledNotice] = notices[name]
      admissions[name] = attach(app, {
        pool: this.pools[name],
        ...(throttler && { throttler }),
        ...(fullNotice !== undefined && { fullNotice }),
        ...(throttledNotice !== undefined && { throttledNotice }),
      })
    }
    this.admissions = admissions

    const view = (port: PortName): PortView => ({
      port,
      sockets: () => apps[port].connections,
      admission: () => admissions[port].counters,
      pool: () => this.pools[port].counters,
    })
    this.registry = createMetrics({
      stats,
      ports: [view('echo'), view('message'), view('binary')],
      rooms: () => ({ rooms: this.messages.hub.rooms(), members: this.messages.hub.members() }),
      ...(throttler && { throttler: () => throttler.counters }),
    })
  }

  get apps(): TcpServer[] {
    return [this.echo, this.messages.app, this.binary.app]
  }

  /** Connections open on the three TCP ports. */
  get connections(): number {
    return this.apps.reduce((n, app) => n + app.connections.size, 0)
  }

  /**
   * With `--tls-cert`: the certificate files are read (and checked) here, then watched; a
   * renewed pair is put in service on every TLS port without closing anything.
   */
  #watchCertificates(): void {
    const { config, logger } = this.#options
    if (config.tlsCert === undefined || config.tlsKey === undefined) return
    const [first, ...others] = this.apps as [TcpServer, ...TcpServer[]]
    this.#certificates = first.watchCertificates({
      cert: config.tlsCert,
      key: config.tlsKey,
      // The one watcher's checked pair goes to the other ports as it is.
      onReload: (certificate) => {
        const tls = first.options.tcp?.tls
        if (tls) for (const app of others) app.setSecureContext(tls)
        logger.info(
          { fingerprint256: certificate.fingerprint256, validTo: certificate.validTo },
          'certificate reloaded',
        )
      },
      onError: (error) =>
        logger.error(
          { err: error, code: error.code },
          'certificate reload failed; the old one stays',
        ),
    })
    const tls = first.options.tcp?.tls
    if (tls) for (const app of others) app.setSecureContext(tls)
    logger.info(
      {
        fingerprint256: this.#certificates.certificate.fingerprint256,
        validTo: this.#certificates.certificate.validTo,
      },
      'serving TLS',
    )
  }

  /** Re-reads the `--tls-cert`/`--tls-key` files now (SIGHUP); `undefined` without TLS. */
  reloadCertificates(): ReloadOutcome | undefined {
    return this.#certificates?.reload()
  }

  /** Binds every port (rejects, with everything closed again, if one cannot be bound). */
  async listen(): Promise<BoundPorts> {
    const { config, logger } = this.#options
    try {
      this.#watchCertificates()
      const [echo, message, binary] = await Promise.all([
        this.echo.listen(config.port, config.host),
        this.messages.app.listen(config.messagePort, config.host),
        this.binary.app.listen(config.binaryPort, config.host),
      ])
      const ports: BoundPorts = {
        echo: (echo as AddressInfo).port,
        message: (message as AddressInfo).port,
        binary: (binary as AddressInfo).port,
      }
      if (this.#options.http !== false) {
        this.#http = createHttpServer({
          logger,
          metrics: async () => ({
            text: await this.registry.metrics(),
            contentType: this.registry.contentType,
          }),
          health: () => ({ ok: this.#closing === undefined, connections: this.connections }),
        })
        this.#http.listen(config.httpPort, config.host)
        await once(this.#http, 'listening')
        ports.http = (this.#http.address() as AddressInfo).port
      }
      return ports
    } catch (error) {
      await this.close(0).catch(() => {})
      throw error
    }
  }

  /**
   * Graceful close: every port stops accepting, each client gets its port's goodbye
   * (`server_shutdown` on the message port), and connections still open after `gracePeriod` ms
   * are destroyed. Calling it again with 0 cuts the wait short.
   */
  close(gracePeriod: number): Promise<CloseResult> {
    if (this.#closing !== undefined) {
      for (const app of this.apps) void app.close({ gracePeriod }).catch(() => {})
      return this.#closing
    }
    const notify: Record<PortName, (socket: TCPSocket) => void> = {
      echo: sayGoodbye,
      message: (socket) => this.messages.notifyShutdown(socket, gracePeriod),
      binary: (socket) => this.binary.notifyShutdown(socket),
    }
    const closeOne = (app: TcpServer, name: PortName) =>
      app.listening || app.connections.size > 0
        ? app.close({ gracePeriod, notify: notify[name] }).catch((error: unknown): CloseResult => {
            this.#options.logger.warn({ err: error, port: name }, 'close failed')
            return { closed: 0, forced: app.connections.size }
          })
        : Promise.resolve({ closed: 0, forced: 0 })
    const http = this.#http
    this.#certificates?.close()
    // Uploads in flight are told `shutting_down` and kept for resume before the ports close.
    const uploads = this.receiver.close().catch(() => {})
    this.#closing = Promise.all([
      uploads,
      closeOne(this.echo, 'echo'),
      closeOne(this.messages.app, 'message'),
      closeOne(this.binary.app, 'binary'),
    ]).then(async (results) => {
      // The HTTP port stays open through the grace period, so /healthz can answer 503
      // `shutting_down` (and /metrics show the clients leaving); it closes last.
      if (http) {
        const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()))
        http.closeAllConnections()
        await httpClosed
      }
      for (const pool of Object.values(this.pools)) pool.close()
      await this.messages.hub.close().catch(() => {})
      let closed = 0
      let forced = 0
      for (const r of results) {
        if (r && typeof r === 'object') {
          closed += r.closed
          forced += r.forced
        }
      }
      return { closed, forced }
    })
    return this.#closing
  }
}
