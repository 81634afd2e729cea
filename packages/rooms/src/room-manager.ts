import { EventEmitter } from 'node:events'
import { ProtocolError, type TCPSocket } from '@verb-tcp/core'
import { argError, ms } from '@verb-tcp/core/validate'
import {
  InProcessAdapter,
  type MemberInfo,
  type MembersResult,
  type RoomMember,
  type RoomsAdapter,
  type RoomsAdapterHost,
} from './adapter.ts'
import { RoomsErrorCode } from './errors.ts'
import { type ResolvedRoomOptions, resolveOptions } from './options.ts'
import { checkRoomName } from './room-name.ts'
import { type QueuedMember, SendQueue } from './send-queue.ts'
import type { ClientInfo, RoomManagerEvents, RoomManagerOptions, RoomStats } from './types.ts'

/** One added client. Also what `getRoomMembers` hands out, typed as `ClientInfo`. */
class Client implements ClientInfo, MemberInfo, QueuedMember {
  readonly rooms = new Set<string>()
  pending: Uint8Array | Uint8Array[] | undefined = undefined
  pendingBytes = 0
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
  readonly #options: ResolvedRoomOptions
  readonly #adapter: RoomsAdapter
  readonly #queue: SendQueue<Client>
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
    this.#options = resolveOptions(options)
    this.#queue = new SendQueue(this.#options.maxBufferedBytes, (client, buffered) =>
      this.#slow(client, buffered),
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
    if (this.#options.authorize) {
      let allowed: boolean | Promise<boolean>
      try {
        allowed = this.#options.authorize(connectionId, roomId, client.metadata)
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
    if (this.#options.authorize) {
      let allowed: boolean
      try {
        allowed = await this.#options.authorize(connectionId, roomId, client.metadata)
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
      this.#options.nonMemberBroadcast === 'refuse' &&
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
      bytes = this.#options.encoder(message)
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
    if (bytes.byteLength > this.#options.maxMessageBytes) {
      this.#refuse(
        this.#clients.get(excludeClient ?? ''),
        roomId,
        new ProtocolError(
          RoomsErrorCode.MESSAGE_REFUSED,
          `a broadcast can have at most ${this.#options.maxMessageBytes} bytes, got ${bytes.byteLength}`,
          { limit: this.#options.maxMessageBytes, declaredLength: bytes.byteLength },
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
    const bytes = this.#options.encoder(message)
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
    const timeoutMs = ms(options.timeoutMs, 'timeoutMs', this.#options.membersTimeoutMs)
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
    this.#queue.flush()
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
    const error = checkRoomName(
      roomId,
      this.#options.maxRoomNameBytes,
      this.#options.reservedPrefix,
    )
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
    if (client.rooms.size >= this.#options.maxRoomsPerClient) {
      this.#refuse(
        client,
        roomId,
        new ProtocolError(
          RoomsErrorCode.TOO_MANY_ROOMS,
          `a client can be in at most ${this.#options.maxRoomsPerClient} rooms`,
          { limit: this.#options.maxRoomsPerClient },
        ),
      )
      return false
    }
    let room = this.#rooms.get(roomId)
    if (room && room.size >= this.#options.maxMembersPerRoom) {
      this.#refuse(
        client,
        roomId,
        new ProtocolError(RoomsErrorCode.ROOM_FULL, `room ${JSON.stringify(roomId)} is full`, {
          limit: this.#options.maxMembersPerRoom,
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
    if (!this.#options.notices) return
    let bytes: Uint8Array
    try {
      bytes = this.#options.encoder({ type, connectionId, room: roomId, timestamp: Date.now() })
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
    if (client && this.#options.replyErrors && !client.removed) {
      try {
        const bytes = this.#options.encoder({
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
    if (!this.#queue.enqueue(client, bytes)) return false
    this.#stats.deliveries++
    return true
  }

  #slow(client: Client, buffered: number): void {
    this.#stats.drops++
    if (this.#options.slowMember === 'close') {
      this.#stats.slowClosed++
      this.#queue.discard(client)
      this.emit('slow', { connectionId: client.connectionId, action: 'close', buffered })
      client.socket.destroy()
      // 'close' comes later; leave the rooms now so the others hear `user_left` in order.
      this.removeClient(client.connectionId)
    } else {
      this.emit('slow', { connectionId: client.connectionId, action: 'drop', buffered })
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
