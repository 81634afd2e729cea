/**
 * The seam between a `TCPRoomManager` (one node: its own clients, rooms and local delivery) and
 * whatever carries broadcasts and membership to other nodes.
 *
 * The split follows socket.io's adapters and Phoenix PubSub/Presence: each node keeps its own
 * members in memory and delivers to them itself; the adapter only relays already-encoded bytes
 * and membership changes between nodes, subscribes to a room while the node has at least one
 * member in it (the uWebSockets.js subscription-count rule), and answers "who is in this room"
 * across nodes. Delivery across nodes is at most once.
 */

import { argError, knownKeys, optionKeys } from '@verb-tcp/core/validate'

/** A member as the manager knows it locally. `metadata` must be JSON-serializable for adapters that cross processes. */
export interface MemberInfo {
  readonly connectionId: string
  readonly metadata: unknown
  /** `Date.now()` when the client was added to the manager. */
  readonly joinedAt: number
}

/** A member of a room somewhere in the cluster. */
export interface RoomMember extends MemberInfo {
  /** The `nodeId` of the adapter whose manager holds this connection. */
  readonly nodeId: string
}

export interface PublishOptions {
  /** A connection that must not receive the bytes (the sender), on any node. */
  readonly exclude?: string | undefined
}

export interface MembersOptions {
  /** How long to wait for other nodes, in ms. */
  readonly timeoutMs?: number | undefined
}

export interface MembersResult {
  readonly members: RoomMember[]
  /** False when some node did not answer in time: `members` is then a lower bound. */
  readonly complete: boolean
}

/**
 * What an adapter may call on the manager it is attached to. None of these throw; an adapter
 * calls them from its own I/O callbacks.
 */
export interface RoomsAdapterHost {
  /**
   * Writes `bytes` (already framed by the publishing node's encoder) to every local member of
   * `room` except `exclude`. Returns the number of members written to.
   */
  deliver(room: string, bytes: Uint8Array, exclude?: string): number
  /** A member joined `room` on another node: the manager sends `user_joined` to its local members. */
  remoteJoined(room: string, member: RoomMember): void
  /**
   * A member left `room` on another node (or its node died): the manager sends `user_left` to
   * its local members.
   */
  remoteLeft(room: string, member: RoomMember): void
  /** The local members of `room`, for answering another node's members query. */
  localMembers(room: string): MemberInfo[]
  /** The rooms that have local members, for resubscribing after a reconnect. */
  localRooms(): string[]
  /** Something went wrong in the adapter (lost connection, malformed envelope...). Never thrown. */
  error(error: Error): void
}

/**
 * A transport for rooms across nodes. The manager calls these in this order for a room:
 * `subscribe` when the room gets its first local member, `join`/`leave` per member,
 * `publish` after each local delivery, `unsubscribe` when its last local member leaves.
 *
 * Methods other than `members` and `close` return nothing: an adapter reports failures through
 * `host.error` and never throws into the manager (the manager still guards each call).
 */
export interface RoomsAdapter {
  /** Unique per adapter instance (per node); used for echo suppression and in `RoomMember`. */
  readonly nodeId: string
  /** Called once, by the manager's constructor, before any other method. */
  attach(host: RoomsAdapterHost): void
  /** This node has its first local member in `room`: start receiving its traffic. */
  subscribe(room: string): void
  /** This node has no local members left in `room`: stop receiving its traffic. */
  unsubscribe(room: string): void
  /**
   * Carry `bytes` to the other nodes subscribed to `room`, which deliver them to their local
   * members except `options.exclude`. The local delivery is already done: the publishing node
   * must not get its own bytes back. The adapter forwards the bytes as they are.
   */
  publish(room: string, bytes: Uint8Array, options: PublishOptions): void
  /** `member` joined `room` on this node: other nodes with members in `room` get `remoteJoined`. */
  join(room: string, member: MemberInfo): void
  /** `member` left `room` on this node: other nodes with members in `room` get `remoteLeft`. */
  leave(room: string, member: MemberInfo): void
  /** Every member of `room` on every live node, this one included. Never rejects. */
  members(room: string, options?: MembersOptions): Promise<MembersResult>
  /**
   * Leave the cluster: other nodes get `remoteLeft` for this node's members at once (not only
   * after a liveness timeout), and no host method is called after the promise resolves.
   */
  close(): Promise<void>
}

// -- the in-process adapter ----------------------------------------------------------------------

type Envelope =
  | { kind: 'publish'; from: string; room: string; bytes: Uint8Array; exclude: string | undefined }
  | { kind: 'join' | 'leave'; from: string; room: string; member: RoomMember }

/**
 * What several in-process adapters share to act as nodes of one cluster (tests, or several
 * managers in one process). Delivery is asynchronous (a microtask), in publish order, like a
 * real bus.
 */
export class InProcessBus {
  /** How many adapters are on this bus. */
  get size(): number {
    return nodesOf(this).size
  }
}

// Kept outside the class so the bus has no public plumbing methods.
const busNodes = new WeakMap<InProcessBus, Set<InProcessAdapter>>()
function nodesOf(bus: InProcessBus): Set<InProcessAdapter> {
  let nodes = busNodes.get(bus)
  if (!nodes) {
    nodes = new Set()
    busNodes.set(bus, nodes)
  }
  return nodes
}

let nextNode = 0

export interface InProcessAdapterOptions {
  /** Share one bus between adapters to make them nodes of one cluster. @default a bus of its own */
  bus?: InProcessBus
  /** @default `"local-<n>"` */
  nodeId?: string
}

const ADAPTER_KEYS = optionKeys<InProcessAdapterOptions>({ bus: true, nodeId: true })

/**
 * The default adapter. Alone (its own bus) it does nothing across nodes: the manager's local
 * delivery is the whole broadcast. Several sharing an `InProcessBus` behave as separate nodes.
 */
export class InProcessAdapter implements RoomsAdapter {
  readonly nodeId: string
  readonly #bus: InProcessBus
  readonly #subscribed = new Set<string>()
  /** Local members per room, for members queries and goodbye notices. */
  readonly #members = new Map<string, Map<string, MemberInfo>>()
  #host: RoomsAdapterHost | undefined
  #closed = false

  constructor(options: InProcessAdapterOptions = {}) {
    knownKeys(options, ADAPTER_KEYS, 'InProcessAdapter')
    this.#bus = options.bus ?? new InProcessBus()
    this.nodeId = options.nodeId ?? `local-${++nextNode}`
    nodesOf(this.#bus).add(this)
  }

  attach(host: RoomsAdapterHost): void {
    if (this.#host) {
      throw argError('ERR_INVALID_ARG_VALUE', 'this adapter is already attached to a room manager')
    }
    this.#host = host
  }

  subscribe(room: string): void {
    if (!this.#closed) this.#subscribed.add(room)
  }

  unsubscribe(room: string): void {
    this.#subscribed.delete(room)
  }

  publish(room: string, bytes: Uint8Array, options: PublishOptions): void {
    this.#send({ kind: 'publish', from: this.nodeId, room, bytes, exclude: options.exclude })
  }

  join(room: string, member: MemberInfo): void {
    let members = this.#members.get(room)
    if (!members) {
      members = new Map()
      this.#members.set(room, members)
    }
    members.set(member.connectionId, member)
    this.#send({ kind: 'join', from: this.nodeId, room, member: this.#stamp(member) })
  }

  leave(room: string, member: MemberInfo): void {
    const members = this.#members.get(room)
    if (!members?.delete(member.connectionId)) return
    if (members.size === 0) this.#members.delete(room)
    this.#send({ kind: 'leave', from: this.nodeId, room, member: this.#stamp(member) })
  }

  async members(room: string): Promise<MembersResult> {
    const members: RoomMember[] = []
    for (const node of nodesOf(this.#bus)) {
      for (const member of node.#members.get(room)?.values() ?? []) {
        members.push(node.#stamp(member))
      }
    }
    return { members, complete: true }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const [room, members] of this.#members) {
      for (const member of members.values()) {
        this.#send({ kind: 'leave', from: this.nodeId, room, member: this.#stamp(member) })
      }
    }
    this.#members.clear()
    this.#subscribed.clear()
    nodesOf(this.#bus).delete(this)
    this.#host = undefined
  }

  #stamp(member: MemberInfo): RoomMember {
    return {
      connectionId: member.connectionId,
      metadata: member.metadata,
      joinedAt: member.joinedAt,
      nodeId: this.nodeId,
    }
  }

  #send(envelope: Envelope): void {
    for (const node of nodesOf(this.#bus)) {
      if (node !== this && node.#subscribed.has(envelope.room)) {
        queueMicrotask(() => node.#receive(envelope))
      }
    }
  }

  #receive(envelope: Envelope): void {
    const host = this.#host
    if (!host || this.#closed || envelope.from === this.nodeId) return
    // The room may have been unsubscribed between send and receive.
    if (!this.#subscribed.has(envelope.room)) return
    if (envelope.kind === 'publish') host.deliver(envelope.room, envelope.bytes, envelope.exclude)
    else if (envelope.kind === 'join') host.remoteJoined(envelope.room, envelope.member)
    else host.remoteLeft(envelope.room, envelope.member)
  }
}
