import { ProtocolError, type ProtocolErrorOptions } from '@verb-tcp/core'

/**
 * Stable error codes of `@verb-tcp/mux`. Decoding also raises core's `ERR_FRAME_TOO_LARGE` and
 * `ERR_TRUNCATED_FRAME`. Compare `err.code`, never `instanceof`.
 */
export const MuxErrorCode = {
  /** Stream 0 carried something that is not a valid control message (bad JSON, bad fields). */
  BAD_CONTROL: 'ERR_MUX_BAD_CONTROL',
  /** A control message was larger than `maxControlBytes`. */
  CONTROL_TOO_LARGE: 'ERR_MUX_CONTROL_TOO_LARGE',
  /** A stream id broke the rules: wrong parity, not increasing, reused, reserved. */
  BAD_STREAM_ID: 'ERR_MUX_BAD_STREAM_ID',
  /** Data for a stream id that was never opened. */
  UNKNOWN_STREAM: 'ERR_MUX_UNKNOWN_STREAM',
  /** The peer sent more than the credit it was given (stream or session). */
  FLOW_CONTROL: 'ERR_MUX_FLOW_CONTROL',
  /** The peer opened, reset or pinged faster than the configured budget. */
  RATE_LIMITED: 'ERR_MUX_RATE_LIMITED',
  /** A ping got no pong within `pingTimeout`. */
  PING_TIMEOUT: 'ERR_MUX_PING_TIMEOUT',
  /** `ping()` toward a legacy peer (no hello), which cannot answer. The session stays up. */
  PING_UNSUPPORTED: 'ERR_MUX_PING_UNSUPPORTED',
  /** `open()` waited longer than its `timeout` for a stream slot at the peer. */
  OPEN_TIMEOUT: 'ERR_MUX_OPEN_TIMEOUT',
  /** The peer reset the stream; `resetCode` says why. */
  STREAM_RESET: 'ERR_MUX_STREAM_RESET',
  /** The peer refused the stream (over its limit, going away, or refused by the app): safe to retry. */
  STREAM_REFUSED: 'ERR_MUX_STREAM_REFUSED',
  /** The session is going away (ours or the peer's `goaway`): no new streams. */
  GOING_AWAY: 'ERR_MUX_GOING_AWAY',
  /** The session closed before the stream or the ping finished. */
  SESSION_CLOSED: 'ERR_MUX_SESSION_CLOSED',
  /** Every stream id of our parity has been used. */
  STREAMS_EXHAUSTED: 'ERR_MUX_STREAMS_EXHAUSTED',
  /** The peer sent `goaway` with an error code and will close the connection. */
  REMOTE_GOAWAY: 'ERR_MUX_REMOTE_GOAWAY',
} as const

export type MuxErrorCode = (typeof MuxErrorCode)[keyof typeof MuxErrorCode]

/**
 * Numeric codes carried by `stream_reset` and `goaway`. Values follow HTTP/2 (RFC 9113 §7) so
 * they read the same in packet captures.
 */
export const ResetCode = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  STREAM_CLOSED: 5,
  FRAME_SIZE_ERROR: 6,
  REFUSED_STREAM: 7,
  CANCEL: 8,
  ENHANCE_YOUR_CALM: 11,
} as const

export type ResetCode = (typeof ResetCode)[keyof typeof ResetCode]

/** A stream ended by a reset, ours or the peer's. */
export class StreamResetError extends ProtocolError<
  'ERR_MUX_STREAM_RESET' | 'ERR_MUX_STREAM_REFUSED'
> {
  /** The numeric reset code (`ResetCode`). */
  readonly resetCode: number
  /** True when the peer sent the reset, false when we did. */
  readonly remote: boolean

  constructor(
    streamId: number,
    resetCode: number,
    remote: boolean,
    options: ProtocolErrorOptions = {},
  ) {
    const refused = resetCode === ResetCode.REFUSED_STREAM
    super(
      refused ? MuxErrorCode.STREAM_REFUSED : MuxErrorCode.STREAM_RESET,
      `stream ${streamId} ${refused ? 'refused' : 'reset'} by ${remote ? 'peer' : 'us'} (code ${resetCode}${resetName(resetCode)})`,
      { ...options, streamId, recoverable: true },
    )
    this.resetCode = resetCode
    this.remote = remote
  }
}

function resetName(code: number): string {
  for (const [name, value] of Object.entries(ResetCode)) if (value === code) return ` ${name}`
  return ''
}

/** Maps a fatal session error to the code its `goaway` carries. */
export function goAwayCodeFor(code: string): number {
  switch (code) {
    case MuxErrorCode.FLOW_CONTROL:
      return ResetCode.FLOW_CONTROL_ERROR
    case MuxErrorCode.RATE_LIMITED:
      return ResetCode.ENHANCE_YOUR_CALM
    case 'ERR_FRAME_TOO_LARGE':
    case MuxErrorCode.CONTROL_TOO_LARGE:
      return ResetCode.FRAME_SIZE_ERROR
    case MuxErrorCode.PING_TIMEOUT:
    case MuxErrorCode.SESSION_CLOSED:
      return ResetCode.NO_ERROR
    default:
      return ResetCode.PROTOCOL_ERROR
  }
}

export function muxError(
  code: MuxErrorCode,
  message: string,
  options: ProtocolErrorOptions = {},
): ProtocolError<MuxErrorCode> {
  return new ProtocolError(code, message, options)
}
