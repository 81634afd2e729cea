import { CodecErrorCode } from '@verb-tcp/core/codec'

/**
 * Every code this package reports, as `ProtocolError#code`. Compare codes, never classes.
 * Recoverable (the frame boundary is intact, the stream goes on): `ERR_UNKNOWN_TYPE`,
 * `ERR_RESERVED_FLAGS`, and `ERR_FRAME_TOO_LARGE` with `oversize: 'skip'`. Decoding errors not
 * listed are fatal; encoding errors are thrown before anything is written.
 */
export const BinaryFramesErrorCode = {
  ...CodecErrorCode,
  /** With a `types` allow-list, a frame of another type. Recoverable: the frame is skipped. */
  UNKNOWN_TYPE: 'ERR_UNKNOWN_TYPE',
  /** With `allowedFlags`, a frame with other flag bits set. Recoverable: the frame is skipped. */
  RESERVED_FLAGS: 'ERR_RESERVED_FLAGS',
  /** The encoder got a type or flags outside 0–65535, or a length outside 0–2^32 − 1. Thrown. */
  ENCODE_RANGE: 'ERR_ENCODE_RANGE',
} as const

export type BinaryFramesErrorCode =
  (typeof BinaryFramesErrorCode)[keyof typeof BinaryFramesErrorCode]
