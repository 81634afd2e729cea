import { createServer, type ProtocolError, type TCPSocket, type TcpServer } from '@verb-tcp/core'
import { encodeMessage, MessageHandler } from '@verb-tcp/json-frames'
import type { ConnectionPool } from '@verb-tcp/pool'
import type { Logger } from 'pino'
import type { ReadScheduler } from './fair-reads.ts'
import { MessageErrorCode } from './message-errors.ts'
import { CLIENT_TYPES } from './message-types.ts'
import { key, type Stats } from './stats.ts'

const PORT = 'message'
/** What setting up one connection is charged against the turn's budget, in bytes. */
const ACCEPT_COST = 2048
/** Room for the fields a reply adds (`type`, `timestamp`, ...) to a message of the largest size. */
const REPLY_OVERHEAD = 1024

// biome-ignore lint/suspicious/noExplicitAny: a client's message is untrusted JSON, checked field by field
type Incoming = Record<string, any>

/** One connection on the message port. */
export interface Client {
  readonly id: string
  readonly socket: TCPSocket
  readonly handler: MessageHandler<Incoming>
  readonly rooms: Set<string>
  readonly log: Logger
  /**
   * Messages (and recoverable framing errors) read but held for a later turn, in order (the
   * turn's work budget was used): each answered when its turn comes.
   */
  backlog: (() => void)[]
  /** The framing error that ended the connection, for its `client disconnected` line. */
  fatal?: string
}

/**
 * Where the message port's rooms, broadcasts and private messages go: `@verb-tcp/rooms` in
 * this process, and, with an adapter (Redis), on every server sharing it.
 */
export interface RoomHub {
  /** A new connection. */
  add(client: Client): void
  /** Undefined when the client is a member afterwards, else why not (a code of ours). */
  join(client: Client, room: string): ProtocolError | undefined
  /** False when the client was not in the room. */
  leave(client: Client, room: string): boolean
  /** Leaves every room, when the connection closes. */
  leaveAll(client: Client): void
  /** Sends `message` to every member of `room` but `except`; returns the refusal, if refused. */
  toRoom(room: string, message: object, except: string): ProtocolError | undefined
  /** Sends an encoded `frame` to every connection except `except`, on every node. */
  toAll(frame: Buffer, except?: string): void
  /** Sends an encoded `frame` to one connection, wherever it is; false if it is surely nowhere. */
  toClient(id: string, frame: Buffer): boolean
  rooms(): number
  members(): number
  close(): Promise<void>
}

export interface MessageServerOptions {
  logger: Logger
  stats: Stats
  pool: ConnectionPool
  /** Turns the pool's id into the id clients are told (unique across processes). */
  connectionId: (poolId: string) => string
  maxFrameBytes: number
  hub: (clients: ReadonlyMap<string, Client>) => RoomHub
  /** Other message types (file transfer), tried before `unknown type`; true if handled. */
  extra?: (client: Client, message: Incoming) => boolean
  /** The per-turn work budget (see `ReadScheduler`); without it, every message is handled at once. */
  reads?: ReadScheduler
  /** `'tls'` serves TLS. @default 'tcp' */
  protocol?: 'tcp' | 'tls'
}

/**
 * The docs' `TCPMessageServer` on json-frames: `ping`, `broadcast`, `private`, `join_room`, plus
 * `leave_room`, `room_message` and coded `error` replies. Each connection is told its id in a
 * `welcome` message.
 */
export class MessageServer {
  readonly app: TcpServer
  readonly clients = new Map<string, Client>()
  readonly hub: RoomHub
  readonly #options: MessageServerOptions
  readonly #bySocket = new WeakMap<TCPSocket, Client>()

  constructor(options: MessageServerOptions) {
    this.#options = options
    this.hub = options.hub(this.clients)
    this.app = createServer(options.protocol).onConnection((socket) => this.#accept(socket))
  }

  /**
   * A burst of a thousand connects is accepted by libuv in one go; setting each one up (codec,
   * rooms, welcome, log line) is what costs. Past the turn's budget, a new connection waits,
   * paused, for a later turn.
   */
  #accept(socket: TCPSocket): void {
    const reads = this.#options.reads
    if (!reads?.exhausted) {
      reads?.charge(ACCEPT_COST)
      this.#serve(socket)
      return
    }
    socket.pause()
    reads.later(() => {
      if (socket.destroyed) return
      reads.charge(ACCEPT_COST)
      this.#serve(socket)
      socket.resume()
    })
  }

  #serve(socket: TCPSocket): void {
    const { logger, pool, stats, maxFrameBytes } = this.#options
    const poolId = pool.idOf(socket) ?? String(socket.remotePort)
    const id = this.#options.connectionId(poolId)
    const log = logger.child({ port: PORT, connectionId: id })
    const handler = new MessageHandler<Incoming>(socket, {
      maxFrameBytes,
      // A pong is the ping plus a timestamp: a ping of the largest size must still be answered.
      maxSendBytes: maxFrameBytes + REPLY_OVERHEAD,
    })
    const client: Client = { id, socket, handler, rooms: new Set(), log, backlog: [] }
    this.clients.set(id, client)
    this.#bySocket.set(socket, client)
    this.hub.add(client)
    log.info(
      { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort },
      'client connected',
    )

    handler.on('message', (message) => this.#admit(client, message))
    handler.on('error', (error: ProtocolError) => {
      // Bad JSON and the like is answered in its place among the requests. After a fatal error
      // the handler ends the connection as soon as this listener returns, so whatever requests
      // still wait in the backlog are answered now, before the error.
      if (!error.recoverable) {
        for (const work of client.backlog.splice(0)) work()
        this.#frameError(client, error)
      } else if (client.backlog.length > 0) {
        this.#later(client, () => this.#frameError(client, error))
      } else {
        this.#frameError(client, error)
      }
    })
    socket.once('close', (hadError: boolean) => {
      this.clients.delete(id)
      this.hub.leaveAll(client)
      stats.count(stats.closedBytesIn, PORT, socket.bytesRead)
      stats.count(stats.closedBytesOut, PORT, socket.bytesWritten)
      log.info(
        {
          bytesRead: socket.bytesRead,
          bytesWritten: socket.bytesWritten,
          hadError: hadError || client.fatal !== undefined,
          ...(client.fatal !== undefined && { error: client.fatal }),
        },
        'client disconnected',
      )
    })
    this.send(client, { type: 'welcome', connectionId: id })
  }

  /** Sends one message to one client, counted by type. */
  send(client: Client, message: { type: string; [field: string]: unknown }): void {
    if (client.socket.writableEnded) return
    const { stats } = this.#options
    stats.count(stats.messagesOut, key(PORT, message.type))
    client.handler.sendMessage(message)
  }

  /**
   * Every reply to a request is written here and now, in the order the requests came; the
   * request's `id`, if it had one, comes back.
   */
  #reply(client: Client, request: Incoming, reply: { type: string; [field: string]: unknown }) {
    if (request?.id !== undefined) reply.id = request.id
    this.send(client, reply)
  }

  #error(client: Client, code: string, message: string, request: Incoming): void {
    const { stats } = this.#options
    stats.count(stats.errors, key(PORT, code))
    if (client.log.isLevelEnabled('debug')) client.log.debug({ code }, 'request refused')
    this.#reply(client, request, { type: 'error', code, message })
  }

  /** `ERR_BAD_REQUEST` unless `ok`; returns `ok`. */
  #check(client: Client, request: Incoming, ok: boolean, problem: string): boolean {
    if (!ok) this.#error(client, MessageErrorCode.BAD_REQUEST, problem, request)
    return ok
  }

  /** A frame that was not a message: logged, counted, answered; a fatal one ends the connection. */
  #frameError(client: Client, error: ProtocolError): void {
    const { stats } = this.#options
    stats.count(stats.errors, key(PORT, error.code))
    client.log.info({ code: error.code, recoverable: error.recoverable }, 'protocol error')
    if (!error.recoverable) client.fatal = error.code
    this.send(client, { type: 'error', code: error.code, message: error.message })
  }

  /**
   * One chunk read can hold a thousand messages, and one broadcast is a write to every client:
   * once this turn's work budget is used, messages wait in the client's backlog (its socket
   * stops reading) and are handled, in order, on the next turns.
   */
  #admit(client: Client, message: Incoming): void {
    const reads = this.#options.reads
    if (!reads || (client.backlog.length === 0 && !reads.exhausted)) {
      this.#onMessage(client, message)
      return
    }
    this.#later(client, () => this.#onMessage(client, message))
  }

  #later(client: Client, work: () => void): void {
    const reads = this.#options.reads as ReadScheduler
    client.backlog.push(work)
    if (client.backlog.length === 1) {
      client.socket.pause()
      reads.later(() => this.#drain(client))
    }
  }

  #drain(client: Client): void {
    const reads = this.#options.reads as ReadScheduler
    if (client.socket.destroyed) {
      client.backlog.length = 0
      return
    }
    while (client.backlog.length > 0 && !reads.exhausted) {
      ;(client.backlog.shift() as () => void)()
    }
    if (client.backlog.length > 0) {
      client.socket.pause()
      reads.later(() => this.#drain(client))
    } else if (!client.socket.writableNeedDrain) {
      client.socket.resume()
    }
  }

  #onMessage(client: Client, message: Incoming): void {
    const { stats } = this.#options
    const type: unknown = message?.type
    stats.count(
      stats.messagesIn,
      key(PORT, typeof type === 'string' && CLIENT_TYPES.has(type) ? type : 'other'),
    )
    if (
      message === null ||
      typeof message !== 'object' ||
      Array.isArray(message) ||
      typeof type !== 'string'
    ) {
      this.#error(
        client,
        MessageErrorCode.BAD_REQUEST,
        'a message is a JSON object with a string "type"',
        message,
      )
      return
    }
    // One object per message only when someone reads debug lines.
    if (client.log.isLevelEnabled('debug')) client.log.debug({ type }, 'message')
    switch (type) {
      case 'ping':
        // The ping's own fields come back (an id, a client timestamp), so a client can match
        // replies to requests. The ping itself becomes the pong (it is ours, parsed for this
        // call only): a copy made with `{ ...message }` survived young collections, about 1 MB
        // promoted per scavenge under ping-pong load, which doubled each scavenge's pause.
        message.type = 'pong'
        message.timestamp = Date.now()
        this.send(client, message as { type: string })
        return
      case 'broadcast': {
        if (!this.#checkData(client, message, 'a broadcast')) return
        const frame = this.#frame({
          type: 'broadcast',
          from: client.id,
          data: message.data,
          timestamp: Date.now(),
        })
        this.hub.toAll(frame, client.id)
        return
      }
      case 'private': {
        if (
          !this.#check(
            client,
            message,
            typeof message.target === 'string',
            '"target" must be a connection id (a string)',
          ) ||
          !this.#checkData(client, message, 'a private message')
        )
          return
        const frame = this.#frame({
          type: 'private',
          from: client.id,
          data: message.data,
          timestamp: Date.now(),
        })
        if (!this.hub.toClient(message.target, frame)) {
          this.#error(
            client,
            MessageErrorCode.UNKNOWN_TARGET,
            `no connection ${JSON.stringify(message.target)}`,
            message,
          )
        }
        return
      }
      case 'join_room': {
        if (!this.#checkRoom(client, message)) return
        // The room name's rules (length, control characters, the reserved `$` prefix) are the
        // rooms package's, with the limits of `message-errors.ts`.
        const refused = this.hub.join(client, message.room)
        if (refused) this.#error(client, refused.code, refused.message, message)
        else this.#reply(client, message, { type: 'joined', room: message.room })
        return
      }
      case 'leave_room':
        if (!this.#checkRoom(client, message)) return
        if (this.hub.leave(client, message.room))
          this.#reply(client, message, { type: 'left', room: message.room })
        else
          this.#error(
            client,
            MessageErrorCode.NOT_IN_ROOM,
            `not in room ${JSON.stringify(message.room)}`,
            message,
          )
        return
      case 'room_message': {
        if (
          !this.#checkRoom(client, message) ||
          !this.#checkData(client, message, 'a room message')
        )
          return
        // A non-member's message is refused by the rooms package (`ERR_NOT_IN_ROOM`).
        const refused = this.hub.toRoom(
          message.room,
          {
            type: 'room_message',
            room: message.room,
            from: client.id,
            data: message.data,
            timestamp: Date.now(),
          },
          client.id,
        )
        if (refused) this.#error(client, refused.code, refused.message, message)
        return
      }
      default:
        if (this.#options.extra?.(client, message)) return
        this.#error(client, MessageErrorCode.UNKNOWN_TYPE, `Unknown message type: ${type}`, message)
    }
  }

  /** JSON has no `undefined`: a message without `data` would reach the others as `undefined`. */
  #checkData(client: Client, request: Incoming, what: string): boolean {
    return this.#check(client, request, request.data !== undefined, `${what} needs "data"`)
  }

  #checkRoom(client: Client, request: Incoming): boolean {
    return this.#check(client, request, typeof request.room === 'string', '"room" must be a string')
  }

  /** Encodes once for many receivers, and counts it as sent (once per delivery, by the hub). */
  #frame(message: { type: string; [field: string]: unknown }): Buffer {
    return encodeMessage(message, { maxFrameBytes: this.#options.maxFrameBytes + REPLY_OVERHEAD })
  }

  /** The shutdown notice: `server_shutdown`, then our side of the connection ends. */
  notifyShutdown(socket: TCPSocket, gracePeriod: number): void {
    if (socket.writableEnded) return
    const client = this.#bySocket.get(socket)
    if (client) this.send(client, { type: 'server_shutdown', gracePeriod })
    socket.end()
    // A socket paused for backpressure would never read the client's FIN.
    socket.resume()
  }
}
