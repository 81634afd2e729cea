import { randomBytes } from 'node:crypto'
import {
  argError,
  bool,
  knownKeys,
  limit,
  ms,
  oneOf,
  positiveInt,
  string,
} from '@verb-tcp/core/validate'
import { Redis } from 'ioredis'
import { isClusterSource, type RedisSource } from './connections.ts'
import { MAX_NODE_ID_BYTES } from './constants.ts'

export interface RedisAdapterOptions {
  /**
   * Where Redis is: a URL (`redis://host:port`), ioredis options, or an ioredis client; for a
   * Redis Cluster, an ioredis `Cluster` or `{ cluster: startupNodes, options?: ClusterOptions }`.
   * The adapter always opens two connections of its own from it (one to publish, one to
   * subscribe) and closes them in `close()`; a client you pass stays yours and is never used or
   * closed. @default 'redis://127.0.0.1:6379'
   */
  redis?: RedisSource
  /** Prefix of every channel and key, so several applications can share one Redis. @default 'verb-tcp:rooms' */
  prefix?: string
  /** This node's id, unique in the cluster, at most 255 UTF-8 bytes. @default random */
  nodeId?: string
  /** Sharded pub/sub (SSUBSCRIBE/SPUBLISH, Redis 7+) instead of PUBLISH/SUBSCRIBE. @default false */
  sharded?: boolean
  /** How often the node refreshes its heartbeat key and looks for dead nodes, in ms. @default 5000 */
  heartbeatIntervalMs?: number
  /**
   * The heartbeat key's TTL, in ms: a node silent this long is declared dead and its members
   * leave. More than `heartbeatIntervalMs`. @default 15000
   */
  nodeTimeoutMs?: number
  /** How long `members()` waits for other nodes when the caller does not say, in ms. @default 5000 */
  membersTimeoutMs?: number
  /**
   * How long `close()` waits for Redis to take the goodbye (leaves published, keys deleted, QUIT
   * answered), in ms. A Redis that is frozen but keeps its connections open never answers; past
   * this the connections are dropped and the other nodes see this node's members leave after
   * `nodeTimeoutMs` instead. @default 5000
   */
  closeTimeoutMs?: number
  /**
   * `'at-most-once'`: room traffic on pub/sub, lost while Redis is away. `'durable'`: room traffic
   * (broadcasts, join and leave notices) on one Redis stream, kept in a bounded outbox while Redis
   * is away and read from where the node stopped, with resends deduplicated: each member gets each
   * broadcast once, in order per sender, within the limits documented in the README.
   * Every node of a cluster must agree. @default 'at-most-once'
   */
  delivery?: 'at-most-once' | 'durable'
  /** Durable mode: bytes of envelopes the outbox keeps at most. @default 8388608 (8 MiB) */
  outboxMaxBytes?: number
  /** Durable mode: how long the outbox keeps an envelope, in ms. @default 60000 */
  outboxMaxAgeMs?: number
  /** Durable mode: the stream's approximate length limit (XADD MAXLEN ~). @default 10000 */
  streamMaxLen?: number
}

export interface ResolvedOptions {
  redis: RedisSource
  prefix: string
  nodeId: string
  sharded: boolean
  heartbeatIntervalMs: number
  nodeTimeoutMs: number
  membersTimeoutMs: number
  closeTimeoutMs: number
  delivery: 'at-most-once' | 'durable'
  outboxMaxBytes: number
  outboxMaxAgeMs: number
  streamMaxLen: number
}

const KNOWN = [
  'redis',
  'prefix',
  'nodeId',
  'sharded',
  'heartbeatIntervalMs',
  'nodeTimeoutMs',
  'membersTimeoutMs',
  'closeTimeoutMs',
  'delivery',
  'outboxMaxBytes',
  'outboxMaxAgeMs',
  'streamMaxLen',
] as const

export function resolveOptions(options: RedisAdapterOptions = {}): ResolvedOptions {
  knownKeys(options, KNOWN, 'RedisAdapter')
  const redis = options.redis ?? 'redis://127.0.0.1:6379'
  if (
    !(redis instanceof Redis) &&
    !isClusterSource(redis) &&
    typeof redis !== 'string' &&
    (typeof redis !== 'object' || redis === null || Array.isArray(redis))
  ) {
    throw argError(
      'ERR_INVALID_ARG_TYPE',
      'redis must be a URL, ioredis options, an ioredis client or Cluster, or { cluster: nodes }',
    )
  }
  const nodeId = string(options.nodeId, 'nodeId', randomBytes(8).toString('hex'))
  if (Buffer.byteLength(nodeId) > MAX_NODE_ID_BYTES) {
    throw argError('ERR_OUT_OF_RANGE', `nodeId must be at most ${MAX_NODE_ID_BYTES} UTF-8 bytes`)
  }
  const heartbeatIntervalMs = ms(options.heartbeatIntervalMs, 'heartbeatIntervalMs', 5000, 1)
  const nodeTimeoutMs = ms(options.nodeTimeoutMs, 'nodeTimeoutMs', 15_000, 1)
  if (nodeTimeoutMs <= heartbeatIntervalMs) {
    throw argError(
      'ERR_OUT_OF_RANGE',
      `nodeTimeoutMs (${nodeTimeoutMs}) must be more than heartbeatIntervalMs (${heartbeatIntervalMs})`,
    )
  }
  return {
    redis,
    prefix: string(options.prefix, 'prefix', 'verb-tcp:rooms'),
    nodeId,
    sharded: bool(options.sharded, 'sharded', false),
    heartbeatIntervalMs,
    nodeTimeoutMs,
    membersTimeoutMs: ms(options.membersTimeoutMs, 'membersTimeoutMs', 5000),
    closeTimeoutMs: ms(options.closeTimeoutMs, 'closeTimeoutMs', 5000),
    delivery: oneOf(options.delivery, 'delivery', ['at-most-once', 'durable'], 'at-most-once'),
    outboxMaxBytes: limit(options.outboxMaxBytes, 'outboxMaxBytes', 8 * 1024 * 1024),
    outboxMaxAgeMs: ms(options.outboxMaxAgeMs, 'outboxMaxAgeMs', 60_000, 1),
    streamMaxLen: positiveInt(options.streamMaxLen, 'streamMaxLen', 10_000),
  }
}
