import type { TCPSocket } from '@verb-tcp/core'

/** A clock in milliseconds that never goes backwards. Default: `performance.now`. */
export type Clock = () => number

/** What the pool does to a broadcast receiver whose unsent bytes would exceed the cap. */
export type SlowReaderPolicy = 'close' | 'skip'

export interface ConnectionPoolOptions {
  /** Connections held at most; `addConnection` refuses beyond. @default 1000 */
  maxConnections?: number
  /**
   * Unsent bytes (`socket.writableLength`) a receiver may hold, counting the message being
   * broadcast. A receiver whose buffer is empty always gets the message, however large.
   * @default 1048576
   */
  maxBufferedBytes?: number
  /** `'close'` destroys a receiver over `maxBufferedBytes`; `'skip'` leaves it out of that message. @default 'close' */
  slowReader?: SlowReaderPolicy
  /** Idle ms after which the automatic sweep destroys a connection. `0` turns the sweep off. @default 0 */
  idleTimeoutMs?: number
  /** Ms between automatic sweeps (an unref'd timer). @default idleTimeoutMs / 4, at least 1 */
  sweepIntervalMs?: number
  /** Monotonic clock, for tests. @default performance.now */
  now?: Clock
}

/** One connection in `getConnectionStats()`, the verb docs' fields first. */
export interface ConnectionStat {
  id: string
  /** Ms since the connection joined the pool. */
  uptime: number
  /** Ms since the pool last saw bytes move in either direction (the verb docs' meaning: idle time). */
  lastActivity: number
  /** Bytes read from the socket (`socket.bytesRead`). */
  bytesReceived: number
  /** Bytes handed to the kernel (`socket.bytesWritten` minus what is still queued). */
  bytesSent: number
  /** Bytes queued in the process, not yet accepted by the kernel (`socket.writableLength`). */
  pendingBytes: number
  /** Wall-clock time the connection joined, ms since the epoch. */
  connectedAt: number
  remoteAddress: string | undefined
  remotePort: number | undefined
}

/** The verb docs' `getConnectionStats()` shape. */
export interface ConnectionStats {
  total: number
  connections: ConnectionStat[]
}

/** Counters for a monitoring layer; all but `connections` and `peak` only grow. */
export interface PoolCounters {
  /** Connections in the pool now. */
  connections: number
  /** Most connections held at once. */
  peak: number
  /** Connections added. */
  accepted: number
  /** Additions refused because the pool was full (`ERR_CONNECTION_LIMIT`). */
  refusedByLimit: number
  /** Connections closed by `cleanup` or the automatic idle sweep. */
  closedIdle: number
  /** Broadcast receivers closed by the `'close'` slow-reader policy. */
  closedSlow: number
  /** Broadcast deliveries skipped by the `'skip'` slow-reader policy. */
  skippedSlow: number
}

/** Why a connection left the pool. */
export type RemoveReason = 'closed' | 'error' | 'removed' | 'idle' | 'slow' | 'pool-closed'

export interface BroadcastResult {
  /** Receivers the message was written to. */
  sent: number
  /** Receivers left out by the `'skip'` policy. */
  skipped: number
  /** Receivers destroyed by the `'close'` policy. */
  closed: number
}

export interface ConnectionPoolEvents {
  /** A connection joined. */
  add: [id: string, socket: TCPSocket]
  /** A connection left; the socket is closed or being destroyed. */
  remove: [id: string, reason: RemoveReason]
  /** An addition was refused because the pool was full. */
  refuse: [socket: TCPSocket]
  /** A broadcast receiver was over `maxBufferedBytes`; `action` is what the policy did. */
  slow: [id: string, action: SlowReaderPolicy, pendingBytes: number]
}

export interface ThrottlerOptions {
  /** New connections one address may open in any `windowMs`. @default 10 */
  maxPerWindow?: number
  /** Length of the sliding window in ms. @default 60000 */
  windowMs?: number
  /** Connections one address may hold open at once. @default Infinity (no limit) */
  maxConcurrent?: number
  /** IPv6 addresses are grouped by this prefix length (1–128; 128 = no grouping). @default 64 */
  ipv6Prefix?: number
  /** Addresses tracked at most; see "Memory" in the README. @default 65536 */
  maxTrackedAddresses?: number
  /** Monotonic clock, for tests. @default performance.now */
  now?: Clock
}

/** The throttler's answer: `'accepted'`, or why not. */
export type ThrottleVerdict = 'accepted' | 'rate' | 'concurrency' | 'capacity'

export interface ThrottlerCounters {
  /** Addresses (or IPv6 prefixes) tracked now (seen within the window, or with connections open). */
  tracked: number
  /**
   * Connections accepted and not yet released, over the tracked addresses (an entry evicted
   * without a concurrency limit takes its count with it).
   */
  open: number
  accepted: number
  /** Refused: `maxPerWindow` connections already opened in the window. */
  refusedByRate: number
  /** Refused: `maxConcurrent` connections already open. */
  refusedByConcurrency: number
  /** Refused: `maxTrackedAddresses` reached and no entry could be evicted. */
  refusedByCapacity: number
  /** Entries dropped to keep memory bounded (stale ones, or the oldest idle ones when full). */
  evicted: number
}

export interface ThrottlerEvents {
  /** A connection attempt was refused; `key` is the normalized address. */
  refuse: [key: string, reason: Exclude<ThrottleVerdict, 'accepted'>]
}

export interface BufferPoolOptions {
  /** Size of every buffer, in bytes. @default 65536 */
  bufferSize?: number
  /** Buffers kept for reuse at most; more returns are dropped for the GC. @default 64 */
  maxPooled?: number
  /** Zero buffers on return (and allocate zeroed ones), so no bytes leak between users. @default true */
  zeroOnReturn?: boolean
}

export interface BufferPoolCounters {
  /** Buffers waiting in the pool. */
  pooled: number
  /** Buffers allocated because the pool was empty. */
  created: number
  /** `getBuffer` calls served from the pool. */
  reused: number
  /** Returned buffers dropped because the pool was full. */
  dropped: number
}

/**
 * What `attach` needs from a server: core's `TcpServer` has it. Structural, so the pool does not
 * depend on one concrete server class (or on which copy of core, ESM or CJS, built it).
 */
export interface AdmissionHost {
  onAdmit(handler: (socket: TCPSocket) => unknown): unknown
  /** Used by `detach()` when the server has it (core has it from the release with `offAdmit`). */
  offAdmit?(handler: (socket: TCPSocket) => unknown): unknown
}

export interface AttachOptions {
  /** Written to a client refused because the pool is full, before the socket is ended. */
  fullNotice?: string | Uint8Array
  /** Written to a client refused by the throttler, before the socket is ended. */
  throttledNotice?: string | Uint8Array
}

/** Counters for a server under `attach`, in one object. */
export interface AdmissionCounters {
  /** Connections open now (in the pool, or admitted by the throttler if there is no pool). */
  connections: number
  accepted: number
  refusedByLimit: number
  refusedByThrottle: number
  closedIdle: number
}
