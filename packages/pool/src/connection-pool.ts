import { type TCPSocket, VerbTcpError } from '@verb-tcp/core'
import { fn, knownKeys, limit, ms, oneOf, positiveInt } from '@verb-tcp/core/validate'
import { monotonic } from './clock.ts'
import {
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_IDLE_MS,
} from './constants.ts'
import { PoolErrorCode } from './errors.ts'
import { SafeEmitter } from './safe-emitter.ts'
import type {
  BroadcastResult,
  Clock,
  ConnectionPoolEvents,
  ConnectionPoolOptions,
  ConnectionStat,
  ConnectionStats,
  PoolCounters,
  RemoveReason,
  SlowReaderPolicy,
} from './types.ts'

interface Entry {
  /** The id as a number: small integers are Map keys that cost no allocation. */
  readonly key: number
  readonly socket: TCPSocket
  /** Monotonic ms, whole (small integers are stored unboxed: less memory per connection). */
  readonly since: number
  lastActivity: number
  /** Bytes moved in both directions when last observed. */
  lastBytes: number
}

const OPTIONS = [
  'maxConnections',
  'maxBufferedBytes',
  'slowReader',
  'idleTimeoutMs',
  'sweepIntervalMs',
  'now',
]

/**
 * The verb docs' `TCPConnectionPool`, made safe to lean on: a hard limit, byte-exact stats, a
 * broadcast that encodes once and cannot let a slow reader grow memory without bound, an
 * idle sweep on an unref'd timer, and no leaked listeners.
 *
 * Activity is observed, not intercepted: the pool adds no `'data'` listener (which would switch
 * the socket to flowing mode under the application's feet) and does not wrap `write`. It reads
 * `socket.bytesRead` and `socket.bytesWritten` when it sweeps, broadcasts or reports, and a
 * connection whose counters moved since the last look was active. So `lastActivity` is exact to
 * within one observation; call {@link ConnectionPool.touch} to mark activity precisely.
 */
export class ConnectionPool extends SafeEmitter<ConnectionPoolEvents> {
  readonly maxConnections: number
  readonly maxBufferedBytes: number
  readonly slowReader: SlowReaderPolicy
  readonly idleTimeoutMs: number
  readonly #now: Clock
  /** Wall-clock ms at monotonic 0, to report `connectedAt` without storing it. */
  readonly #epoch: number
  readonly #entries = new Map<number, Entry>()
  /**
   * Where a socket keeps its entry: a property of its own per pool, set to `undefined` (never
   * deleted, which would slow the socket object down) when it leaves. Cheaper than a second Map.
   */
  readonly #mark = Symbol('ConnectionPool entry')
  readonly #onClose: (this: TCPSocket) => void
  #sweeper: NodeJS.Timeout | undefined
  #closed = false
  #seq = 0
  readonly #counters: Omit<PoolCounters, 'connections'> = {
    peak: 0,
    accepted: 0,
    refusedByLimit: 0,
    closedIdle: 0,
    closedSlow: 0,
    skippedSlow: 0,
  }

  constructor(options: ConnectionPoolOptions = {}) {
    super()
    knownKeys(options, OPTIONS, 'ConnectionPool')
    this.maxConnections = limit(options.maxConnections, 'maxConnections', DEFAULT_MAX_CONNECTIONS)
    this.maxBufferedBytes = positiveInt(
      options.maxBufferedBytes,
      'maxBufferedBytes',
      DEFAULT_MAX_BUFFERED_BYTES,
    )
    this.slowReader = oneOf(options.slowReader, 'slowReader', ['close', 'skip'], 'close')
    this.idleTimeoutMs = ms(options.idleTimeoutMs, 'idleTimeoutMs', 0)
    const interval = ms(
      options.sweepIntervalMs,
      'sweepIntervalMs',
      Math.max(1, Math.floor(this.idleTimeoutMs / 4)),
      1,
    )
    const clock = fn(options.now, 'now', monotonic)
    this.#now = () => Math.floor(clock())
    this.#epoch = Date.now() - this.#now()
    const pool = this
    // One listener function per pool, not per socket: `this` is the socket that closed. Every
    // way a socket ends (end, destroy, error, reset) ends in 'close'.
    this.#onClose = function onClose(this: TCPSocket) {
      const entry = pool.#entryOf(this)
      if (entry) pool.#remove(entry, this.errored ? 'error' : 'closed')
    }
    if (this.idleTimeoutMs > 0) {
      this.#sweeper = setInterval(() => this.cleanup(this.idleTimeoutMs), interval)
      this.#sweeper.unref()
    }
  }

  /** Connections in the pool now. */
  get size(): number {
    return this.#entries.size
  }

  /** True once the pool holds `maxConnections`. */
  get full(): boolean {
    return this.#entries.size >= this.maxConnections
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Counters for monitoring; a fresh object each time. */
  get counters(): PoolCounters {
    return { connections: this.#entries.size, ...this.#counters }
  }

  /**
   * Adds `socket` and returns its id (a decimal string, never reused). Adding a socket that is
   * already in the pool returns its id. Throws a `VerbTcpError`: `ERR_CONNECTION_LIMIT` when
   * full (the socket is left alone: refusing it is the caller's business), `ERR_SOCKET_CLOSED`
   * for a destroyed socket, `ERR_POOL_CLOSED` after `close()`.
   */
  addConnection(socket: TCPSocket): string {
    const id = this.tryAddConnection(socket)
    if (id === undefined) {
      throw new VerbTcpError(
        PoolErrorCode.CONNECTION_LIMIT,
        `Connection limit reached (${this.maxConnections})`,
        { limit: this.maxConnections },
      )
    }
    return id
  }

  /** `addConnection`, but a full pool returns `undefined` instead of throwing. */
  tryAddConnection(socket: TCPSocket): string | undefined {
    if (this.#closed) {
      throw new VerbTcpError(PoolErrorCode.POOL_CLOSED, 'The connection pool is closed')
    }
    const existing = this.#entryOf(socket)
    if (existing) return String(existing.key)
    if (socket.destroyed) {
      throw new VerbTcpError(PoolErrorCode.SOCKET_CLOSED, 'Cannot add a destroyed socket')
    }
    if (this.full) {
      this.#counters.refusedByLimit++
      this.notify('refuse', socket)
      return undefined
    }
    const key = ++this.#seq
    const now = this.#now()
    const entry: Entry = {
      key,
      socket,
      since: now,
      lastActivity: now,
      lastBytes: movedBytes(socket),
    }
    this.#entries.set(key, entry)
    ;(socket as unknown as Record<symbol, Entry | undefined>)[this.#mark] = entry
    socket.on('close', this.#onClose)
    // As in the verb docs' code, a pooled socket's error cannot crash the process for want of a listener:
    // if it has none, the pool adds one that does nothing (the 'close' that follows removes
    // the connection). An application's own listener is left to do its job alone.
    if (socket.listenerCount('error') === 0) socket.on('error', ignore)
    this.#counters.accepted++
    if (this.#entries.size > this.#counters.peak) this.#counters.peak = this.#entries.size
    const id = String(key)
    this.notify('add', id, socket)
    return id
  }

  /** Destroys the connection and removes it; false if the id is not in the pool. */
  removeConnection(id: string): boolean {
    const entry = this.#entry(id)
    if (!entry) return false
    this.#remove(entry, 'removed')
    entry.socket.destroy()
    return true
  }

  has(id: string): boolean {
    return this.#entry(id) !== undefined
  }

  /** The socket of connection `id`. */
  get(id: string): TCPSocket | undefined {
    return this.#entry(id)?.socket
  }

  /** The id of `socket`, if it is in the pool. */
  idOf(socket: TCPSocket): string | undefined {
    const entry = this.#entryOf(socket)
    return entry && String(entry.key)
  }

  /** Ids of every connection, oldest first. */
  ids(): string[] {
    return [...this.#entries.keys()].map(String)
  }

  /** Marks connection `id` active now (for activity the byte counters do not show). */
  touch(id: string): void {
    const entry = this.#entry(id)
    if (entry) entry.lastActivity = this.#now()
  }

  /**
   * Writes `data` to every connection but those in `exclude`. A string is encoded (UTF-8) once
   * and the same buffer goes to everyone; pass a buffer you will not modify afterwards.
   *
   * A receiver whose unsent bytes plus this message would exceed `maxBufferedBytes` is handled by
   * the `slowReader` policy: `'close'` destroys it, `'skip'` leaves it out of this message (it
   * gets later ones once it has caught up). A receiver with nothing queued always gets the
   * message. Memory per receiver is therefore bounded by `max(maxBufferedBytes, message size)`.
   */
  broadcast(data: string | Uint8Array, exclude?: string | Iterable<string>): BroadcastResult {
    const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    const skip =
      exclude === undefined
        ? undefined
        : typeof exclude === 'string'
          ? new Set([exclude])
          : new Set(exclude)
    const now = this.#now()
    const result: BroadcastResult = { sent: 0, skipped: 0, closed: 0 }
    for (const entry of this.#entries.values()) {
      if (skip?.has(String(entry.key))) continue
      const socket = entry.socket
      if (socket.destroyed || !socket.writable) continue
      observe(entry, now)
      const pending = socket.writableLength
      if (pending > 0 && pending + payload.byteLength > this.maxBufferedBytes) {
        if (this.slowReader === 'skip') {
          result.skipped++
          this.#counters.skippedSlow++
          this.notify('slow', String(entry.key), 'skip', pending)
        } else {
          result.closed++
          this.#counters.closedSlow++
          this.notify('slow', String(entry.key), 'close', pending)
          this.#remove(entry, 'slow')
          socket.destroy()
        }
        continue
      }
      socket.write(payload)
      result.sent++
    }
    return result
  }

  /** The verb docs' shape (`total`, and per connection `id`, `uptime`, `lastActivity`, bytes), plus more fields. */
  getConnectionStats(): ConnectionStats {
    const now = this.#now()
    const connections: ConnectionStat[] = []
    for (const entry of this.#entries.values()) {
      observe(entry, now)
      const { socket } = entry
      const pendingBytes = socket.writableLength
      connections.push({
        id: String(entry.key),
        uptime: now - entry.since,
        lastActivity: now - entry.lastActivity,
        bytesReceived: socket.bytesRead,
        bytesSent: (socket.bytesWritten ?? 0) - pendingBytes,
        pendingBytes,
        connectedAt: this.#epoch + entry.since,
        remoteAddress: socket.remoteAddress,
        remotePort: socket.remotePort,
      })
    }
    return { total: this.#entries.size, connections }
  }

  /**
   * Destroys every connection with no bytes moved in either direction for more than
   * `maxIdleMs`, and returns their ids. The automatic sweep (`idleTimeoutMs`) calls this.
   */
  cleanup(maxIdleMs: number = DEFAULT_MAX_IDLE_MS): string[] {
    ms(maxIdleMs, 'maxIdleMs', DEFAULT_MAX_IDLE_MS)
    const now = this.#now()
    const idle: Entry[] = []
    for (const entry of this.#entries.values()) {
      observe(entry, now)
      if (now - entry.lastActivity > maxIdleMs) idle.push(entry)
    }
    const closed: string[] = []
    for (const entry of idle) {
      // A 'remove' listener may have removed a later one already.
      if (!this.#remove(entry, 'idle')) continue
      this.#counters.closedIdle++
      closed.push(String(entry.key))
      entry.socket.destroy()
    }
    return closed
  }

  /**
   * Stops the idle sweep, destroys every connection still in the pool and refuses new ones.
   * Returns how many were destroyed. Calling it again does nothing.
   */
  close(): number {
    if (this.#closed) return 0
    this.#closed = true
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
    const entries = [...this.#entries.values()]
    let destroyed = 0
    for (const entry of entries) {
      if (!this.#remove(entry, 'pool-closed')) continue
      destroyed++
      entry.socket.destroy()
    }
    return destroyed
  }

  /** False if the entry had already left. */
  #remove(entry: Entry, reason: RemoveReason): boolean {
    if (!this.#entries.delete(entry.key)) return false
    ;(entry.socket as unknown as Record<symbol, Entry | undefined>)[this.#mark] = undefined
    entry.socket.off('close', this.#onClose)
    entry.socket.off('error', ignore)
    this.notify('remove', String(entry.key), reason)
    return true
  }

  #entryOf(socket: TCPSocket): Entry | undefined {
    return (socket as unknown as Record<symbol, Entry | undefined>)[this.#mark]
  }

  /** Ids are the decimal form of a positive integer; anything else is no id of ours. */
  #entry(id: string): Entry | undefined {
    const key = Number(id)
    return Number.isSafeInteger(key) && String(key) === id ? this.#entries.get(key) : undefined
  }
}

function ignore(): void {}

/** Bytes read plus bytes the kernel has accepted for sending. */
function movedBytes(socket: TCPSocket): number {
  return socket.bytesRead + (socket.bytesWritten ?? 0) - socket.writableLength
}

function observe(entry: Entry, now: number): void {
  const moved = movedBytes(entry.socket)
  if (moved !== entry.lastBytes) {
    entry.lastBytes = moved
    entry.lastActivity = now
  }
}
