import { ProtocolError, type ProtocolErrorOptions } from '@verb-tcp/core'

/**
 * What the peer is told: the `code` of an `error` (docs path) or `ERROR` (fast path) message.
 * A fixed vocabulary, so a client can switch on it.
 */
export const WireCode = {
  /** A message missing fields, with fields of the wrong type, or bad base64. */
  BAD_REQUEST: 'bad_request',
  /** The file name breaks the name rules (a path, control characters, too long, …). */
  NAME_INVALID: 'name_invalid',
  /** A file of that name exists, or another transfer is writing it. */
  EXISTS: 'exists',
  /** Over the per-transfer size limit, past the declared size, or a chunk over the chunk limit. */
  TOO_LARGE: 'too_large',
  /** Over the connection's byte or concurrent-transfer quota, or below the free-space floor. */
  QUOTA: 'quota',
  /** A chunk not at the current offset; `expected` says where to continue. */
  OFFSET_MISMATCH: 'offset_mismatch',
  /** A chunk's CRC-32 or the file's SHA-256 does not match. */
  CHECKSUM_MISMATCH: 'checksum_mismatch',
  /** `file_end` before every declared byte arrived; `expected` is the declared size. */
  SIZE_MISMATCH: 'size_mismatch',
  /** No such transfer (unknown, cancelled, finished or expired). */
  NOT_FOUND: 'not_found',
  /** Another live connection is writing this transfer. */
  BUSY: 'busy',
  /** The disk failed us (full, read-only, …); the partial is removed. */
  IO_ERROR: 'io_error',
  /** The server is shutting down; unfinished uploads can resume on another server. */
  SHUTTING_DOWN: 'shutting_down',
  /** No chunk arrived for `idleTimeoutMs`: the transfer was released, its partial kept for resume. */
  TIMEOUT: 'timeout',
} as const

export type WireCode = (typeof WireCode)[keyof typeof WireCode]

/** `ProtocolError` codes of `@verb-tcp/file-transfer`, one per wire code. Compare `err.code`. */
export const FileTransferErrorCode = {
  BAD_REQUEST: 'ERR_FT_BAD_REQUEST',
  NAME_INVALID: 'ERR_FT_NAME_INVALID',
  EXISTS: 'ERR_FT_EXISTS',
  TOO_LARGE: 'ERR_FT_TOO_LARGE',
  QUOTA: 'ERR_FT_QUOTA',
  OFFSET_MISMATCH: 'ERR_FT_OFFSET_MISMATCH',
  CHECKSUM_MISMATCH: 'ERR_FT_CHECKSUM_MISMATCH',
  SIZE_MISMATCH: 'ERR_FT_SIZE_MISMATCH',
  NOT_FOUND: 'ERR_FT_NOT_FOUND',
  BUSY: 'ERR_FT_BUSY',
  IO_ERROR: 'ERR_FT_IO_ERROR',
  SHUTTING_DOWN: 'ERR_FT_SHUTTING_DOWN',
  TIMEOUT: 'ERR_FT_TIMEOUT',
  /** Client side: the connection closed before the transfer finished. */
  CONNECTION_CLOSED: 'ERR_FT_CONNECTION_CLOSED',
  /** Client side: the peer sent something that is not this protocol. */
  PROTOCOL: 'ERR_FT_PROTOCOL',
} as const

export type FileTransferErrorCode =
  (typeof FileTransferErrorCode)[keyof typeof FileTransferErrorCode]

const byWire = new Map<string, FileTransferErrorCode>(
  Object.entries(WireCode).map(([key, wire]) => [
    wire,
    FileTransferErrorCode[key as keyof typeof WireCode],
  ]),
)
const toWire = new Map<string, WireCode>(
  Object.entries(WireCode).map(([key, wire]) => [
    FileTransferErrorCode[key as keyof typeof WireCode],
    wire,
  ]),
)

export interface TransferErrorOptions extends ProtocolErrorOptions {
  transferId?: string | undefined
  /** For `offset_mismatch`, the offset the server expects; for `size_mismatch`, the size. */
  expected?: number | undefined
}

/**
 * A refusal or failure of one transfer. `recoverable` is true when the transfer can go on (a
 * bad chunk, a wrong offset); the connection survives every `TransferError` either way.
 */
export class TransferError extends ProtocolError<FileTransferErrorCode> {
  readonly wireCode: WireCode | undefined
  readonly transferId: string | undefined
  readonly expected: number | undefined

  constructor(code: FileTransferErrorCode, message: string, options: TransferErrorOptions = {}) {
    const { transferId, expected, ...rest } = options
    super(code, message, rest)
    this.wireCode = toWire.get(code)
    this.transferId = transferId
    this.expected = expected
  }
}

/** The `TransferError` for a wire code (one an unknown code maps to `ERR_FT_PROTOCOL`). */
export function fromWire(wire: unknown, message: unknown, options: TransferErrorOptions = {}) {
  const code = (typeof wire === 'string' && byWire.get(wire)) || FileTransferErrorCode.PROTOCOL
  return new TransferError(code, typeof message === 'string' ? message : String(wire), options)
}

export function refuse(
  wire: WireCode,
  message: string,
  options: TransferErrorOptions = {},
): TransferError {
  return fromWire(wire, message, options)
}
