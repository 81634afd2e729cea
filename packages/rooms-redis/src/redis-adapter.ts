import { EventEmitter } from 'node:events'
import { ProtocolError, VerbTcpError } from '@verb-tcp/core'
import { argError } from '@verb-tcp/core/validate'
import type {
  MemberInfo,
  MembersOptions,
  MembersResult,
  PublishOptions,
  RoomMember,
  RoomsAdapter,
  RoomsAdapterHost,
} from '@verb-tcp/rooms'
import type { Redis } from 'ioredis'
import { memberField, type Names, names } from './channels.ts'
import { closeConnection, openConnection } from './connections.ts'
import { EnvelopeKind, RecordType } from './constants.ts'
import {
  decodeEnvelope,
  encodeMembersReply,
  encodeMembersRequest,
  encodeNodeHeader,
  encodeRoomEnvelope,
  type MembersReplyEnvelope,
  type MembersRequestEnvelope,
  type RoomEnvelope,
  type RoomRecord,
} from './envelope.ts'
import { RedisAdapterErrorCode } from './errors.ts'
import { HEARTBEAT_SCRIPT, REAP_SCRIPT } from './liveness.ts'
import { decodeMemberInfo, encodeMemberInfo } from './member-info.ts'
import { type RedisAdapterOptions, type ResolvedOptions, resolveOptions } from './options.ts'

/** Counters, for dashboards and tests. Read through `adapter.stats` (a copy). */
export interface RedisAdapterStats {
  /** True while both connections to Redis are ready. */
  connected: boolean
  /** Times the adapter lost Redis after having had it. */
  outages: number
  /** Envelopes published. */
  published: number
  /** Broadcasts and notices not sent to other nodes because Redis was away (lost: at most once). */
  dropped: number
  /** Envelopes received from other nodes. */
  received: number
  /** Envelopes that could not be decoded: counted and ignored. */
  malformed: number
  /** Nodes this node declared dead (their heartbeat key expired) and removed. */
  nodesReaped: number
  /** `members()` answers that lacked some node's reply. */
  incompleteMembers: number
}

export interface RedisAdapterEvents {
  /** Redis became unreachable (or refused a command). Local delivery goes on. */
  redisDown: [error: VerbTcpError]
  /** Both connections are back; rooms are resubscribed and cross-node delivery resumes. */
  redisUp: []
  /** Another node's heartbeat expired; its members were announced as left. */
  nodeDown: [info: { nodeId: string; members: number }]
  /** An envelope could not be decoded; it was ignored. */
  malformed: [error: ProtocolError]
}

interface PendingQuery {
  members: RoomMember[]
  repliedBy: Set<string>
  expected: number | undefined
  resolve: (result: MembersResult) => void
  timer: NodeJS.Timeout
}

/** Above this many bytes of records waiting for the end of the turn, a room's batch goes out at once. */
const FLUSH_BYTES = 256 * 1024

/**
 * The `@verb-tcp/rooms` adapter on Redis. Every node delivers to its own members; this adapter
 * carries each broadcast's bytes to the other nodes with members in the room (one channel per
 * room, subscribed while the node has members there), tells them who joined and left, answers
 * members queries across nodes, and removes the members of nodes that die.
 */
export class RedisAdapter extends EventEmitter<RedisAdapterEvents> implements RoomsAdapter {
  readonly nodeId: string
  /** Resolves once both connections are up and the node is registered. Rejects only if closed first. */
  readonly ready: Promise<void>

  readonly #options: ResolvedOptions
  readonly #names: Names
  readonly #header: Buffer
  readonly #pub: Redis
  readonly #sub: Redis
  readonly #rooms = new Set<string>()
  /** Local members per room, with their description as published (for the registry and goodbyes). */
  readonly #members = new Map<string, Map<string, Buffer>>()
  readonly #batches = new Map<string, { records: RoomRecord[]; bytes: number }>()
  readonly #queries = new Map<number, PendingQuery>()
  readonly #stats: RedisAdapterStats = {
    connected: false,
    outages: 0,
    published: 0,
    dropped: 0,
    received: 0,
    malformed: 0,
    nodesReaped: 0,
    incompleteMembers: 0,
  }
  #host: RoomsAdapterHost | undefined
  #closed = false
  #flushScheduled = false
  /**
   * Room envelopes sent and not yet answered by Redis. While any is, new records wait and go out
   * together when the last answer comes: under load a node sends one PUBLISH per room per round
   * trip instead of one per turn, so every node gets fewer, larger envelopes (fewer turns, fewer
   * writes to its members); when idle, a broadcast still goes out at the end of its turn.
   */
  #unanswered = 0
  /** Bumped when the publish connection closes: answers from before it no longer hold anything back. */
  #publishEpoch = 0
  #nextQuery = 0
  #heartbeat: NodeJS.Timeout | undefined
  #wasConnected = false
  #subscribed = false
  /**
   * Commands `settled()` waits for, per connection. When a connection closes, ioredis keeps the
   * commands it had written to resend them after a reconnect, and their promises stay pending
   * until then (forever if Redis does not come back): they are forgotten here instead, so neither
   * `settled()` nor `close()` waits on a Redis that is gone.
   */
  readonly #inFlight = new Map<Redis, Set<Promise<unknown>>>()
  /** Wakes the `settled()` calls waiting right now when a connection closes. */
  readonly #wakeOnClose = new Set<() => void>()
  #down = false
  #resolveReady: () => void = () => {}
  #rejectReady: (error: Error) => void = () => {}

  constructor(options?: RedisAdapterOptions) {
    super()
    this.#options = resolveOptions(options)
    this.nodeId = this.#options.nodeId
    this.#names = names(this.#options.prefix)
    this.#header = encodeNodeHeader(this.nodeId)
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve
      this.#rejectReady = reject
    })
    this.ready.catch(() => {})
    this.#pub = openConnection(this.#options.redis, `verb-tcp-rooms:${this.nodeId}:pub`)
    this.#sub = openConnection(this.#options.redis, `verb-tcp-rooms:${this.nodeId}:sub`)
    for (const redis of [this.#pub, this.#sub]) {
      // ioredis emits 'error' for every failed (re)connect; an adapter must not crash its process.
      redis.on('error', (error: Error) => this.#lost(error))
      redis.on('close', () => this.#lost(new Error('connection to Redis closed')))
      redis.on('ready', () => this.#onReady(redis))
      redis.on('close', () => this.#forgetInFlight(redis))
    }
    // Only a new subscribe connection needs the channels again; a publish connection that drops
    // and comes back while the other one stays up must not wait for a resubscription.
    this.#sub.on('close', () => {
      this.#subscribed = false
    })
    // Publishes lost with the connection may never be answered: they must not hold the next ones.
    this.#pub.on('close', () => {
      this.#publishEpoch++
      this.#unanswered = 0
      if (this.#batches.size > 0) this.#scheduleFlush()
    })
    const onMessage = (_channel: Buffer, message: Buffer) => this.#onMessage(message)
    this.#sub.on(this.#options.sharded ? 'smessageBuffer' : 'messageBuffer', onMessage)
  }

  /** A copy of the counters. */
  get stats(): RedisAdapterStats {
    return { ...this.#stats }
  }

  attach(host: RoomsAdapterHost): void {
    if (this.#host !== undefined) {
      throw argError('ERR_INVALID_ARG_VALUE', 'this adapter is already attached to a room manager')
    }
    this.#host = host
  }

  subscribe(room: string): void {
    if (this.#closed || this.#rooms.has(room)) return
    this.#rooms.add(room)
    if (this.#sub.status === 'ready') void this.#subscribeChannels([this.#names.room(room)])
  }

  unsubscribe(room: string): void {
    if (!this.#rooms.delete(room)) return
    if (this.#sub.status !== 'ready') return
    const channel = this.#names.room(room)
    const done = this.#options.sharded
      ? this.#sub.sunsubscribe(channel)
      : this.#sub.unsubscribe(channel)
    this.#track(this.#sub, done).catch((error: Error) => this.#lost(error))
  }

  publish(room: string, bytes: Uint8Array, options: PublishOptions): void {
    this.#record(room, { type: RecordType.MESSAGE, connection: options.exclude, payload: bytes })
  }

  join(room: string, member: MemberInfo): void {
    if (this.#closed) return
    let members = this.#members.get(room)
    if (members === undefined) {
      members = new Map()
      this.#members.set(room, members)
    }
    if (members.has(member.connectionId)) return
    const info = encodeMemberInfo(this.nodeId, member)
    members.set(member.connectionId, info)
    this.#command(() =>
      this.#pub.hset(
        this.#names.members(this.nodeId),
        memberField(room, member.connectionId),
        info,
      ),
    )
    this.#record(room, { type: RecordType.JOIN, connection: member.connectionId, payload: info })
  }

  leave(room: string, member: MemberInfo): void {
    const members = this.#members.get(room)
    const info = members?.get(member.connectionId)
    if (members === undefined || info === undefined) return
    members.delete(member.connectionId)
    if (members.size === 0) this.#members.delete(room)
    // The registry first: a node that dies between the two loses the notice (at most once)
    // rather than having it sent twice.
    this.#command(() =>
      this.#pub.hdel(this.#names.members(this.nodeId), memberField(room, member.connectionId)),
    )
    this.#record(room, { type: RecordType.LEAVE, connection: member.connectionId, payload: info })
  }

  async members(room: string, options: MembersOptions = {}): Promise<MembersResult> {
    const local = this.#host?.localMembers(room) ?? []
    const members: RoomMember[] = local.map((m) => ({
      connectionId: m.connectionId,
      metadata: m.metadata,
      joinedAt: m.joinedAt,
      nodeId: this.nodeId,
    }))
    if (this.#closed || !this.#stats.connected) {
      this.#stats.incompleteMembers++
      return { members, complete: false }
    }
    // The query goes out after this node's earlier envelopes and subscriptions, so an answer
    // also means the other nodes have seen everything this node sent before asking.
    await this.settled()
    this.#nextQuery = (this.#nextQuery + 1) >>> 0
    const requestId = this.#nextQuery
    const timeoutMs = options.timeoutMs ?? this.#options.membersTimeoutMs
    return new Promise<MembersResult>((resolve) => {
      const query: PendingQuery = {
        members,
        repliedBy: new Set(),
        expected: undefined,
        resolve,
        timer: setTimeout(() => this.#finishQuery(requestId, false), timeoutMs),
      }
      this.#queries.set(requestId, query)
      let envelope: Buffer
      try {
        envelope = encodeMembersRequest(this.#header, requestId, room)
      } catch (error) {
        this.#report(error as Error)
        this.#finishQuery(requestId, false)
        return
      }
      this.#publishRaw(this.#names.requests, envelope).then(
        (receivers) => {
          // Every subscriber of the request channel got it, this node's own subscription included.
          query.expected = Math.max(0, receivers - 1)
          if (query.repliedBy.size >= query.expected) this.#finishQuery(requestId, true)
        },
        () => this.#finishQuery(requestId, false),
      )
    })
  }

  /**
   * Resolves when every subscribe and unsubscribe issued so far is confirmed by Redis and this
   * turn's envelopes are published: after it, a broadcast from another node reaches this node's
   * new rooms. For tests and orderly startups; never rejects.
   */
  async settled(): Promise<void> {
    this.#flush()
    for (let i = 0; i < 100; i++) {
      const pending = [...this.#inFlight.values()].flatMap((operations) => [...operations])
      if (pending.length === 0) return
      let wake = () => {}
      const closed = new Promise<void>((resolve) => {
        wake = resolve
      })
      this.#wakeOnClose.add(wake)
      await Promise.race([Promise.allSettled(pending), closed])
      this.#wakeOnClose.delete(wake)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#heartbeat)
    this.#rejectReady(
      new VerbTcpError(RedisAdapterErrorCode.ADAPTER_CLOSED, 'the adapter was closed'),
    )
    for (const id of [...this.#queries.keys()]) this.#finishQuery(id, false)
    // Goodbye: this node's members leave everywhere at once, not after the node timeout.
    for (const [room, members] of this.#members) {
      for (const [connection, info] of members) {
        this.#record(room, { type: RecordType.LEAVE, connection, payload: info })
      }
    }
    this.#members.clear()
    this.#rooms.clear()
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(resolve, this.#options.closeTimeoutMs, false)
    })
    const orderly = await Promise.race([this.#goodbye().then(() => true as const), late])
    clearTimeout(timer)
    if (!orderly) {
      this.#pub.disconnect()
      this.#sub.disconnect()
    }
    this.#host = undefined
    this.#stats.connected = false
  }

  /** Publishes the leaves, deletes this node's keys, then QUITs: in that order, or they are lost. */
  async #goodbye(): Promise<void> {
    await this.settled()
    if (this.#pub.status === 'ready') {
      const id = this.nodeId
      await this.#pub
        .multi()
        .del(this.#names.members(id), this.#names.heartbeat(id))
        .srem(this.#names.nodes, id)
        .exec()
        .catch(() => {})
    }
    this.#host = undefined
    await Promise.all([closeConnection(this.#pub), closeConnection(this.#sub)])
  }

  // -- sending -------------------------------------------------------------------------------

  /** Queues a record for its room's envelope; envelopes go out at the end of the turn. */
  #record(room: string, record: RoomRecord): void {
    if (this.#closed && record.type !== RecordType.LEAVE) return
    let batch = this.#batches.get(room)
    if (batch === undefined) {
      batch = { records: [], bytes: 0 }
      this.#batches.set(room, batch)
    }
    batch.records.push(record)
    batch.bytes += record.payload.length
    if (batch.bytes >= FLUSH_BYTES) {
      this.#batches.delete(room)
      this.#send(room, batch.records)
    }
    if (this.#unanswered === 0) this.#scheduleFlush()
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    setImmediate(() => this.#flush())
  }

  /** Sends every waiting batch now, whatever is still unanswered. */
  #flush(): void {
    this.#flushScheduled = false
    if (this.#batches.size === 0) return
    const batches = [...this.#batches]
    this.#batches.clear()
    for (const [room, batch] of batches) this.#send(room, batch.records)
  }

  #send(room: string, records: RoomRecord[]): void {
    if (this.#pub.status !== 'ready') {
      this.#stats.dropped += records.length
      return
    }
    let envelope: Buffer
    try {
      envelope = encodeRoomEnvelope(this.#header, room, records)
    } catch (error) {
      this.#stats.dropped += records.length
      this.#report(error as Error)
      return
    }
    const epoch = this.#publishEpoch
    this.#unanswered++
    const answered = () => {
      if (epoch !== this.#publishEpoch) return
      this.#unanswered--
      if (this.#unanswered === 0 && this.#batches.size > 0) this.#scheduleFlush()
    }
    this.#track(this.#pub, this.#publishRaw(this.#names.room(room), envelope)).then(
      answered,
      () => {
        this.#stats.dropped += records.length
        answered()
      },
    )
  }

  /** Publishes, counting it; resolves with the number of receivers, rejects (reported) on failure. */
  #publishRaw(channel: string, envelope: Buffer): Promise<number> {
    const sent: Promise<number> = this.#options.sharded
      ? (this.#pub.spublish(channel, envelope) as Promise<number>)
      : this.#pub.publish(channel, envelope)
    this.#stats.published++
    return sent.catch((error: Error) => {
      this.#stats.published--
      this.#lost(error)
      throw error
    })
  }

  /** Runs a registry command while connected; a failure is an outage, never a rejection. */
  #command(run: () => Promise<unknown>): void {
    if (this.#pub.status !== 'ready') return
    run().catch((error: Error) => this.#lost(error))
  }

  /** Resolves when Redis confirmed every subscription (or the attempt failed, reported). */
  #subscribeChannels(channels: string[]): Promise<boolean> {
    const done: Promise<unknown>[] = []
    for (let i = 0; i < channels.length; i += 1000) {
      const chunk = channels.slice(i, i + 1000)
      done.push(
        this.#options.sharded ? this.#sub.ssubscribe(...chunk) : this.#sub.subscribe(...chunk),
      )
    }
    return this.#track(this.#sub, Promise.all(done)).then(
      () => true,
      (error: Error) => {
        this.#lost(error)
        return false
      },
    )
  }

  /** Keeps `settled()` waiting for `operation`. */
  #track<T>(connection: Redis, operation: Promise<T>): Promise<T> {
    let operations = this.#inFlight.get(connection)
    if (operations === undefined) {
      operations = new Set()
      this.#inFlight.set(connection, operations)
    }
    const tracked = operations
    tracked.add(operation)
    const forget = () => tracked.delete(operation)
    operation.then(forget, forget)
    return operation
  }

  /** The connection closed: what it had in flight may never be answered (see `#inFlight`). */
  #forgetInFlight(connection: Redis): void {
    this.#inFlight.delete(connection)
    for (const wake of this.#wakeOnClose) wake()
  }

  // -- receiving -----------------------------------------------------------------------------

  #onMessage(message: Buffer): void {
    const header = this.#header
    // Own envelopes come back from Redis; the local delivery was done when they were sent.
    if (
      message.length >= header.length &&
      message[2] === header[2] &&
      message.subarray(3, header.length).equals(header.subarray(3))
    ) {
      return
    }
    const host = this.#host
    if (host === undefined || this.#closed) return
    const envelope = decodeEnvelope(message)
    if (envelope.kind === 0) {
      this.#stats.malformed++
      const error = new ProtocolError(
        RedisAdapterErrorCode.MALFORMED_ENVELOPE,
        `ignored a malformed envelope: ${envelope.reason}`,
        { recoverable: true },
      )
      if (this.listenerCount('malformed') > 0) this.emit('malformed', error)
      return
    }
    this.#stats.received++
    if (envelope.nodeId === this.nodeId) return
    switch (envelope.kind) {
      case EnvelopeKind.ROOM:
        this.#onRoom(host, envelope)
        break
      case EnvelopeKind.MEMBERS_REQUEST:
        this.#onMembersRequest(host, envelope)
        break
      case EnvelopeKind.MEMBERS_REPLY:
        this.#onMembersReply(envelope)
        break
    }
  }

  #onRoom(host: RoomsAdapterHost, envelope: RoomEnvelope): void {
    const { room } = envelope
    // A room unsubscribed a moment ago may still get traffic already in flight.
    if (!this.#rooms.has(room)) return
    for (const record of envelope.records) {
      if (record.type === RecordType.MESSAGE) {
        host.deliver(room, record.payload, record.connection)
        continue
      }
      const member = decodeMemberInfo(record.connection as string, record.payload)
      if (member === undefined) {
        this.#stats.malformed++
        continue
      }
      if (record.type === RecordType.JOIN) host.remoteJoined(room, member)
      else host.remoteLeft(room, member)
    }
  }

  #onMembersRequest(host: RoomsAdapterHost, envelope: MembersRequestEnvelope): void {
    const members = this.#members.get(envelope.room)
    const list = members
      ? [...members].map(([connectionId, info]) => ({ connectionId, info }))
      : host.localMembers(envelope.room).map((m) => ({
          connectionId: m.connectionId,
          info: encodeMemberInfo(this.nodeId, m),
        }))
    let reply: Buffer
    try {
      reply = encodeMembersReply(this.#header, envelope.requestId, list)
    } catch (error) {
      this.#report(error as Error)
      return
    }
    this.#publishRaw(this.#names.reply(envelope.nodeId), reply).catch(() => {})
  }

  #onMembersReply(envelope: MembersReplyEnvelope): void {
    const query = this.#queries.get(envelope.requestId)
    if (query === undefined || query.repliedBy.has(envelope.nodeId)) return
    query.repliedBy.add(envelope.nodeId)
    for (const { connectionId, info } of envelope.members) {
      const member = decodeMemberInfo(connectionId, info)
      if (member === undefined) this.#stats.malformed++
      else query.members.push(member)
    }
    if (query.expected !== undefined && query.repliedBy.size >= query.expected) {
      this.#finishQuery(envelope.requestId, true)
    }
  }

  #finishQuery(requestId: number, complete: boolean): void {
    const query = this.#queries.get(requestId)
    if (query === undefined) return
    this.#queries.delete(requestId)
    clearTimeout(query.timer)
    if (!complete) this.#stats.incompleteMembers++
    query.resolve({ members: query.members, complete })
  }

  // -- connection state and liveness ---------------------------------------------------------

  #onReady(redis: Redis): void {
    if (this.#closed) return
    if (redis === this.#sub) {
      const channels = [this.#names.requests, this.#names.reply(this.nodeId)]
      for (const room of this.#rooms) channels.push(this.#names.room(room))
      void this.#subscribeChannels(channels).then((ok) => {
        if (!ok) return
        this.#subscribed = true
        this.#checkUp()
      })
    } else {
      this.#beat()
      this.#checkUp()
    }
  }

  #checkUp(): void {
    if (this.#closed || !this.#subscribed) return
    if (this.#pub.status !== 'ready' || this.#sub.status !== 'ready') return
    this.#stats.connected = true
    if (this.#heartbeat === undefined) {
      this.#heartbeat = setInterval(() => this.#beat(), this.#options.heartbeatIntervalMs)
      this.#heartbeat.unref()
    }
    if (!this.#wasConnected) {
      this.#wasConnected = true
      this.#resolveReady()
    }
    if (this.#down) {
      this.#down = false
      this.emit('redisUp')
    }
  }

  #lost(error: Error): void {
    if (this.#closed) return
    const reported = new VerbTcpError(
      RedisAdapterErrorCode.REDIS_UNAVAILABLE,
      `Redis is unavailable: ${error.message}`,
      { cause: error },
    )
    if (this.#pub.status === 'ready' && this.#sub.status === 'ready') {
      // A command failed on live connections: reported, no outage.
      this.#report(reported)
      return
    }
    this.#stats.connected = false
    // ioredis reports every failed reconnect attempt; one outage is reported once.
    if (this.#down) return
    this.#down = true
    if (this.#wasConnected) this.#stats.outages++
    this.#report(reported)
    this.emit('redisDown', reported)
  }

  #report(error: Error): void {
    this.#host?.error(error)
  }

  /** Refreshes this node's heartbeat, re-registers it if Redis forgot it, and reaps dead nodes. */
  #beat(): void {
    if (this.#closed || this.#pub.status !== 'ready') return
    const n = this.#names
    const id = this.nodeId
    const ttl = this.#options.nodeTimeoutMs
    this.#pub
      .eval(HEARTBEAT_SCRIPT, 3, n.nodes, n.heartbeat(id), n.reaped(id), id, ttl)
      .then((state) => {
        if (state !== 0) this.#reregister(state === 2)
        return this.#pub.eval(REAP_SCRIPT, 1, n.nodes, n.keyPrefix, id, ttl * 4)
      })
      .then((reaped) => this.#onReaped(reaped as unknown[]))
      .catch((error: Error) => this.#lost(error))
  }

  /** Writes every local member back into the registry; after a false death, announces them again. */
  #reregister(announce: boolean): void {
    if (this.#members.size === 0) return
    const fields: (string | Buffer)[] = []
    for (const [room, members] of this.#members) {
      for (const [connection, info] of members) {
        fields.push(memberField(room, connection), info)
        if (announce) this.#record(room, { type: RecordType.JOIN, connection, payload: info })
      }
    }
    this.#command(() => this.#pub.hset(this.#names.members(this.nodeId), ...fields))
  }

  #onReaped(reaped: unknown[]): void {
    for (let i = 0; i + 1 < reaped.length; i += 2) {
      const deadNode = String(reaped[i])
      const flat = reaped[i + 1] as unknown[]
      let count = 0
      for (let j = 0; j + 1 < flat.length; j += 2) {
        const field = String(flat[j])
        const colon = field.indexOf(':')
        const roomLength = Number(field.slice(0, colon))
        const room = field.slice(colon + 1, colon + 1 + roomLength)
        const connection = field.slice(colon + 1 + roomLength)
        const info = Buffer.from(String(flat[j + 1]), 'utf8')
        const member = decodeMemberInfo(connection, info)
        if (member === undefined || colon < 1) continue
        count++
        // Members here hear it now; other nodes through the room channel.
        if (this.#rooms.has(room)) this.#host?.remoteLeft(room, member)
        this.#record(room, { type: RecordType.LEAVE, connection, payload: info })
      }
      this.#stats.nodesReaped++
      this.emit('nodeDown', { nodeId: deadNode, members: count })
    }
  }
}
