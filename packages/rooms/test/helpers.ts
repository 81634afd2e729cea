import type { TCPSocket } from '@verb-tcp/core'
import {
  closeAll,
  createTCPClient,
  createTCPServer,
  type TestClient,
  until,
} from '@verb-tcp/core/testing'
import { MessageDecoder } from '@verb-tcp/json-frames'
import { type RoomManagerOptions, TCPRoomManager } from '../src/index.ts'

/** A client that decodes every json-frames message it receives into `messages`. */
export interface Peer {
  socket: TestClient
  /** The server side of this connection. */
  server: TCPSocket
  messages: Record<string, unknown>[]
  errors: Error[]
  /** The connection id it was added to a manager with (`added`). */
  id: string
}

/**
 * `N` peers as a tuple when `N` is a literal, so `list[0]` is a `Peer` (not `Peer | undefined`
 * under `noUncheckedIndexedAccess`) and a test needs no non-null assertion.
 */
export type Peers<N extends number, Acc extends Peer[] = []> = number extends N
  ? Peer[]
  : Acc['length'] extends N
    ? Acc
    : Peers<N, [...Acc, Peer]>

/** A loopback server and `count` connected clients, each paired with its server-side socket. */
export async function peers<N extends number>(count: N): Promise<Peers<N>> {
  const accepted: TCPSocket[] = []
  const server = createTCPServer({ onConnection: (socket) => void accepted.push(socket) })
  const { port } = await server.ready
  const out: Peer[] = []
  for (let i = 0; i < count; i++) {
    const socket = createTCPClient()
    await socket.connect(port, '127.0.0.1')
    await until(() => accepted.length === i + 1)
    const peer: Peer = {
      socket,
      server: accepted[i] as TCPSocket,
      messages: [],
      errors: [],
      id: '',
    }
    const decoder = new MessageDecoder<Record<string, unknown>>()
    const sink = {
      frame: (message: Record<string, unknown>) => void peer.messages.push(message),
      error: (error: Error) => void peer.errors.push(error),
    }
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, sink))
    out.push(peer)
  }
  return out as Peers<N>
}

/** The messages of `type` a peer has received. */
export function ofType(peer: Peer, type: string): Record<string, unknown>[] {
  return peer.messages.filter((m) => m.type === type)
}

const managers = new Set<TCPRoomManager>()

/** A manager closed by `closeEverything`. */
export function manager(options?: RoomManagerOptions): TCPRoomManager {
  const rooms = new TCPRoomManager(options)
  managers.add(rooms)
  return rooms
}

/** For `afterEach`: closes managers, then core's test servers and clients. */
export async function closeEverything(): Promise<void> {
  const open = [...managers]
  managers.clear()
  await Promise.all(open.map((rooms) => rooms.close()))
  await closeAll()
}

/** `count` peers added to `rooms` as `c0`, `c1`, ... */
export async function added<N extends number>(rooms: TCPRoomManager, count: N): Promise<Peers<N>> {
  const list = await peers(count)
  for (const [i, peer] of (list as Peer[]).entries()) {
    peer.id = `c${i}`
    rooms.addClient(peer.id, peer.server, { n: i })
  }
  return list
}

let marks = 0

/**
 * Sends a marker to each peer through the manager and waits until every peer has it: whatever
 * the manager queued before has then arrived too (one connection keeps order), so a test can
 * check that something did not arrive without sleeping.
 */
export async function settle(rooms: TCPRoomManager, list: Peer[]): Promise<void> {
  const mark = ++marks
  const live = list.filter((peer) => rooms.send(peer.id, { type: 'mark', mark }))
  await until(() =>
    live.every((peer) => peer.messages.some((m) => m.type === 'mark' && m.mark === mark)),
  )
  for (const peer of list) peer.messages = peer.messages.filter((m) => m.type !== 'mark')
}
