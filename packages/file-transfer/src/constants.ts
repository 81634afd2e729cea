/** The hidden directory, inside the upload directory, where unfinished uploads live. */
export const PARTIAL_DIR = '.partial'

/** Bytes of a server-generated transfer id (shown as 32 lowercase hex characters). */
export const TRANSFER_ID_BYTES = 16

/** Longest file name accepted, in UTF-8 bytes (the usual `NAME_MAX`). */
export const MAX_NAME_BYTES = 255

/** Defaults of `FileReceiver`'s options. */
export const DEFAULT_MAX_FILE_BYTES = 4 * 1024 ** 3
export const DEFAULT_MAX_CHUNK_BYTES = 4 * 1024 * 1024
export const DEFAULT_MAX_CONCURRENT_TRANSFERS = 4
export const DEFAULT_PARTIAL_TTL_MS = 24 * 60 * 60 * 1000
export const DEFAULT_MIN_FREE_BYTES = 64 * 1024 * 1024
export const DEFAULT_PROGRESS_EVERY = 100
/** A transfer that takes in no chunk for this long is released (partial kept for resume). */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000
/** Bytes accepted but not yet written before a connection stops reading. */
export const DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024

/** Defaults of `sendFile`. */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024
export const DEFAULT_WINDOW_BYTES = 8 * 1024 * 1024

/**
 * The fast path's operations, carried in the `flags` field of binary-frames' `FILE_TRANSFER`
 * (0x20) frames. Control operations carry a JSON payload; `DATA` and `ACK` are binary.
 */
export const Op = {
  /** client → server, JSON `{ name, size, sha256?, transferId? }` (a `transferId` resumes). */
  START: 0x01,
  /** server → client, JSON `{ transferId, offset, name, size }`. */
  READY: 0x02,
  /** client → server: 16-byte id, u64 offset, u32 CRC-32 (if flag `CHUNK_CRC`), then the bytes. */
  DATA: 0x03,
  /** server → client: 16-byte id, u64 offset now on disk. Sent after the write callback. */
  ACK: 0x04,
  /** client → server, JSON `{ transferId, sha256? }`. */
  END: 0x05,
  /** server → client, JSON `{ transferId, name, size, sha256, durationMs, bytesPerSec }`. */
  COMPLETE: 0x06,
  /** server → client, JSON `{ transferId?, code, message, expected? }`. */
  ERROR: 0x07,
  /** client → server, JSON `{ transferId }`; answered with `CANCELLED`. */
  CANCEL: 0x08,
  /** server → client, JSON `{ transferId }`. */
  CANCELLED: 0x09,
  /** server → client, JSON `{ code: "shutting_down" }`: no new transfers; partials are kept. */
  NOTICE: 0x0a,
} as const

/** Added to `Op.DATA`'s flags when the chunk carries a CRC-32 of its bytes. */
export const CHUNK_CRC = 0x0100

/** `DATA` prefix: 16-byte id + u64 offset; + u32 CRC-32 with `CHUNK_CRC`. */
export const DATA_PREFIX_BYTES = 24
export const DATA_PREFIX_CRC_BYTES = 28
/** `ACK` payload: 16-byte id + u64 offset. */
export const ACK_BYTES = 24
