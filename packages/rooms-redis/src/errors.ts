/**
 * Every code this package throws or reports, as `code` of an error from `@verb-tcp/core`: a
 * `ProtocolError` for bytes on the bus that make no sense, a `VerbTcpError` for the state of
 * Redis or of the adapter. Compare codes, never classes. Invalid options throw a plain
 * `TypeError` or `RangeError`.
 */
export const RedisAdapterErrorCode = {
  /** A bus envelope could not be decoded (bad bytes, wrong version, missing fields). Counted and ignored. */
  MALFORMED_ENVELOPE: 'ERR_MALFORMED_ENVELOPE',
  /** A room name, connection id or node id is too long (or not valid) to fit in an envelope. */
  ENVELOPE_FIELD_TOO_LONG: 'ERR_ENVELOPE_FIELD_TOO_LONG',
  /** Redis could not be reached or refused a command; local delivery went on. `cause` has the reason. */
  REDIS_UNAVAILABLE: 'ERR_REDIS_UNAVAILABLE',
  /** The adapter was used after `close()`. */
  ADAPTER_CLOSED: 'ERR_ADAPTER_CLOSED',
} as const

export type RedisAdapterErrorCode =
  (typeof RedisAdapterErrorCode)[keyof typeof RedisAdapterErrorCode]
