import { CodecErrorCode } from '@verb-tcp/core/codec'

/**
 * Every code this package reports, as `ProtocolError#code`. Compare codes, never classes.
 * Recoverable (the frame boundary is intact, the stream goes on): `ERR_INVALID_UTF8`,
 * `ERR_INVALID_JSON`, `ERR_INVALID_MESSAGE`, and `ERR_FRAME_TOO_LARGE` with `oversize: 'skip'`.
 * Everything else is fatal.
 */
export const JsonFramesErrorCode = {
  ...CodecErrorCode,
  /** The length header is not canonical ASCII decimal followed by LF. Fatal. */
  BAD_LENGTH: 'ERR_BAD_LENGTH',
  /** The payload is not valid UTF-8. Recoverable. */
  INVALID_UTF8: 'ERR_INVALID_UTF8',
  /** The payload is UTF-8 but not JSON. Recoverable. */
  INVALID_JSON: 'ERR_INVALID_JSON',
  /** With `requireType`, the JSON is not an object with a string `type`. Recoverable. */
  INVALID_MESSAGE: 'ERR_INVALID_MESSAGE',
  /** The encoder could not turn the value into JSON (a cycle, a BigInt, `undefined`). */
  UNSERIALIZABLE: 'ERR_UNSERIALIZABLE',
} as const

export type JsonFramesErrorCode = (typeof JsonFramesErrorCode)[keyof typeof JsonFramesErrorCode]
