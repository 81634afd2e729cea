import type { ProtocolError } from '@verb-tcp/core'
import { encodeMessage } from '@verb-tcp/json-frames'
import type { ConnectionPool } from '@verb-tcp/pool'
import {
  InProcessAdapter,
  type MemberInfo,
  type MembersOptions,
  type MembersResult,
  type PublishOptions,
  type RoomsAdapter,
  type RoomsAdapterHost,
  TCPRoomManager,
} from '@verb-tcp/rooms'
import type { Logger } from 'pino'
import {
  MAX_MEMBERS_PER_ROOM,
  MAX_ROOM_MESSAGE_BYTES,
  MAX_ROOM_NAME_BYTES,
  MAX_ROOMS_PER_CLIENT,
} from './message-errors.ts'
import type { Client, RoomHub } from './message-server.ts'
import { key, type Stats } from './stats.ts'

/** What one room-message delivery is charged against the turn's budget. */
const ROOM_MESSAGE_BYTES = 128

/** Everyone, on every node: broadcasts travel in this room. */
const ALL = '$all'
/** One connection, wherever it is: private messages travel in `$c:<id>`. */
const ONE = '$c:'

export interface RoomsHubOptions {
  stats: Stats
  logger: Logger
  pool: ConnectionPool
  maxBufferedBytes: number
  slowReader: 'close' | 'skip'
  /** Carries rooms to other nodes (Redis); the default keeps them in this process. */
  adapter?: RoomsAdapter
  /** Told the bytes each fan-out wrote, so one turn's work stays bounded (`ReadScheduler`). */
  charge?: (bytes: number) => void
}

/** Deliveries in the system rooms, made here rather than by the room manager. */
interface LocalDelivery {
  all(bytes: Uint8Array, exclude?: string): number
  one(id: string, bytes: Uint8Array): number
  ids(): string[]
}

/**
 * The server's own traffic (broadcast to all, private to one) rides the same adapter as the
 * rooms, in rooms whose names start with `$`, which clients cannot join (`@verb-tcp/rooms`
 * reserves the prefix). Those rooms never reach the room manager: deliveries for them from
 * other nodes are made here, to the pool or to one socket, so connecting does not send every
 * client a `user_joined`.
 */
class SystemRoomsAdapter implements RoomsAdapter {
  readonly #inner: RoomsAdapter
  readonly #local: LocalDelivery

  constructor(inner: RoomsAdapter, local: LocalDelivery) {
    this.#inner = inner
    this.#local = local
  }

  get nodeId(): string {
    return this.#inner.nodeId
  }

  attach(host: RoomsAdapterHost): void {
    this.#inner.attach({
      ...host,
      deliver: (room, bytes, exclude) => {
        if (room === ALL) return this.#local.all(bytes, exclude)
        if (room.startsWith(ONE)) return this.#local.one(room.slice(ONE.length), bytes)
        return host.deliver(room, bytes, exclude)
      },
      remoteJoined: (room, member) => {
        if (!room.startsWith('$')) host.remoteJoined(room, member)
      },
      remoteLeft: (room, member) => {
        if (!room.startsWith('$')) host.remoteLeft(room, member)
      },
      localMembers: (room) => (room.startsWith('$') ? [] : host.localMembers(room)),
      // After a reconnect the adapter resubscribes to these: the system rooms too.
      localRooms: () => [...host.localRooms(), ALL, ...this.#local.ids().map((id) => ONE + id)],
    })
  }

  subscribe(room: string): void {
    this.#inner.subscribe(room)
  }
  unsubscribe(room: string): void {
    this.#inner.unsubscribe(room)
  }
  publish(room: string, bytes: Uint8Array, options: PublishOptions): void {
    this.#inner.publish(room, bytes, options)
  }
  join(room: string, member: MemberInfo): void {
    this.#inner.join(room, member)
  }
  leave(room: string, member: MemberInfo): void {
    this.#inner.leave(room, member)
  }
  members(room: string, options?: MembersOptions): Promise<MembersResult> {
    return this.#inner.members(room, options)
  }
  close(): Promise<void> {
    return this.#inner.close()
  }
}

/** The message port's rooms on `@verb-tcp/rooms`, spanning nodes through its adapter. */
export function createRoomsHub(
  clients: ReadonlyMap<string, Client>,
  options: RoomsHubOptions,
): RoomHub & {
  manager: TCPRoomManager
  distributed: boolean
} {
  const { stats, pool } = options
  const distributed = options.adapter !== undefined
  const write = (client: Client, bytes: Uint8Array, type: string): boolean => {
    const { socket } = client
    if (socket.destroyed || socket.writableEnded) return false
    const queued = socket.writableLength
    if (queued > 0 && queued + bytes.byteLength > options.maxBufferedBytes) {
      stats.count(stats.errors, key('message', 'ERR_SLOW_READER'))
      if (options.slowReader === 'close') socket.destroy()
      return false
    }
    stats.count(stats.messagesOut, key('message', type))
    socket.write(bytes)
    return true
  }
  const all = (bytes: Uint8Array, exclude?: string) => {
    const excluded = exclude === undefined ? undefined : clients.get(exclude)
    const { sent } = pool.broadcast(bytes, excluded ? pool.idOf(excluded.socket) : undefined)
    stats.count(stats.messagesOut, key('message', 'broadcast'), sent)
    options.charge?.(sent * bytes.byteLength)
    return sent
  }
  const adapter = new SystemRoomsAdapter(options.adapter ?? new InProcessAdapter(), {
    all,
    one: (id, bytes) => {
      const client = clients.get(id)
      return client && write(client, bytes, 'private') ? 1 : 0
    },
    ids: () => [...clients.keys()],
  })
  // Every message the manager queues (room messages, `joined`/`left` replies, `user_joined` and
  // `user_left` notices, refusals) is counted by type when queued: the encoder remembers the type
  // of the bytes it made, once per message; bytes from another node are room messages.
  const types = new WeakMap<Uint8Array, string>()
  const manager = new TCPRoomManager({
    adapter,
    encoder: (message) => {
      const bytes = encodeMessage(message)
      types.set(bytes, (message as { type: string }).type)
      return bytes
    },
    maxBufferedBytes: options.maxBufferedBytes,
    slowMember: options.slowReader === 'close' ? 'close' : 'drop',
    nonMemberBroadcast: 'refuse',
    maxRoomNameBytes: MAX_ROOM_NAME_BYTES,
    maxRoomsPerClient: MAX_ROOMS_PER_CLIENT,
    maxMembersPerRoom: MAX_MEMBERS_PER_ROOM,
    maxMessageBytes: MAX_ROOM_MESSAGE_BYTES,
    // Refusals are answered by the message server, in request order and with the request's
    // id; the manager's own reply would be queued for its per-turn flush, after later replies.
    replyErrors: false,
  })
  manager.on('delivered', (bytes, count) =>
    stats.count(stats.messagesOut, key('message', types.get(bytes) ?? 'room_message'), count),
  )
  // Reported synchronously, inside the call that was refused (counted by the message server).
  let refusal: ProtocolError | undefined
  manager.on('refused', ({ error }) => {
    refusal = error
  })
  manager.on('slow', ({ action }) => {
    stats.count(stats.errors, key('message', 'ERR_SLOW_READER'))
    options.logger.debug({ action }, 'slow room member')
  })
  manager.on('adapterError', (error) => {
    stats.count(stats.errors, key('rooms', 'ERR_ADAPTER'))
    options.logger.warn({ err: error }, 'rooms adapter error')
  })
  if (distributed) adapter.subscribe(ALL)

  return {
    manager,
    distributed,
    add(client) {
      manager.addClient(client.id, client.socket)
      if (distributed) adapter.subscribe(ONE + client.id)
    },
    join(client, room) {
      refusal = undefined
      if (manager.joinRoom(client.id, room)) client.rooms.add(room)
      return refusal
    },
    leave(client, room) {
      client.rooms.delete(room)
      return manager.leaveRoom(client.id, room)
    },
    leaveAll(client) {
      client.rooms.clear()
      manager.removeClient(client.id)
      if (distributed) adapter.unsubscribe(ONE + client.id)
    },
    toRoom(room, message, except) {
      refusal = undefined
      const sent = manager.broadcastToRoom(room, message, except)
      // The encoded size is the manager's; a room message is about this big.
      options.charge?.(sent * ROOM_MESSAGE_BYTES)
      return refusal
    },
    toAll(frame, except) {
      all(frame, except)
      if (distributed) adapter.publish(ALL, frame, { exclude: except })
    },
    toClient(id, frame) {
      const client = clients.get(id)
      if (client) return write(client, frame, 'private')
      if (!distributed) return false
      // Somewhere else, perhaps: the node that has it delivers; no answer comes back.
      adapter.publish(ONE + id, frame, {})
      return true
    },
    rooms: () => manager.stats.rooms,
    members: () => manager.stats.members,
    close: () => manager.close(),
  }
}
