import { performance } from 'node:perf_hooks'
import type { TransferError } from './errors.ts'
import type { StreamHash } from './hasher.ts'
import type { ReceiverConnection } from './receiver-connection.ts'
import type { PartialFile, PartialMeta } from './storage.ts'

/** One upload this process is writing. */
export interface Transfer {
  readonly id: string
  readonly meta: PartialMeta
  readonly file: PartialFile
  readonly hash: StreamHash
  readonly release: () => Promise<void>
  readonly owner: ReceiverConnection
  readonly startedAt: number
  readonly startOffset: number
  /** Bytes accepted (hashed, queued for writing). Chunks must start here. */
  received: number
  /** Bytes written (the write callback came back). */
  durable: number
  /** The last queued write; writes go one after another. */
  tail: Promise<void>
  failure: TransferError | undefined
  ending: boolean
  /** `durable` when the last background flush began. */
  flushedAt: number
  /** A background flush in flight. */
  flushing: Promise<void> | undefined
  /** What a background flush failed with: Linux reports a writeback error to one fsync only. */
  flushError: unknown
  /** Fires when no chunk came in for `idleTimeoutMs`; refreshed by every chunk and write. */
  idle: NodeJS.Timeout | undefined
}

/** A transfer just opened (created, or resumed with `offset` bytes on disk). */
export function newTransfer(
  owner: ReceiverConnection,
  id: string,
  meta: PartialMeta,
  file: PartialFile,
  hash: StreamHash,
  release: () => Promise<void>,
  offset: number,
): Transfer {
  return {
    id,
    meta,
    file,
    hash,
    release,
    owner,
    startedAt: performance.now(),
    startOffset: offset,
    received: offset,
    durable: offset,
    tail: Promise.resolve(),
    failure: undefined,
    ending: false,
    flushedAt: offset,
    flushing: undefined,
    flushError: undefined,
    idle: undefined,
  }
}
