import type { ProtocolError, TCPSocket } from '@verb-tcp/core'
import type { RoomsAdapter } from './adapter.ts'

/** Turns a message into the bytes of one frame. Called once per broadcast, not once per member. */
export type Encoder = (message: unknown) => Uint8Array

/**
 * Decides whether a client may join a room. Return `false` (or throw) to refuse. May return a
 * promise only when joins go through `join()`; `joinRoom()` needs an answer at once.
 */
export type AuthorizeHook = (
  connectionId: string,
  roomId: string,
  metadata: unknown,
) => boolean | Promise<boolean>

export interface RoomManagerOptions {
  /**
   * Frames each message. @default `encodeMessage` from `@verb-tcp/json-frames` (an optional peer
   * dependency, loaded when the first manager without an encoder is created).
   */
  encoder?: Encoder
  /** Carries broadcasts and membership to other nodes. @default a new `InProcessAdapter` (one node) */
  adapter?: RoomsAdapter
  authorize?: AuthorizeHook
  /** @default 128 */
  maxRoomNameBytes?: number
  /** Room names with this prefix are refused; `''` reserves nothing. @default '$' */
  reservedPrefix?: string
  /** @default 100 */
  maxRoomsPerClient?: number
  /** Local members per room. @default 10000 */
  maxMembersPerRoom?: number
  /** Largest encoded broadcast in bytes. @default 1048576 */
  maxMessageBytes?: number
  /**
   * Bytes a member may have waiting (its socket's buffer plus this turn's messages). A broadcast
   * that would go over it is not queued for that member. @default 1048576
   */
  maxBufferedBytes?: number
  /** What happens to a member over `maxBufferedBytes`: skip it for that message, or destroy its socket. @default 'drop' */
  slowMember?: 'drop' | 'close'
  /**
   * A broadcast whose `excludeClient` is a client that is not in the room: deliver it anyway
   * (the verb docs' behaviour, for servers broadcasting on a client's behalf) or refuse it with
   * `ERR_NOT_IN_ROOM`. @default 'allow'
   */
  nonMemberBroadcast?: 'allow' | 'refuse'
  /** Send `{ type: 'error', code, message, room }` to a client whose join or broadcast is refused. @default true */
  replyErrors?: boolean
  /**
   * Send `user_joined` / `user_left` to the other members. Off, rooms are plain broadcast groups
   * (as in socket.io), and thousands of joins do not cost N² notices. @default true
   */
  notices?: boolean
  /** How long `members()` waits for other nodes, in ms. @default 5000 */
  membersTimeoutMs?: number
}

/** What the verb docs call `ClientInfo`: a client added with `addClient`. */
export interface ClientInfo {
  readonly connectionId: string
  readonly socket: TCPSocket
  /** The rooms the client is in, in join order. */
  readonly rooms: ReadonlySet<string>
  readonly metadata: unknown
  /** `Date.now()` when the client was added. */
  readonly joinedAt: number
}

/** Sent to the other members of a room when a client joins it (once per real change). */
export interface UserJoinedNotice {
  type: 'user_joined'
  connectionId: string
  room: string
  timestamp: number
}

/** Sent to the remaining members of a room when a client leaves it, disconnects, or its node goes away. */
export interface UserLeftNotice {
  type: 'user_left'
  connectionId: string
  room: string
  timestamp: number
}

/** Sent to a client whose request was refused, when `replyErrors` is on. */
export interface ErrorNotice {
  type: 'error'
  code: string
  message: string
  room: string
}

export interface RoomStats {
  /** Clients added and not removed. */
  clients: number
  /** Rooms with at least one local member. */
  rooms: number
  /** Local memberships (a client in three rooms counts three times). */
  members: number
  /** Broadcasts sent (local and from other nodes), notices included. */
  broadcasts: number
  /** Messages queued to a member. */
  deliveries: number
  /** Messages not queued because the member was over `maxBufferedBytes`. */
  drops: number
  /** Members destroyed for being slow (`slowMember: 'close'`). */
  slowClosed: number
  /** Joins and broadcasts refused. */
  refused: number
  /** Errors an adapter reported. */
  adapterErrors: number
}

export interface RoomManagerEvents {
  /** A join or broadcast was refused; state is unchanged. */
  refused: [info: { connectionId: string | undefined; room: unknown; error: ProtocolError }]
  /** A member was over `maxBufferedBytes`: `action` says whether it was skipped or destroyed. */
  slow: [info: { connectionId: string; action: 'drop' | 'close'; buffered: number }]
  /** The adapter reported a problem. Listening is optional: nothing is thrown. */
  adapterError: [error: Error]
  /**
   * One message was queued for `count` members (a broadcast, a `user_joined` / `user_left`
   * notice, a `send`, an error reply; local or from another node): `stats.deliveries` message by
   * message, for accounting by type. `bytes` are what the encoder returned (or what another node
   * published), the same object for every member. Emitted once per message, not per member.
   */
  delivered: [bytes: Uint8Array, count: number]
}
