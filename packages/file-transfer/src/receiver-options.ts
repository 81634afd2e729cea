import { bool, knownKeys, limit, ms, positiveInt } from '@verb-tcp/core/validate'
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CHUNK_BYTES,
  DEFAULT_MAX_CONCURRENT_TRANSFERS,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MIN_FREE_BYTES,
  DEFAULT_PARTIAL_TTL_MS,
} from './constants.ts'
import type { FileReceiverOptions } from './types.ts'

const OPTION_KEYS = [
  'storage',
  'maxFileBytes',
  'maxChunkBytes',
  'maxConnectionBytes',
  'maxConcurrentTransfers',
  'minFreeBytes',
  'partialTtlMs',
  'overwrite',
  'requireSha256',
  'maxQueuedBytes',
  'idleTimeoutMs',
] as const

/** A receiver's options, checked, with their defaults filled in. */
export interface ReceiverSettings {
  maxFileBytes: number
  maxChunkBytes: number
  maxConnectionBytes: number
  maxConcurrentTransfers: number
  minFreeBytes: number
  partialTtlMs: number
  overwrite: boolean
  requireSha256: boolean
  maxQueuedBytes: number
  idleTimeoutMs: number
}

/** Checks a receiver's options (`TypeError`/`RangeError` with Node's codes) and fills in the defaults. */
export function settings(options: FileReceiverOptions): ReceiverSettings {
  knownKeys(options, OPTION_KEYS, 'FileReceiver')
  const minFree = options.minFreeBytes
  return {
    maxFileBytes: positiveInt(options.maxFileBytes, 'maxFileBytes', DEFAULT_MAX_FILE_BYTES),
    maxChunkBytes: positiveInt(options.maxChunkBytes, 'maxChunkBytes', DEFAULT_MAX_CHUNK_BYTES),
    maxConnectionBytes: limit(
      options.maxConnectionBytes,
      'maxConnectionBytes',
      Number.POSITIVE_INFINITY,
    ),
    maxConcurrentTransfers: positiveInt(
      options.maxConcurrentTransfers,
      'maxConcurrentTransfers',
      DEFAULT_MAX_CONCURRENT_TRANSFERS,
    ),
    // 0 is a valid floor (no reserve), so this is not positiveInt.
    minFreeBytes: minFree === 0 ? 0 : positiveInt(minFree, 'minFreeBytes', DEFAULT_MIN_FREE_BYTES),
    partialTtlMs: ms(options.partialTtlMs, 'partialTtlMs', DEFAULT_PARTIAL_TTL_MS, 1),
    overwrite: bool(options.overwrite, 'overwrite', false),
    requireSha256: bool(options.requireSha256, 'requireSha256', false),
    maxQueuedBytes: positiveInt(options.maxQueuedBytes, 'maxQueuedBytes', DEFAULT_MAX_QUEUED_BYTES),
    idleTimeoutMs: ms(options.idleTimeoutMs, 'idleTimeoutMs', DEFAULT_IDLE_TIMEOUT_MS, 0),
  }
}
