import { EventEmitter } from 'node:events'
import { ProtocolError, type TCPSocket } from '@verb-tcp/core'
import {
  argError,
  bool,
  fn,
  knownKeys,
  limit,
  ms,
  oneOf,
  positiveInt,
} from '@verb-tcp/core/validate'
import {
  InProcessAdapter,
  type MemberInfo,
  type MembersResult,
  type RoomMember,
  type RoomsAdapter,
  type RoomsAdapterHost,
} from './adapter.ts'
import {
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_MEMBERS_PER_ROOM,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_ROOM_NAME_BYTES,
  DEFAULT_MAX_ROOMS_PER_CLIENT,
  DEFAULT_MEMBERS_TIMEOUT_MS,
  DEFAULT_RESERVED_PREFIX,
} from './constants.ts'
import { defaultEncoder } from './default-encoder.ts'
import { RoomsErrorCode } from './errors.ts'
import { checkRoomName } from './room-name.ts'
import type {
  AuthorizeHook,
  ClientInfo,
  Encoder,
  RoomManagerEvents,
  RoomManagerOptions,
  RoomStats,
} from './types.ts'

const OPTION_KEYS = [
  'encoder',
  'adapter',
  'authorize',
  'maxRoomNameBytes',
  'reservedPrefix',
  'maxRoomsPerClient',
  'maxMembersPerRoom',
  'maxMessageBytes',
  'maxBufferedBytes',
  'slowMember',
  'nonMemberBroadcast',
  'replyErrors',
  'membersTimeoutMs',
  'notices',
] as const

/** One added client. Also what `getRoomMembers` hands out, typed as `ClientInfo`. */
class Client implements ClientInfo, MemberInfo {
  readonly rooms = new Set<string>()
  /** This turn's messages, written in one `socket.write` at the end of the turn. */
  pending: Uint8Array | Uint8Array[] | undefined = undefined
  pendingBytes = 0
  /** The socket's `writableLength` when this turn's first message was queued. */
  socketBuffered = 0
  removed = false
  constructor(
    readonly connectionId: string,
    readonly socket: TCPSocket,
    readonly metadata: unknown,
    readonly joinedAt: number,
    readonly onGone: () => void,
  ) {}
}

type Room = Map<string, Client>

/**
 * Rooms of connected clients, the verb docs' `TCPRoomManager` made fast and safe: one encode
 * per broadcast, one socket write per member per event-loop turn, slow members capped, coded
 * refusals that leave state unchanged, and an adapter for running on several nodes.
 */
export class TCPRoomManager extends EventEmitter<RoomManagerEvents> {
  readonly #clients = new Map<string, Client>()
  readonly #rooms = new Map<string, Room>()
  readonly #encode: Encoder
  readonly #adapter: RoomsAdapter
  readonly #authorize: AuthorizeHook | undefined
  readonly #maxRoomNameBytes: number
  readonly #reservedPrefix: string
  readonly #maxRoomsPerClient: number
  readonly #maxMembersPerRoom: number
  readonly #maxMessageBytes: number
  readonly #maxBufferedBytes: number
  readonly #slowMember: 'drop' | 'close'
  readonly #nonMemberBroadcast: 'allow' | 'refuse'
  readonly #replyErrors: boolean
  readonly #membersTimeoutMs: number
  readonly #notices: boolean
  /** Clients with messages waiting for the end of this turn. */
  #dirty: Client[] = []
  #flushScheduled = false
  #closed = false
  #stats = {
    broadcasts: 0,
    deliveries: 0,
    drops: 0,
    slowClosed: 0,
    refused: 0,
    adapterErrors: 0,
    members: 0,
  }

  constructor(options: RoomManagerOptions = {}) {
    super()
    knownKeys(options, OPTION_KEYS, 'TCPRoomManager')
    this.#encode =
      fn<Encoder | undefined>(options.encoder, 'encoder', undefined) ?? defaultEncoder()
    this.#authorize = fn<AuthorizeHook | undefined>(options.authorize, 'authorize', undefined)
    this.#maxRoomNameBytes = positiveInt(
      options.maxRoomNameBytes,
      'maxRoomNameBytes',
      DEFAULT_MAX_ROOM_NAME_BYTES,
    )
    if (options.reservedPrefix !== undefined && typeof options.reservedPrefix !== 'string') {
      throw argError('ERR_INVALID_ARG_TYPE', 'reservedPrefix must be a string')
    }
    this.#reservedPrefix = options.reservedPrefix ?? DEFAULT_RESERVED_PREFIX
    this.#maxRoomsPerClient = limit(
      options.maxRoomsPerClient,
      'maxRoomsPerClient',
      DEFAULT_MAX_ROOMS_PER_CLIENT,
    )
    this.#maxMembersPerRoom = limit(
      options.maxMembersPerRoom,
      'maxMembersPerRoom',
      DEFAULT_MAX_MEMBERS_PER_ROOM,
    )
    this.#maxMessageBytes = limit(
      options.maxMessageBytes,
      'maxMessageBytes',
      DEFAULT_MAX_MESSAGE_BYTES,
    )
    this.#maxBufferedBytes = limit(
      options.maxBufferedBytes,
      'maxBufferedBytes',
      DEFAULT_MAX_BUFFERED_BYTES,
    )
    this.#slowMember = oneOf(options.slowMember, 'slowMember', ['drop', 'close'], 'drop')
    this.#nonMemberBroadcast = oneOf(
      options.nonMemberBroadcast,
      'nonMemberBroadcast',
      ['allow', 'refuse'],
      'allow',
    )
    this.#replyErrors = bool(options.replyErrors, 'replyErrors', true)
    this.#notices = bool(options.notices, 'notices', true)
    this.#membersTimeoutMs = ms(
      options.membersTimeoutMs,
      'membersTimeoutMs',
      DEFAULT_MEMBERS_TIMEOUT_MS,
    )
    const adapter = options.adapter ?? new InProcessAdapter()
    if (typeof adapter !== 'object' || adapter === null || typeof adapter.attach !== 'function') {
      throw argError('ERR_INVALID_ARG_TYPE', 'adapter must be a RoomsAdapter')
    }
    this.#adapter = adapter
    adapter.attach(this.#host())
  }

  /** The adapter this manager publishes through. */
  get adapter(): RoomsAdapter {
    return this.#adapter
  }

  get stats(): RoomStats {
    const { members, ...counters } = this.#stats
    return { clients: this.#clients.size, rooms: this.#rooms.size, members, ...counters }
  }

  /**
   * Registers a connection. Its socket's `'close'` removes it from every room (with `user_left`
   * to the others), so calling `removeClient` yourself is optional. Adding an id that is already
   * present replaces nothing and returns `false`.
   */
  addClient(connectionId: string, socket: TCPSocket, metadata: unknown = {}): boolean {
    if (typeof connectionId !== 'string') {
      throw argError('ERR_INVALID_ARG_TYPE', 'connectionId must be a string')
    }
    if (this.#closed || this.#clients.has(connectionId)) return false
    // A socket that is already gone would leave a client nobody removes.
    if (socket.destroyed) return false
    const onGone = () => this.removeClient(connectionId)
    const client = new Client(connectionId, socket, metadata, Date.now(), onGone)
    this.#clients.set(connectionId, client)
    socket.once('close', onGone)
    // Writes to a peer that reset fail with EPIPE/ECONNRESET; the 'close' that follows cleans up.
    socket.on('error', noop)
    return true
  }

  /** Takes the client out of every room (`user_left` to the rest) and forgets it. */
  removeClient(connectionId: string): boolean {
    const client = this.#clients.get(connectionId)
    if (!client) return false
    client.removed = true
    for (const roomId of [...client.rooms]) this.#leave(client, roomId)
    this.#clients.delete(connectionId)
    client.socket.off('close', client.onGone)
    client.socket.off('error', noop)
    return true
  }

  /**
   * Puts the client in the room. `true` when it is a member afterwards (already being one is not
   * a change: no second `user_joined`), `false` for an unknown client or a refusal (coded
   * `'refused'` event, and an error notice to the client when `replyErrors` is on). The
   * `authorize` hook must answer synchronously here; use `join()` for an asynchronous one.
   */
  joinRoom(connectionId: string, roomId: string): boolean {
    const client = this.#clients.get(connectionId)
    if (!client) return false
    if (!this.#checkName(client, roomId)) return false
    if (client.rooms.has(roomId)) return true
    if (this.#authorize) {
      let allowed: boolean | Promise<boolean>
      try {
        allowed = this.#authorize(connectionId, roomId, client.metadata)
      } catch (cause) {
        return this.#refuseJoin(client, roomId, cause)
      }
      if (allowed instanceof Promise || isThenable(allowed)) {
        // Keep the rejection from becoming an unhandled one; the join itself is not made.
        Promise.resolve(allowed).catch(noop)
        throw argError(
          'ERR_INVALID_ARG_VALUE',
          'authorize returned a promise: use join() for asynchronous authorization',
        )
      }
      if (allowed !== true) return this.#refuseJoin(client, roomId)
    }
    return this.#join(client, roomId)
  }

  /**
   * `joinRoom` for an `authorize` hook that may be asynchronous. A client removed (or a socket
   * closed) while the hook was deciding is not added: no ghost members.
   */
  async join(connectionId: string, roomId: string): Promise<boolean> {
    const client = this.#clients.get(connectionId)
    if (!client) return false
    if (!this.#checkName(client, roomId)) return false
    if (client.rooms.has(roomId)) return true
    if (this.#authorize) {
      let allowed: boolean
      try {
        allowed = await this.#authorize(connectionId, roomId, client.metadata)
      } catch (cause) {
        return this.#refuseJoin(client, roomId, cause)
      }
      if (client.removed || this.#closed) return false
      if (client.rooms.has(roomId)) return true
      if (allowed !== true) return this.#refuseJoin(client, roomId)
    }
    return this.#join(client, roomId)
  }

  /** Takes the client out of the room; `false` (and no notice) when it was not in it. */
  leaveRoom(connectionId: string, roomId: string): boolean {
    const client = this.#clients.get(connectionId)
    if (!client?.rooms.has(roomId)) return false
    this.#leave(client, roomId)
    return true
  }

  /**
   * Encodes `message` once and queues the same bytes for every member of the room but
   * `excludeClient`, locally and (through the adapter) on other nodes. Returns the number of
   * local members it was queued for; `0` also for a refused or empty broadcast.
   */
  broadcastToRoom(roomId: string, message: unknown, excludeClient?: string): number {
    const room = this.#rooms.get(roomId)
    if (
      excludeClient !== undefined &&
      this.#nonMemberBroadcast === 'refuse' &&
      !room?.has(excludeClient)
    ) {
      const sender = this.#clients.get(excludeClient)
      if (sender) {
        this.#refuse(
          sender,
          roomId,
          new ProtocolError(
            RoomsErrorCode.NOT_IN_ROOM,
            `not a member of room ${JSON.stringify(roomId)}`,
          ),
        )
        return 0
      }
    }
    if (typeof roomId !== 'string') return 0
    let bytes: Uint8Array
    try {
      bytes = this.#encode(message)
    } catch (cause) {
      this.#refuse(
        this.#clients.get(excludeClient ?? ''),
        roomId,
        new ProtocolError(RoomsErrorCode.MESSAGE_REFUSED, 'the encoder refused the message', {
          cause,
        }),
      )
      return 0
    }
    if (bytes.byteLength > this.#maxMessageBytes) {
      this.#refuse(
        this.#clients.get(excludeClient ?? ''),
        roomId,
        new ProtocolError(
          RoomsErrorCode.MESSAGE_REFUSED,
          `a broadcast can have at most ${this.#maxMessageBytes} bytes, got ${bytes.byteLength}`,
          { limit: this.#maxMessageBytes, declaredLength: bytes.byteLength },
        ),
      )
      return 0
    }
    this.#stats.broadcasts++
    const delivered = room ? this.#deliver(room, bytes, excludeClient) : 0
    this.#callAdapter(() => this.#adapter.publish(roomId, bytes, { exclude: excludeClient }))
    return delivered
  }

  /**
   * Queues `message` for one client, in order with its room messages (a direct `socket.write`
   * in the same turn would overtake them). `false` for an unknown client or a drop.
   */
  send(connectionId: string, message: unknown): boolean {
    const client = this.#clients.get(connectionId)
    if (!client) return false
    const bytes = this.#encode(message)
    if (!this.#enqueue(client, bytes)) return false
    this.emit('delivered', bytes, 1)
    return true
  }

  /** The local members of the room (the verb docs' `ClientInfo`), in join order. */
  getRoomMembers(roomId: string): ClientInfo[] {
    const room = this.#rooms.get(roomId)
    return room ? [...room.values()] : []
  }

  /** The rooms the client is in, in join order. */
  getClientRooms(connectionId: string): string[] {
    const client = this.#clients.get(connectionId)
    return client ? [...client.rooms] : []
  }

  /** The client, if added. */
  getClient(connectionId: string): ClientInfo | undefined {
    return this.#clients.get(connectionId)
  }

  /** Members of the room on every node, through the adapter; `complete` is false if a node did not answer in time. */
  members(roomId: string, options: { timeoutMs?: number } = {}): Promise<MembersResult> {
    const timeoutMs = ms(options.timeoutMs, 'timeoutMs', this.#membersTimeoutMs)
    return this.#adapter.members(roomId, { timeoutMs }).catch((error: unknown) => {
      this.#adapterError(error)
      return { members: this.#localMembers(roomId), complete: false }
    })
  }

  /**
   * Writes what is queued, removes every client (its sockets stay open: they are the
   * application's) and closes the adapter, which tells other nodes this node's members left.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#flush()
    for (const id of [...this.#clients.keys()]) this.removeClient(id)
    this.#closed = true
    try {
      await this.#adapter.close()
    } catch (error) {
      this.#adapterError(error)
    }
  }

  // -- membership ------------------------------------------------------------------------------

  #checkName(client: Client, roomId: unknown): roomId is string {
    const error = checkRoomName(roomId, this.#maxRoomNameBytes, this.#reservedPrefix)
    if (!error) return true
    this.#refuse(client, roomId, error)
    return false
  }

  #refuseJoin(client: Client, roomId: string, cause?: unknown): false {
    const error = new ProtocolError(
      RoomsErrorCode.JOIN_REFUSED,
      `joining room ${JSON.stringify(roomId)} was refused`,
      cause === undefined ? {} : { cause },
    )
    this.#refuse(client, roomId, error)
    return false
  }

  #join(client: Client, roomId: string): boolean {
    if (client.rooms.size >= this.#maxRoomsPerClient) {
      this.#refuse(
        client,
        roomId,
        new ProtocolError(
          RoomsErrorCode.TOO_MANY_ROOMS,
          `a client can be in at most ${this.#maxRoomsPerClient} rooms`,
          { limit: this.#maxRoomsPerClient },
        ),
      )
      return false
    }
    let room = this.#rooms.get(roomId)
    if (room && room.size >= this.#maxMembersPerRoom) {
      this.#refuse(
        client,
        roomId,
        new ProtocolError(RoomsErrorCode.ROOM_FULL, `room ${JSON.stringify(roomId)} is full`, {
          limit: this.#maxMembersPerRoom,
        }),
      )
      return false
    }
    const created = !room
    if (!room) {
      room = new Map()
      this.#rooms.set(roomId, room)
    }
    room.set(client.connectionId, client)
    client.rooms.add(roomId)
    this.#stats.members++
    if (created) this.#callAdapter(() => this.#adapter.subscribe(roomId))
    this.#callAdapter(() => this.#adapter.join(roomId, memberInfo(client)))
    if (room.size > 1)
      this.#notice(room, 'user_joined', client.connectionId, roomId, client.connectionId)
    return true
  }

  #leave(client: Client, roomId: string): void {
    const room = this.#rooms.get(roomId)
    client.rooms.delete(roomId)
    if (!room?.delete(client.connectionId)) return
    this.#stats.members--
    this.#callAdapter(() => this.#adapter.leave(roomId, memberInfo(client)))
    if (room.size === 0) {
      this.#rooms.delete(roomId)
      this.#callAdapter(() => this.#adapter.unsubscribe(roomId))
    } else {
      this.#notice(room, 'user_left', client.connectionId, roomId)
    }
  }

  #notice(
    room: Room,
    type: 'user_joined' | 'user_left',
    connectionId: string,
    roomId: string,
    exclude?: string,
  ): void {
    if (!this.#notices) return
    let bytes: Uint8Array
    try {
      bytes = this.#encode({ type, connectionId, room: roomId, timestamp: Date.now() })
    } catch (error) {
      // Only a broken custom encoder gets here; the membership change itself stands.
      this.#adapterError(error)
      return
    }
    this.#stats.broadcasts++
    this.#deliver(room, bytes, exclude)
  }

  #refuse(client: Client | undefined, room: unknown, error: ProtocolError): void {
    this.#stats.refused++
    if (client && this.#replyErrors && !client.removed) {
      try {
        const bytes = this.#encode({
          type: 'error',
          code: error.code,
          message: error.message,
          room: typeof room === 'string' ? room : String(room),
        })
        if (this.#enqueue(client, bytes)) this.emit('delivered', bytes, 1)
      } catch {
        // An encoder that cannot encode its own error notice: the event below still reports it.
      }
    }
    this.emit('refused', { connectionId: client?.connectionId, room, error })
  }

  // -- delivery --------------------------------------------------------------------------------

  #deliver(room: Room, bytes: Uint8Array, exclude: string | undefined): number {
    let delivered = 0
    for (const client of room.values()) {
      if (client.connectionId !== exclude && this.#enqueue(client, bytes)) delivered++
    }
    if (delivered > 0) this.emit('delivered', bytes, delivered)
    return delivered
  }

  #enqueue(client: Client, bytes: Uint8Array): boolean {
    const pending = client.pending
    const size = bytes.byteLength
    if (pending === undefined) {
      // The socket's state is read once per member per turn: nothing else writes to it before
      // the flush (a destroy in between is checked there).
      const socket = client.socket
      if (socket.destroyed || !socket.writable) return false
      const buffered = socket.writableLength
      if (buffered + size > this.#maxBufferedBytes) {
        this.#slow(client, buffered)
        return false
      }
      client.socketBuffered = buffered
      client.pending = bytes
      client.pendingBytes = size
      this.#dirty.push(client)
      if (!this.#flushScheduled) {
        this.#flushScheduled = true
        setImmediate(this.#flushNow)
      }
    } else {
      const buffered = client.socketBuffered + client.pendingBytes
      if (buffered + size > this.#maxBufferedBytes) {
        this.#slow(client, buffered)
        return false
      }
      if (Array.isArray(pending)) pending.push(bytes)
      else client.pending = [pending, bytes]
      client.pendingBytes += size
    }
    this.#stats.deliveries++
    return true
  }

  #slow(client: Client, buffered: number): void {
    this.#stats.drops++
    if (this.#slowMember === 'close') {
      this.#stats.slowClosed++
      client.pending = undefined
      client.pendingBytes = 0
      this.emit('slow', { connectionId: client.connectionId, action: 'close', buffered })
      client.socket.destroy()
      // 'close' comes later; leave the rooms now so the others hear `user_left` in order.
      this.removeClient(client.connectionId)
    } else {
      this.emit('slow', { connectionId: client.connectionId, action: 'drop', buffered })
    }
  }

  readonly #flushNow = (): void => {
    this.#flushScheduled = false
    this.#flush()
  }

  #flush(): void {
    const dirty = this.#dirty
    if (dirty.length === 0) return
    this.#dirty = []
    for (const client of dirty) {
      const pending = client.pending
      client.pending = undefined
      client.pendingBytes = 0
      if (pending === undefined || client.socket.destroyed) continue
      client.socket.write(Array.isArray(pending) ? Buffer.concat(pending) : pending)
    }
  }

  // -- adapter ---------------------------------------------------------------------------------

  #host(): RoomsAdapterHost {
    return {
      deliver: (roomId, bytes, exclude) => {
        const room = this.#rooms.get(roomId)
        if (!room || this.#closed) return 0
        this.#stats.broadcasts++
        return this.#deliver(room, bytes, exclude)
      },
      remoteJoined: (roomId, member) => this.#remoteNotice('user_joined', roomId, member),
      remoteLeft: (roomId, member) => this.#remoteNotice('user_left', roomId, member),
      localMembers: (roomId) => this.#localMembers(roomId),
      localRooms: () => [...this.#rooms.keys()],
      error: (error) => this.#adapterError(error),
    }
  }

  #remoteNotice(type: 'user_joined' | 'user_left', roomId: string, member: RoomMember): void {
    const room = this.#rooms.get(roomId)
    if (!room || this.#closed) return
    this.#notice(room, type, member.connectionId, roomId)
  }

  #localMembers(roomId: string): RoomMember[] {
    const room = this.#rooms.get(roomId)
    if (!room) return []
    const nodeId = this.#adapter.nodeId
    return [...room.values()].map((client) => ({ ...memberInfo(client), nodeId }))
  }

  #callAdapter(call: () => void): void {
    try {
      call()
    } catch (error) {
      this.#adapterError(error)
    }
  }

  #adapterError(error: unknown): void {
    this.#stats.adapterErrors++
    if (this.listenerCount('adapterError') > 0) {
      this.emit('adapterError', error instanceof Error ? error : new Error(String(error)))
    }
  }
}

function memberInfo(client: Client): MemberInfo {
  return { connectionId: client.connectionId, metadata: client.metadata, joinedAt: client.joinedAt }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

function noop(): void {}
