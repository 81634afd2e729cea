/**
 * Every code this package throws, as the `code` of a `VerbTcpError` (from `@verb-tcp/core`):
 * these are states of the pool or misuse of a buffer, not something a peer sent, so they are not
 * `ProtocolError`s. Compare codes, never classes. Invalid options throw Node-style coded
 * `TypeError`s and `RangeError`s (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`, `ERR_OUT_OF_RANGE`).
 */
export const PoolErrorCode = {
  /** `addConnection` on a pool that already holds `maxConnections`. `limit` is the maximum. */
  CONNECTION_LIMIT: 'ERR_CONNECTION_LIMIT',
  /** `addConnection` with a socket that is already destroyed. */
  SOCKET_CLOSED: 'ERR_SOCKET_CLOSED',
  /** `addConnection` on a pool after `close()`. */
  POOL_CLOSED: 'ERR_POOL_CLOSED',
  /** `BufferPool#returnBuffer` with a buffer of another size, or a view into a larger one. */
  FOREIGN_BUFFER: 'ERR_FOREIGN_BUFFER',
  /** `BufferPool#returnBuffer` with a buffer that is already in the pool. */
  BUFFER_RETURNED_TWICE: 'ERR_BUFFER_RETURNED_TWICE',
} as const

export type PoolErrorCode = (typeof PoolErrorCode)[keyof typeof PoolErrorCode]
