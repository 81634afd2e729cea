import { encodeMessage } from '@verb-tcp/json-frames'
import type { ConnectionPool } from '@verb-tcp/pool'
import type { Client, RoomHub } from './message-server.ts'
import { key, type Stats } from './stats.ts'

export interface DeliveryOptions {
  stats: Stats
  /** Bytes one receiver may have queued, counting this message. */
  maxBufferedBytes: number
  slowReader: 'close' | 'skip'
  /** The message port's pool: a broadcast to everyone is the pool's, with its own cap. */
  pool: ConnectionPool
}

/**
 * Writes an encoded message to one receiver under the slow-reader cap: a receiver whose queue
 * would pass `maxBufferedBytes` is closed (or skipped for this message), so one client that does
 * not read cannot make the server buffer without bound. A receiver with nothing queued always
 * gets the message. Returns whether it was written.
 */
export function deliver(
  client: Client,
  frame: Buffer,
  type: string,
  options: DeliveryOptions,
): boolean {
  const { socket } = client
  if (socket.destroyed || socket.writableEnded) return false
  const queued = socket.writableLength
  if (queued > 0 && queued + frame.length > options.maxBufferedBytes) {
    options.stats.count(options.stats.errors, key('message', 'ERR_SLOW_READER'))
    if (options.slowReader === 'close') {
      client.log.warn({ queued }, 'slow reader closed')
      socket.destroy()
    }
    return false
  }
  options.stats.count(options.stats.messagesOut, key('message', type))
  socket.write(frame)
  return true
}

/** Rooms in one process: a map from room name to its members. */
export function createLocalHub(
  clients: ReadonlyMap<string, Client>,
  options: DeliveryOptions,
): RoomHub {
  const rooms = new Map<string, Set<Client>>()
  let members = 0
  const notify = (room: string, type: 'user_joined' | 'user_left', who: Client) => {
    const set = rooms.get(room)
    if (!set) return
    const frame = encodeMessage({ type, room, connectionId: who.id })
    for (const member of set) if (member !== who) deliver(member, frame, type, options)
  }
  const hub: RoomHub = {
    join(client, room) {
      if (client.rooms.has(room)) return
      let set = rooms.get(room)
      if (!set) {
        set = new Set()
        rooms.set(room, set)
      }
      set.add(client)
      client.rooms.add(room)
      members++
      notify(room, 'user_joined', client)
    },
    leave(client, room) {
      const set = rooms.get(room)
      if (!set?.delete(client)) return false
      client.rooms.delete(room)
      members--
      notify(room, 'user_left', client)
      if (set.size === 0) rooms.delete(room)
      return true
    },
    leaveAll(client) {
      for (const room of [...client.rooms]) hub.leave(client, room)
    },
    toRoom(room, frame, except) {
      let sent = 0
      for (const member of rooms.get(room) ?? []) {
        if (member.id !== except && deliver(member, frame, 'room_message', options)) sent++
      }
      return sent
    },
    toAll(frame, except) {
      const excluded = except === undefined ? undefined : clients.get(except)
      const poolId = excluded ? options.pool.idOf(excluded.socket) : undefined
      const { sent } = options.pool.broadcast(frame, poolId)
      options.stats.count(options.stats.messagesOut, key('message', 'broadcast'), sent)
    },
    toClient(id, frame) {
      const client = clients.get(id)
      if (!client) return false
      deliver(client, frame, 'private', options)
      return true
    },
    rooms: () => rooms.size,
    members: () => members,
  }
  return hub
}
