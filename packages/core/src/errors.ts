/** Options every verb-tcp error takes. */
export interface VerbTcpErrorOptions {
  /** The error that caused this one, passed through unchanged. */
  cause?: unknown
  /** The configured limit that was hit, in bytes or units named by the code. */
  limit?: number
}

/**
 * An error verb-tcp throws or emits for something other than what a peer sent: a server in the
 * wrong state, a closed pool or client, a connection that could not be made. It carries a stable
 * `code` (`ERR_SERVER_STATE`, `ERR_CLIENT_CLOSED`, …) and `cause`. Bad arguments are not these
 * either: they are Node-style `TypeError`s and `RangeError`s from `@verb-tcp/core/validate`.
 *
 * Compare `err.code`, never `instanceof`: the package ships an ESM and a CJS build, and an
 * application can load both, which makes two distinct classes.
 */
export class VerbTcpError<C extends string = string> extends Error {
  override name = 'VerbTcpError'
  readonly code: C
  readonly limit: number | undefined

  constructor(code: C, message: string, options: VerbTcpErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined)
    this.code = code
    this.limit = options.limit
  }
}

export interface ProtocolErrorOptions extends VerbTcpErrorOptions {
  /** True when the stream this error came from can go on (the frame boundary is intact). */
  recoverable?: boolean
  /** The length a peer declared in a header. */
  declaredLength?: number
  /** Byte offset in the stream where the problem was found. */
  offset?: number
  /** The multiplexed stream the error concerns. */
  streamId?: number
}

/**
 * The one error class every verb-tcp package throws or emits when a peer sent something it
 * cannot accept: a frame over the limit, a bad length header, invalid JSON, a mux protocol
 * violation. `code` is stable (`ERR_FRAME_TOO_LARGE`, `ERR_BAD_LENGTH`, …); `recoverable` says
 * whether the stream can go on (the frame boundary is intact); `limit`, `declaredLength`,
 * `offset` and `streamId` are set where they apply, and `cause` is passed through.
 *
 * Compare `err.code` (or use `isProtocolError`), never `instanceof`: the package ships an ESM
 * and a CJS build, and an application can load both, which makes two distinct classes.
 *
 * @example
 * ```ts
 * decoder.push(chunk, {
 *   frame: (frame) => handle(frame),
 *   error: (err) => {
 *     if (err.code === 'ERR_FRAME_TOO_LARGE') socket.end()
 *   },
 * })
 * ```
 */
export class ProtocolError<C extends string = string> extends VerbTcpError<C> {
  override name = 'ProtocolError'
  readonly recoverable: boolean
  readonly declaredLength: number | undefined
  readonly offset: number | undefined
  readonly streamId: number | undefined

  constructor(code: C, message: string, options: ProtocolErrorOptions = {}) {
    super(code, message, options)
    this.recoverable = options.recoverable ?? false
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

/**
 * Codes core itself uses. Other packages add their own; a code is never reused for another
 * meaning. `ERR_HANDLER_FAILED` arrives as a `ProtocolError` (on a codec's error channel); the
 * others are `VerbTcpError`s.
 */
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
  /**
   * TLS material was rejected before it reached a server: a certificate or key OpenSSL cannot
   * read, or a file that cannot be read. The error is in `cause`; the old context keeps serving.
   */
  TLS_CONTEXT_INVALID: 'ERR_TLS_CONTEXT_INVALID',
  /** The private key does not belong to the certificate; the old context keeps serving. */
  TLS_KEY_MISMATCH: 'ERR_TLS_KEY_MISMATCH',
  /** A certificate watcher can no longer watch its files (a directory was removed). */
  TLS_WATCH_FAILED: 'ERR_TLS_WATCH_FAILED',
} as const

export type CoreErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]
