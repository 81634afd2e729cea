/**
 * The one error class every verb-tcp package throws or emits for protocol-level failures.
 *
 * Compare `err.code`, never `instanceof`: the package ships an ESM and a CJS build, and an
 * application can load both, which makes two distinct `ProtocolError` classes.
 */
export interface ProtocolErrorOptions {
  /** The error that caused this one, passed through unchanged. */
  cause?: unknown
  /** True when the stream this error came from can go on (the frame boundary is intact). */
  recoverable?: boolean
  /** The configured limit that was hit, in bytes or units named by the code. */
  limit?: number
  /** The length a peer declared in a header. */
  declaredLength?: number
  /** Byte offset in the stream where the problem was found. */
  offset?: number
  /** The multiplexed stream the error concerns. */
  streamId?: number
}

export class ProtocolError<C extends string = string> extends Error {
  override name = 'ProtocolError'
  readonly code: C
  readonly recoverable: boolean
  readonly limit: number | undefined
  readonly declaredLength: number | undefined
  readonly offset: number | undefined
  readonly streamId: number | undefined

  constructor(code: C, message: string, options: ProtocolErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined)
    this.code = code
    this.recoverable = options.recoverable ?? false
    this.limit = options.limit
    this.declaredLength = options.declaredLength
    this.offset = options.offset
    this.streamId = options.streamId
  }
}

/** True for any verb-tcp `ProtocolError`, from whichever copy of the package created it. */
export function isProtocolError(value: unknown): value is ProtocolError {
  return (
    value instanceof Error &&
    value.name === 'ProtocolError' &&
    typeof (value as { code?: unknown }).code === 'string'
  )
}

/** Codes core itself uses. Other packages add their own; a code is never reused for another meaning. */
export const ErrorCode = {
  /** `createServer` was given a protocol other than TCP or TLS. */
  PROTOCOL_UNSUPPORTED: 'ERR_PROTOCOL_UNSUPPORTED',
  /** `listen` was called on a server that is already listening or has been closed. */
  SERVER_STATE: 'ERR_SERVER_STATE',
  /** An application handler threw or rejected; the error is in `cause`. */
  HANDLER_FAILED: 'ERR_HANDLER_FAILED',
  /** The reconnecting client gave up after `maxAttempts` failed attempts. */
  RECONNECT_GAVE_UP: 'ERR_RECONNECT_GAVE_UP',
  /** The reconnecting client was closed while a caller was waiting for a connection. */
  CLIENT_CLOSED: 'ERR_CLIENT_CLOSED',
} as const

export type CoreErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]
