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
import { memberField, type Names, names } from './channels.ts'
import {
  type Connection,
  closeConnection,
  clusterServesEverySlot,
  clusterUnavailable,
  isClusterSource,
  openConnection,
} from './connections.ts'
import { EnvelopeKind, RecordType } from './constants.ts'
import {
  decodeEnvelope,
  encodeNodeHeader,
  type MembersRequestEnvelope,
  type RoomEnvelope,
  type RoomRecord,
} from './envelope.ts'
import { RedisAdapterErrorCode } from './errors.ts'
import { InFlight } from './in-flight.ts'
import { Liveness, type ReapedMember } from './liveness.ts'
import { decodeMemberInfo, encodeMemberInfo } from './member-info.ts'
import { MembersQueries } from './members-query.ts'
import { type RedisAdapterOptions, type ResolvedOptions, resolveOptions } from './options.ts'
import { RoomBatcher } from './room-batcher.ts'
import { StreamTransport } from './stream-transport.ts'
import type { RedisAdapterEvents, RedisAdapterStats } from './types.ts'

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
  readonly #pub: Connection
  readonly #sub: Connection
  /** Durable mode: the stream's writer and reader connections, and the transport on them. */
  readonly #stream:
    | { writer: Connection; reader: Connection; transport: StreamTransport }
    | undefined
  readonly #rooms = new Set<string>()
  /** Local members per room, with their description as published (for the registry and goodbyes). */
  readonly #members = new Map<string, Map<string, Buffer>>()
  readonly #batcher: RoomBatcher
  readonly #queries: MembersQueries
  readonly #liveness: Liveness
  readonly #inFlight = new InFlight()
  readonly #stats: RedisAdapterStats = {
    connected: false,
    outages: 0,
    published: 0,
    dropped: 0,
    received: 0,
    malformed: 0,
    nodesReaped: 0,
    incompleteMembers: 0,
    resent: 0,
    duplicates: 0,
    missed: 0,
    streamResets: 0,
    outbox: 0,
  }
  #host: RoomsAdapterHost | undefined
  #closed = false
  #wasConnected = false
  #subscribed = false
  #down = false
  readonly #cluster: boolean
  /** On a cluster: a command failed for want of a master since the last heartbeat. */
  #failedSinceBeat = false
  #resolveReady: () => void = () => {}
  #rejectReady: (error: Error) => void = () => {}

  constructor(options?: RedisAdapterOptions) {
    super()
    this.#options = resolveOptions(options)
    this.#cluster = isClusterSource(this.#options.redis)
    this.nodeId = this.#options.nodeId
    this.#names = names(this.#options.prefix)
    this.#header = encodeNodeHeader(this.nodeId)
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve
      this.#rejectReady = reject
    })
    this.ready.catch(() => {})
    this.#pub = openConnection(this.#options.redis, `verb-tcp-rooms:${this.nodeId}:pub`)
    this.#sub = openConnection(
      this.#options.redis,
      `verb-tcp-rooms:${this.nodeId}:sub`,
      this.#options.sharded,
    )
    this.#stream = this.#options.delivery === 'durable' ? this.#openStream() : undefined
    const stream = this.#stream?.transport
    this.#batcher = new RoomBatcher({
      canSend: () => stream !== undefined || this.#pub.status === 'ready',
      header: this.#header,
      publish: (room, envelope, records) => {
        if (stream === undefined) {
          return this.#inFlight.track(this.#pub, this.#publishRaw(this.#names.room(room), envelope))
        }
        // The outbox keeps it until Redis has it: nothing for the batcher to wait for.
        stream.send(envelope, records)
        return Promise.resolve()
      },
      dropped: (records) => {
        this.#stats.dropped += records
      },
      report: (error) => this.#report(error),
    })
    this.#queries = new MembersQueries({
      header: this.#header,
      requestsChannel: this.#names.requests,
      replyChannel: (nodeId) => this.#names.reply(nodeId),
      publish: (channel, envelope) => this.#publishRaw(channel, envelope),
      report: (error) => this.#report(error),
      malformed: () => this.#stats.malformed++,
      incomplete: () => this.#stats.incompleteMembers++,
      // A classic PUBLISH on a cluster answers with the receivers on one node only: the nodes
      // registered in the liveness set are expected instead (a dead one not yet reaped makes
      // the answer wait for the timeout, and come back incomplete).
      ...(this.#cluster &&
        !this.#options.sharded && { nodes: () => this.#pub.scard(this.#names.nodes) }),
    })
    this.#liveness = new Liveness({
      pub: this.#pub,
      names: this.#names,
      nodeId: this.nodeId,
      nodeTimeoutMs: this.#options.nodeTimeoutMs,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      reregister: (announce) => this.#reregister(announce),
      reaped: (nodeId, members) => this.#onReaped(nodeId, members),
      alive: () => this.#alive(),
      lost: (error) => this.#lost(error),
    })
    for (const redis of [this.#pub, this.#sub]) {
      // ioredis emits 'error' for every failed (re)connect; an adapter must not crash its process.
      redis.on('error', (error: Error) => this.#lost(error))
      redis.on('close', () => this.#lost(new Error('connection to Redis closed')))
      redis.on('ready', () => this.#onReady(redis))
      redis.on('close', () => this.#inFlight.forget(redis))
    }
    // Only a new subscribe connection needs the channels again; a publish connection that drops
    // and comes back while the other one stays up must not wait for a resubscription.
    this.#sub.on('close', () => {
      this.#subscribed = false
    })
    this.#pub.on('close', () => this.#batcher.connectionClosed())
    const onMessage = (_channel: Buffer, message: Buffer) => this.#onMessage(message)
    this.#sub.on(this.#options.sharded ? 'smessageBuffer' : 'messageBuffer', onMessage)
  }

  /** A copy of the counters. */
  get stats(): RedisAdapterStats {
    return { ...this.#stats, outbox: this.#stream?.transport.unacked ?? 0 }
  }

  /** Durable mode's two connections and the transport on them, wired to this adapter. */
  #openStream(): { writer: Connection; reader: Connection; transport: StreamTransport } {
    const { redis, nodeId } = this.#options
    // ioredis must not write their commands again after a reconnect: the transport does, in
    // sequence order, after checking whether Redis kept the stream.
    const writer = openConnection(redis, `verb-tcp-rooms:${nodeId}:xadd`, false, false)
    const reader = openConnection(redis, `verb-tcp-rooms:${nodeId}:xread`, false, false)
    const transport = new StreamTransport({
      writer,
      reader,
      stream: this.#names.stream,
      generation: this.#names.generation,
      nodeId,
      maxLen: this.#options.streamMaxLen,
      maxBytes: this.#options.outboxMaxBytes,
      maxAgeMs: this.#options.outboxMaxAgeMs,
      stats: this.#stats,
      deliver: (envelope) => this.#onMessage(envelope),
      changed: () => this.#checkUp(),
      lost: (error) => this.#lost(error),
    })
    for (const redis of [writer, reader]) {
      redis.on('error', (error: Error) => this.#lost(error))
      redis.on('close', () => this.#lost(new Error('connection to Redis closed')))
    }
    writer.on('ready', () => {
      if (!this.#closed) transport.writerReady()
    })
    writer.on('close', () => transport.writerClosed())
    reader.on('ready', () => {
      if (!this.#closed) transport.readerReady()
    })
    reader.on('close', () => transport.readerClosed())
    return { writer, reader, transport }
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
    // Durable mode reads every room's traffic from the stream and keeps what #rooms has.
    if (this.#stream === undefined && this.#sub.status === 'ready')
      void this.#subscribeChannels([this.#names.room(room)])
  }

  unsubscribe(room: string): void {
    if (!this.#rooms.delete(room)) return
    if (this.#stream !== undefined || this.#sub.status !== 'ready') return
    const channel = this.#names.room(room)
    const done = this.#options.sharded
      ? this.#sub.sunsubscribe(channel)
      : this.#sub.unsubscribe(channel)
    this.#inFlight.track(this.#sub, done).catch((error: Error) => this.#lost(error))
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
    return this.#queries.ask(room, members, options.timeoutMs ?? this.#options.membersTimeoutMs)
  }

  /**
   * Resolves when every subscribe and unsubscribe issued so far is confirmed by Redis and this
   * turn's envelopes are published: after it, a broadcast from another node reaches this node's
   * new rooms. For tests and orderly startups; never rejects.
   */
  async settled(): Promise<void> {
    this.#batcher.flush()
    await this.#inFlight.settled()
    // Durable mode: also acknowledged by Redis, and the stream read up to its end.
    await this.#stream?.transport.settled()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#liveness.stop()
    this.#rejectReady(
      new VerbTcpError(RedisAdapterErrorCode.ADAPTER_CLOSED, 'the adapter was closed'),
    )
    this.#queries.finishAll()
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
      this.#stream?.writer.disconnect()
    }
    this.#stream?.transport.close()
    this.#stream?.reader.disconnect()
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
    const connections = [this.#pub, this.#sub]
    if (this.#stream !== undefined) connections.push(this.#stream.writer)
    await Promise.all(connections.map(closeConnection))
  }

  // -- sending -------------------------------------------------------------------------------

  /** Queues a record for its room's envelope (after close, only the goodbye's leaves). */
  #record(room: string, record: RoomRecord): void {
    if (this.#closed && record.type !== RecordType.LEAVE) return
    this.#batcher.add(room, record)
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
    // On a cluster, the channels of one SSUBSCRIBE must share a slot: one channel per command.
    const size = this.#options.sharded && this.#cluster ? 1 : 1000
    for (let i = 0; i < channels.length; i += size) {
      const chunk = channels.slice(i, i + size)
      done.push(
        this.#options.sharded ? this.#sub.ssubscribe(...chunk) : this.#sub.subscribe(...chunk),
      )
    }
    return this.#inFlight.track(this.#sub, Promise.all(done)).then(
      () => true,
      (error: Error) => {
        this.#lost(error)
        return false
      },
    )
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
        this.#queries.onReply(envelope)
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
    this.#queries.answer(envelope, list)
  }

  // -- connection state and liveness ---------------------------------------------------------

  #onReady(redis: Connection): void {
    if (this.#closed) return
    if (redis === this.#sub) {
      const channels = [this.#names.requests, this.#names.reply(this.nodeId)]
      if (this.#stream === undefined) {
        for (const room of this.#rooms) channels.push(this.#names.room(room))
      }
      void this.#subscribeChannels(channels).then((ok) => {
        if (!ok) return
        this.#subscribed = true
        this.#checkUp()
      })
    } else {
      this.#liveness.beat()
      this.#checkUp()
    }
  }

  #checkUp(): void {
    if (this.#closed || !this.#subscribed) return
    if (this.#pub.status !== 'ready' || this.#sub.status !== 'ready') return
    if (this.#stream !== undefined && !this.#stream.transport.up) return
    this.#stats.connected = true
    this.#liveness.start()
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
    if (this.#pub.status === 'ready' && this.#sub.status === 'ready' && this.#streamReady()) {
      if (!this.#cluster || !clusterUnavailable(error)) {
        // A command failed on live connections: reported, no outage.
        this.#report(reported)
        return
      }
      // A cluster connection stays ready while one of its masters is gone: commands failing
      // for want of a master are how that outage shows, and it is reported as one.
      this.#failedSinceBeat = true
    }
    this.#stats.connected = false
    // ioredis reports every failed reconnect attempt; one outage is reported once.
    if (this.#down) return
    this.#down = true
    if (this.#wasConnected) this.#stats.outages++
    this.#report(reported)
    this.emit('redisDown', reported)
  }

  /**
   * A heartbeat went through. On a cluster, an outage seen as failing commands ends at the
   * first heartbeat with no failure since the one before: the rooms are subscribed again (a
   * master that came back empty has none of them) and cross-node delivery resumes.
   */
  #alive(): void {
    // Durable mode: an XADD Redis refused is tried again at the next heartbeat.
    this.#stream?.transport.retry()
    const failed = this.#failedSinceBeat
    this.#failedSinceBeat = false
    if (!this.#cluster || !this.#down || failed || this.#closed) return
    if (this.#pub.status !== 'ready' || this.#sub.status !== 'ready') return
    const rooms = this.#stream === undefined ? [...this.#rooms] : []
    const channels = rooms.map((room) => this.#names.room(room))
    // Until the cluster itself sees every slot served again, a quiet room on a master still
    // down would end the outage that its next broadcast starts again.
    void clusterServesEverySlot(this.#pub)
      .then((ok) => ok && this.#subscribeChannels(channels))
      .then((ok) => {
        if (ok) this.#checkUp()
      })
  }

  /** Durable mode's connections are ready too (always true in at-most-once mode). */
  #streamReady(): boolean {
    const stream = this.#stream
    return (
      stream === undefined || (stream.writer.status === 'ready' && stream.reader.status === 'ready')
    )
  }

  #report(error: Error): void {
    this.#host?.error(error)
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

  #onReaped(nodeId: string, members: ReapedMember[]): void {
    let count = 0
    for (const { room, connection, info } of members) {
      const member = decodeMemberInfo(connection, info)
      if (member === undefined) continue
      count++
      // Members here hear it now; other nodes through the room channel.
      if (this.#rooms.has(room)) this.#host?.remoteLeft(room, member)
      this.#record(room, { type: RecordType.LEAVE, connection, payload: info })
    }
    this.#stats.nodesReaped++
    this.emit('nodeDown', { nodeId, members: count })
  }
}
