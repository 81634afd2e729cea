/**
 * `@verb-tcp/pool`: the verb docs' connection pool, connection throttler and buffer manager, made
 * into parts a production server can lean on. A connection limit enforced at accept time, an
 * exact per-address sliding window with an optional concurrency cap and bounded memory,
 * byte-exact stats, a broadcast that a slow reader cannot turn into unbounded memory, an idle
 * sweep, and a bounded, zeroing buffer pool.
 *
 * @example
 * ```ts
 * import { createServer } from '@verb-tcp/core'
 * import { attach, ConnectionPool, ConnectionThrottler } from '@verb-tcp/pool'
 *
 * const pool = new ConnectionPool({ maxConnections: 1000, idleTimeoutMs: 300_000 })
 * const throttler = new ConnectionThrottler({ maxPerWindow: 10, windowMs: 60_000 })
 * const app = createServer().withOptions({
 *   port: 8080,
 *   tcp: {
 *     onConnection: (socket) => {
 *       socket.on('data', (data) => pool.broadcast(data, pool.idOf(socket)))
 *     },
 *   },
 * })
 * const admission = attach(app, { pool, throttler, fullNotice: '{"type":"server_full"}\n' })
 * await app.listen()
 * // admission.counters: { connections, accepted, refusedByLimit, refusedByThrottle, closedIdle }
 * ```
 * @packageDocumentation
 */
export { addressKey } from './address.ts'
export { type Attachment, type AttachParts, attach, attachPool, attachThrottler } from './attach.ts'
export { BufferPool } from './buffer-pool.ts'
export { ConnectionPool } from './connection-pool.ts'
export {
  DEFAULT_BUFFER_SIZE,
  DEFAULT_IPV6_PREFIX,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_IDLE_MS,
  DEFAULT_MAX_PER_WINDOW,
  DEFAULT_MAX_POOLED_BUFFERS,
  DEFAULT_MAX_TRACKED_ADDRESSES,
  DEFAULT_WINDOW_MS,
} from './constants.ts'
export { PoolErrorCode } from './errors.ts'
export { ConnectionThrottler } from './throttler.ts'
export type {
  AdmissionCounters,
  AdmissionHost,
  AttachOptions,
  BroadcastResult,
  BufferPoolCounters,
  BufferPoolOptions,
  Clock,
  ConnectionPoolEvents,
  ConnectionPoolOptions,
  ConnectionStat,
  ConnectionStats,
  PoolCounters,
  RemoveReason,
  SlowReaderPolicy,
  ThrottlerCounters,
  ThrottlerEvents,
  ThrottlerOptions,
  ThrottleVerdict,
} from './types.ts'
