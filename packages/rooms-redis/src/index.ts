/**
 * `@verb-tcp/rooms-redis`: rooms across many server processes. The Redis adapter for
 * `@verb-tcp/rooms`: broadcasts, join/leave notices and members queries reach every node
 * through Redis pub/sub, one channel per room; with `delivery: 'durable'`, room traffic goes
 * through one Redis stream instead and survives a Redis outage.
 *
 * @example
 * ```ts
 * import { TCPRoomManager } from '@verb-tcp/rooms'
 * import { RedisAdapter } from '@verb-tcp/rooms-redis'
 *
 * const adapter = new RedisAdapter({ redis: 'redis://127.0.0.1:6379' })
 * const rooms = new TCPRoomManager({ adapter })
 * await adapter.ready
 * ```
 * @packageDocumentation
 */
export { ENVELOPE_VERSION } from './constants.ts'
export { RedisAdapterErrorCode } from './errors.ts'
export type { RedisAdapterOptions } from './options.ts'
export { RedisAdapter } from './redis-adapter.ts'
export type { RedisAdapterEvents, RedisAdapterStats } from './types.ts'
