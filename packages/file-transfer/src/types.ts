import type { TransferError } from './errors.ts'
import type { FileStorage } from './storage.ts'

export interface FileReceiverOptions {
  /** Where uploads go. @default a `LocalDirectoryStorage` on the directory given */
  storage?: FileStorage
  /** Largest file, checked at start and while streaming. @default 4 GiB */
  maxFileBytes?: number
  /** Largest chunk. @default 4 MiB */
  maxChunkBytes?: number
  /** Bytes one connection may declare across its transfers (`Infinity`: no quota). @default Infinity */
  maxConnectionBytes?: number
  /** Transfers one connection may have open at once. @default 4 */
  maxConcurrentTransfers?: number
  /** Free bytes that must remain after a new upload's remaining size. @default 64 MiB */
  minFreeBytes?: number
  /** Unfinished uploads untouched this long are removed. @default 24 h */
  partialTtlMs?: number
  /** Replace a published file of the same name instead of refusing with `exists`. @default false */
  overwrite?: boolean
  /** Refuse to publish without a SHA-256 from the sender (at start or end). @default false */
  requireSha256?: boolean
  /** Accepted-but-unwritten bytes per connection before it stops reading. @default 16 MiB */
  maxQueuedBytes?: number
  /**
   * A transfer that takes in no chunk for this long (a sender that stopped, or trickles slower
   * than a chunk per period) is released with `timeout`: its partial stays for resume, its lock
   * and name are freed. `0` turns it off. @default 60 000 ms
   */
  idleTimeoutMs?: number
}

/** A request to start (or, with `transferId`, resume) an upload. */
export interface StartRequest {
  name: string
  size: number
  /** SHA-256 of the whole file, lowercase hex, if known up front. */
  sha256?: string | undefined
  /** A server-generated id from an earlier start: resume that upload. */
  transferId?: string | undefined
}

export interface StartResult {
  transferId: string
  name: string
  size: number
  /** Bytes already on disk: send from here. */
  offset: number
  resumed: boolean
}

/** What a finished, verified and published upload was. */
export interface CompletedTransfer {
  transferId: string
  name: string
  size: number
  sha256: string
  /** Since this connection's start or resume, on a monotonic clock, in ms. */
  durationMs: number
  /** Bytes received by this connection per second (`durationMs` counted as at least 1 ms). */
  bytesPerSec: number
}

export interface FileReceiverEvents {
  /** An upload was started or resumed (`resumed`): its chunks are taken from `offset` on. */
  start: [transfer: StartResult]
  /**
   * A start or resume was refused (`exists`, `quota`, `busy`, `shutting_down`, …) or failed:
   * no transfer was opened. The error is the one the peer is told (any other error as `io_error`).
   */
  refused: [error: TransferError, request: StartRequest]
  /** An upload was verified and published. */
  complete: [transfer: CompletedTransfer]
  /** An upload failed and its partial was removed (checksum, disk error, size). */
  failed: [transferId: string, error: TransferError]
  /** Unfinished uploads were removed after the TTL; the count. */
  expired: [count: number]
  /** `close()` was called: connections tell their peers before anything else happens. */
  shutdown: []
  /** An upload took in no chunk for `idleTimeoutMs` and was released; its partial is kept. */
  timeout: [transferId: string, error: TransferError]
}
