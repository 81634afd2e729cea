import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { performance } from 'node:perf_hooks'
import { crc32 } from 'node:zlib'
import {
  argError,
  bool,
  knownKeys,
  limit,
  ms,
  string as nonEmptyString,
  positiveInt,
} from '@verb-tcp/core/validate'
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CHUNK_BYTES,
  DEFAULT_MAX_CONCURRENT_TRANSFERS,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MIN_FREE_BYTES,
  DEFAULT_PARTIAL_TTL_MS,
  TRANSFER_ID_BYTES,
} from './constants.ts'
import { refuse, TransferError, WireCode } from './errors.ts'
import { openHash, type StreamHash } from './hasher.ts'
import { LocalDirectoryStorage } from './local-storage.ts'
import { nameProblem } from './name.ts'
import type { FileStorage, PartialFile, PartialMeta } from './storage.ts'
import type { CompletedTransfer, FileReceiverOptions, StartRequest, StartResult } from './types.ts'

const ID = /^[0-9a-f]{32}$/
const SHA256 = /^[0-9a-f]{64}$/

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

interface Settings {
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

function settings(options: FileReceiverOptions): Settings {
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

/** One upload this process is writing. */
interface Transfer {
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

/**
 * Bytes written between background flushes. Flushing while the upload streams lets the disk
 * write back during the transfer, so the fsync before publishing finds little left to do.
 */
const FLUSH_EVERY_BYTES = 32 * 1024 * 1024

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

function crcOf(data: Uint8Array | readonly Uint8Array[]): number {
  if (ArrayBuffer.isView(data)) return crc32(data)
  let crc = 0
  for (const piece of data) crc = crc32(piece, crc)
  return crc
}

/** One write for a chunk, whether it came as one buffer or as the pieces it arrived in. */
function writeAt(
  file: PartialFile,
  data: Uint8Array | readonly Uint8Array[],
  offset: number,
): Promise<void> {
  if (ArrayBuffer.isView(data)) return file.write(data, offset)
  if (data.length === 1) return file.write(data[0] as Uint8Array, offset)
  if (file.writev) return file.writev(data, offset)
  // A store without writev: the pieces one after another.
  return (async () => {
    let at = offset
    for (const piece of data) {
      await file.write(piece, at)
      at += piece.byteLength
    }
  })()
}

function ioFailure(id: string, cause: unknown): TransferError {
  const code = (cause as NodeJS.ErrnoException)?.code
  return refuse(WireCode.IO_ERROR, `the upload could not be written${code ? ` (${code})` : ''}`, {
    transferId: id,
    cause,
  })
}

/**
 * The receiving side of a file transfer, independent of the wire: both protocol adapters (the
 * docs' JSON messages and the binary fast path) drive one of these through a
 * `ReceiverConnection` per socket. It owns the rules: names, sizes, quotas, free space, one
 * writer per transfer (across processes, through the store's lock), integrity and publishing.
 *
 * Emits no `'error'` event: failures go to the peer as coded refusals and are reported here as
 * `'failed'`, so nothing can crash a process for want of a listener.
 */
export class FileReceiver extends EventEmitter<FileReceiverEvents> {
  readonly storage: FileStorage
  readonly #settings: Settings
  readonly #transfers = new Map<string, Transfer>()
  /** Names being written by this process: two uploads of one name cannot both run. */
  readonly #names = new Set<string>()
  /** Transfers whose connection closed, still finishing their last write. */
  readonly #detaching = new Map<string, Promise<void>>()
  #ready: Promise<void> | undefined
  #sweepTimer: NodeJS.Timeout | undefined
  #closing = false

  constructor(directory: string, options: FileReceiverOptions = {}) {
    super()
    this.#settings = settings(options)
    const storage = options.storage
    if (storage === undefined) {
      const local = new LocalDirectoryStorage(nonEmptyString(directory, 'directory', './uploads'))
      // At construction, so a missing or read-only directory fails at startup.
      local.openSync()
      this.storage = local
    } else {
      if (typeof storage !== 'object' || storage === null || typeof storage.open !== 'function') {
        throw argError('ERR_INVALID_ARG_TYPE', 'storage must be a FileStorage object')
      }
      this.storage = storage
    }
  }

  get options(): Readonly<Settings> {
    return this.#settings
  }

  /** True after `close()`. */
  get closing(): boolean {
    return this.#closing
  }

  /**
   * Opens the store (rejecting for a missing or read-only directory), removes expired partials
   * and starts the expiry sweep on an unref'd timer. Idempotent; connections call it themselves.
   */
  ready(): Promise<void> {
    this.#ready ??= (async () => {
      await this.storage.open()
      await this.sweep()
      if (this.#closing) return
      const every = Math.max(1000, Math.min(this.#settings.partialTtlMs, 60_000))
      this.#sweepTimer = setInterval(() => {
        this.sweep().catch(() => {})
      }, every)
      this.#sweepTimer.unref()
    })()
    return this.#ready
  }

  /** Removes unfinished uploads untouched for `partialTtlMs`; resolves to how many. */
  async sweep(): Promise<number> {
    let removed = 0
    for (const id of await this.storage.stale(this.#settings.partialTtlMs)) {
      if (this.#transfers.has(id)) continue
      const release = await this.storage.lock(id)
      if (!release) continue
      try {
        await this.storage.remove(id)
        removed++
      } finally {
        await release()
      }
    }
    if (removed > 0) this.emit('expired', removed)
    return removed
  }

  /** A context for one connection: its quotas, its transfers. */
  connection(): ReceiverConnection {
    return new ReceiverConnection(this)
  }

  /**
   * Shuts down: refuses new starts and chunks with `shutting_down` (after `'shutdown'`, so
   * adapters can send their notice first), lets queued writes finish, closes every partial and
   * releases its lock. Nothing half-written is ever published; partials stay on disk, so the
   * uploads can resume on another server sharing the directory, until their TTL.
   */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true
      clearInterval(this.#sweepTimer)
      this.emit('shutdown')
    }
    await Promise.all([...this.#transfers.values()].map((t) => this.#detach(t)))
  }

  /** @internal */
  get transfers(): ReadonlyMap<string, Transfer> {
    return this.#transfers
  }

  /** @internal */
  async start(owner: ReceiverConnection, request: StartRequest): Promise<StartResult> {
    let result: StartResult
    try {
      await this.ready()
      if (this.#closing) throw refuse(WireCode.SHUTTING_DOWN, 'the server is shutting down')
      result =
        request.transferId === undefined
          ? await this.#create(owner, request)
          : await this.#resume(owner, request, request.transferId)
    } catch (error) {
      this.emit(
        'refused',
        error instanceof TransferError ? error : ioFailure(request.transferId ?? '', error),
        request,
      )
      throw error
    }
    this.emit('start', result)
    return result
  }

  async #create(owner: ReceiverConnection, request: StartRequest): Promise<StartResult> {
    const s = this.#settings
    const problem = nameProblem(request.name)
    if (problem) throw refuse(WireCode.NAME_INVALID, problem)
    const { name, size } = request
    if (!Number.isSafeInteger(size) || size < 0) {
      throw refuse(WireCode.BAD_REQUEST, 'size must be a non-negative integer')
    }
    if (size > s.maxFileBytes) {
      throw refuse(WireCode.TOO_LARGE, `size ${size} is over the limit of ${s.maxFileBytes}`, {
        limit: s.maxFileBytes,
        declaredLength: size,
      })
    }
    owner.checkQuota(size)
    if (this.#names.has(name) || (!s.overwrite && (await this.storage.exists(name)))) {
      throw refuse(WireCode.EXISTS, `${name} exists or is being uploaded`)
    }
    await this.#checkSpace(size)
    if (this.#closing) throw refuse(WireCode.SHUTTING_DOWN, 'the server is shutting down')
    // Checked again after the awaits: another start may have taken the name or the quota.
    if (this.#names.has(name)) throw refuse(WireCode.EXISTS, `${name} is being uploaded`)
    owner.checkQuota(size)
    const id = randomBytes(TRANSFER_ID_BYTES).toString('hex')
    this.#names.add(name)
    try {
      const release = await this.storage.lock(id)
      if (!release) throw refuse(WireCode.BUSY, 'the new transfer is locked')
      const meta: PartialMeta = { name, size, sha256: request.sha256, createdAt: Date.now() }
      let file: PartialFile
      try {
        file = await this.storage.create(id, meta)
      } catch (cause) {
        await release()
        await this.storage.remove(id).catch(() => {})
        throw ioFailure(id, cause)
      }
      this.#adopt(owner, id, meta, file, openHash(size), release)
      return { transferId: id, name, size, offset: 0, resumed: false }
    } catch (error) {
      this.#names.delete(name)
      throw error
    }
  }

  async #resume(
    owner: ReceiverConnection,
    request: StartRequest,
    id: string,
  ): Promise<StartResult> {
    if (!ID.test(id)) throw refuse(WireCode.BAD_REQUEST, 'transferId must be 32 hex characters')
    // A reconnect often arrives before the old connection's last write is done: wait for it.
    await this.#detaching.get(id)
    const current = this.#transfers.get(id)
    if (current) {
      if (current.owner === owner) {
        return {
          transferId: id,
          name: current.meta.name,
          size: current.meta.size,
          offset: current.received,
          resumed: true,
        }
      }
      throw refuse(WireCode.BUSY, 'another connection is writing this transfer', { transferId: id })
    }
    const release = await this.storage.lock(id)
    if (!release) {
      throw refuse(WireCode.BUSY, 'another connection is writing this transfer', { transferId: id })
    }
    let adopted = false
    try {
      const found = await this.storage.reopen(id).catch((cause) => {
        throw ioFailure(id, cause)
      })
      if (!found) throw refuse(WireCode.NOT_FOUND, 'no such transfer', { transferId: id })
      const { meta, file } = found
      try {
        if (request.name !== undefined && request.name !== meta.name) {
          throw refuse(WireCode.BAD_REQUEST, 'name differs from the transfer being resumed', {
            transferId: id,
          })
        }
        if (request.size !== undefined && request.size !== meta.size) {
          throw refuse(WireCode.BAD_REQUEST, 'size differs from the transfer being resumed', {
            transferId: id,
          })
        }
        if (this.#names.has(meta.name)) {
          throw refuse(WireCode.EXISTS, `${meta.name} is being uploaded`, { transferId: id })
        }
        // A crash can leave bytes past the declared size only if the disk lies; refuse to go on.
        if (file.size > meta.size) throw ioFailure(id, new Error('partial longer than declared'))
        owner.checkQuota(meta.size - file.size)
        await this.#checkSpace(meta.size - file.size)
        // The hash state cannot be saved, so a resumed upload re-reads what is on disk.
        const hash = openHash(meta.size)
        try {
          for await (const chunk of this.storage.read(id, file.size)) await hash.update(chunk)
          if (this.#closing) throw refuse(WireCode.SHUTTING_DOWN, 'the server is shutting down')
          if (this.#names.has(meta.name)) {
            throw refuse(WireCode.EXISTS, `${meta.name} is being uploaded`, { transferId: id })
          }
        } catch (error) {
          hash.discard()
          throw error
        }
        this.#names.add(meta.name)
        this.#adopt(owner, id, meta, file, hash, release, file.size)
        adopted = true
        return {
          transferId: id,
          name: meta.name,
          size: meta.size,
          offset: file.size,
          resumed: true,
        }
      } finally {
        if (!adopted) await file.close().catch(() => {})
      }
    } finally {
      if (!adopted) await release()
    }
  }

  #adopt(
    owner: ReceiverConnection,
    id: string,
    meta: PartialMeta,
    file: PartialFile,
    hash: StreamHash,
    release: () => Promise<void>,
    offset = 0,
  ): void {
    const transfer: Transfer = {
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
    const idleMs = this.#settings.idleTimeoutMs
    if (idleMs > 0) {
      transfer.idle = setTimeout(() => this.#onIdle(transfer), idleMs)
      transfer.idle.unref()
    }
    this.#transfers.set(id, transfer)
    owner.adopt(transfer)
  }

  async #checkSpace(bytes: number): Promise<void> {
    const free = await this.storage.freeBytes().catch(() => Number.POSITIVE_INFINITY)
    if (free - bytes < this.#settings.minFreeBytes) {
      throw refuse(WireCode.QUOTA, `not enough free space for ${bytes} bytes`, { limit: free })
    }
  }

  /**
   * @internal Accepts one chunk (a buffer, or the pieces it arrived in) synchronously; the
   * promise settles after it is written.
   */
  write(
    owner: ReceiverConnection,
    id: string,
    offset: number,
    data: Uint8Array | readonly Uint8Array[],
    crc?: number,
  ): Promise<number> {
    const t = this.#owned(owner, id)
    if (this.#closing)
      throw refuse(WireCode.SHUTTING_DOWN, 'the server is shutting down', { transferId: id })
    if (t.ending) throw refuse(WireCode.BAD_REQUEST, 'chunk after file_end', { transferId: id })
    if (offset !== t.received) {
      throw refuse(WireCode.OFFSET_MISMATCH, `chunk at ${offset}, expected ${t.received}`, {
        transferId: id,
        expected: t.received,
        offset,
        recoverable: true,
      })
    }
    const pieces = ArrayBuffer.isView(data) ? undefined : data
    let length = 0
    if (pieces === undefined) length = (data as Uint8Array).byteLength
    else for (const piece of pieces) length += piece.byteLength
    if (length > this.#settings.maxChunkBytes || t.received + length > t.meta.size) {
      const error = refuse(
        WireCode.TOO_LARGE,
        length > this.#settings.maxChunkBytes
          ? `chunk of ${length} bytes is over the limit of ${this.#settings.maxChunkBytes}`
          : `chunk runs past the declared size of ${t.meta.size}`,
        { transferId: id, limit: this.#settings.maxChunkBytes, declaredLength: length },
      )
      void this.#fail(t, error)
      throw error
    }
    if (crc !== undefined && crcOf(data) !== crc) {
      throw refuse(WireCode.CHECKSUM_MISMATCH, `chunk at ${offset} failed its CRC-32`, {
        transferId: id,
        expected: t.received,
        offset,
        recoverable: true,
      })
    }
    t.idle?.refresh()
    t.received += length
    owner.queued += length
    // Submitted before hashing, so the write runs on libuv's pool while this thread hashes;
    // writes at distinct offsets may run at once, and are acknowledged in order.
    let submitted: Promise<void>
    try {
      submitted = writeAt(t.file, data, offset)
    } catch (cause) {
      submitted = Promise.reject(cause)
    }
    submitted.catch(() => {})
    // Hashed on the hashing thread for large uploads; its backlog counts as queued bytes.
    const hashed = t.hash.update(data)
    hashed.catch(() => {})
    const written = t.tail.then(async () => {
      try {
        await submitted
        await hashed
      } catch (cause) {
        const error = t.failure ?? ioFailure(id, cause)
        // Not awaited: failing waits for the queue, and this write is in it.
        void this.#fail(t, error)
        throw error
      }
      if (t.failure) throw t.failure
      // A slow disk is not an idle sender: progress here counts as activity too.
      t.idle?.refresh()
      t.durable = offset + length
      if (t.durable - t.flushedAt >= FLUSH_EVERY_BYTES && t.flushing === undefined) {
        t.flushedAt = t.durable
        t.flushing = t.file.sync().then(
          () => {
            t.flushing = undefined
          },
          (cause) => {
            t.flushError ??= cause
            t.flushing = undefined
          },
        )
      }
      return t.durable
    })
    const settled = written.finally(() => {
      owner.queued -= length
      owner.drained()
    })
    t.tail = settled.then(
      () => {},
      () => {},
    )
    return settled
  }

  /** @internal Waits for every byte, verifies and publishes. */
  async end(owner: ReceiverConnection, id: string, sha256?: string): Promise<CompletedTransfer> {
    const t = this.#owned(owner, id)
    if (t.ending)
      throw refuse(WireCode.NOT_FOUND, 'this transfer is already ending', { transferId: id })
    t.ending = true
    await t.tail
    if (t.failure) throw t.failure
    if (t.received !== t.meta.size) {
      t.ending = false
      throw refuse(WireCode.SIZE_MISMATCH, `${t.received} of ${t.meta.size} bytes arrived`, {
        transferId: id,
        expected: t.meta.size,
        offset: t.received,
        recoverable: true,
      })
    }
    const expected = sha256 ?? t.meta.sha256
    if (expected === undefined && this.#settings.requireSha256) {
      t.ending = false
      throw refuse(WireCode.BAD_REQUEST, 'a sha256 is required', {
        transferId: id,
        recoverable: true,
      })
    }
    let digest: string
    try {
      digest = await t.hash.digest()
    } catch (cause) {
      const error = ioFailure(id, cause)
      await this.#fail(t, error)
      throw error
    }
    if (expected !== undefined && expected !== digest) {
      const error = refuse(
        WireCode.CHECKSUM_MISMATCH,
        'the SHA-256 of the received bytes differs',
        {
          transferId: id,
        },
      )
      await this.#fail(t, error)
      throw error
    }
    if (this.#closing) {
      // Verified, but shutdown has begun: finish? No: publishing may be cut off half-way by the
      // process exiting. The partial stays; a resume on another server publishes it.
      await this.#detach(t)
      throw refuse(WireCode.SHUTTING_DOWN, 'the server is shutting down', { transferId: id })
    }
    try {
      await t.flushing
      if (t.flushError !== undefined) throw t.flushError
      await t.file.sync()
      await t.file.close()
    } catch (cause) {
      const error = ioFailure(id, cause)
      await this.#fail(t, error, false)
      throw error
    }
    try {
      await this.storage.publish(id, t.meta.name, this.#settings.overwrite)
    } catch (cause) {
      const exists = (cause as NodeJS.ErrnoException).code === 'EEXIST'
      const error = exists
        ? refuse(WireCode.EXISTS, `${t.meta.name} was published by someone else first`, {
            transferId: id,
            cause,
          })
        : ioFailure(id, cause)
      await this.#fail(t, error, false)
      throw error
    }
    await this.#forget(t)
    const durationMs = performance.now() - t.startedAt
    const bytes = t.meta.size - t.startOffset
    const done: CompletedTransfer = {
      transferId: id,
      name: t.meta.name,
      size: t.meta.size,
      sha256: digest,
      durationMs,
      bytesPerSec: Math.round((bytes * 1000) / Math.max(durationMs, 1)),
    }
    this.emit('complete', done)
    return done
  }

  /** @internal Removes the upload; `not_found` when there is none this connection may cancel. */
  async cancel(owner: ReceiverConnection, id: string): Promise<void> {
    const t = this.#transfers.get(id)
    if (t) {
      if (t.owner !== owner)
        throw refuse(WireCode.BUSY, 'another connection is writing this transfer', {
          transferId: id,
        })
      t.failure ??= refuse(WireCode.NOT_FOUND, 'the transfer was cancelled', { transferId: id })
      await t.tail
      await t.flushing
      await t.file.close().catch(() => {})
      await this.storage.remove(id)
      await this.#forget(t)
      return
    }
    if (!ID.test(id)) throw refuse(WireCode.NOT_FOUND, 'no such transfer', { transferId: id })
    await this.ready()
    const release = await this.storage.lock(id)
    if (!release)
      throw refuse(WireCode.BUSY, 'another connection is writing this transfer', { transferId: id })
    try {
      const found = await this.storage.reopen(id)
      if (!found) throw refuse(WireCode.NOT_FOUND, 'no such transfer', { transferId: id })
      await found.file.close()
      await this.storage.remove(id)
    } finally {
      await release()
    }
  }

  /** @internal The connection closed: its uploads stay on disk for resume, unlocked. */
  detachAll(owner: ReceiverConnection): Promise<void> {
    const mine = [...this.#transfers.values()].filter((t) => t.owner === owner)
    return Promise.all(mine.map((t) => this.#detach(t))).then(() => {})
  }

  #owned(owner: ReceiverConnection, id: string): Transfer {
    const t = this.#transfers.get(id)
    if (!t || t.failure) throw refuse(WireCode.NOT_FOUND, 'no such transfer', { transferId: id })
    if (t.owner !== owner)
      throw refuse(WireCode.BUSY, 'another connection is writing this transfer', { transferId: id })
    return t
  }

  /**
   * No chunk for `idleTimeoutMs`. Not while the upload is publishing or its writes are still
   * going: then the wait is ours, not the sender's. Released like a closed connection (the
   * partial kept, the lock and name freed), and the connection's adapter tells the peer.
   */
  #onIdle(t: Transfer): void {
    if (this.#transfers.get(t.id) !== t || t.failure) return
    if (t.ending || t.durable < t.received) {
      t.idle?.refresh()
      return
    }
    const error = refuse(
      WireCode.TIMEOUT,
      `no data for ${this.#settings.idleTimeoutMs} ms; resume with the transfer id`,
      { transferId: t.id, offset: t.received, expected: t.received },
    )
    t.failure = error
    void this.#detach(t)
    this.emit('timeout', t.id, error)
    t.owner.timedOut(t.id, error)
  }

  #detach(t: Transfer): Promise<void> {
    if (this.#transfers.get(t.id) !== t) return this.#detaching.get(t.id) ?? Promise.resolve()
    t.failure ??= refuse(WireCode.SHUTTING_DOWN, 'the transfer was detached', { transferId: t.id })
    t.hash.discard()
    clearTimeout(t.idle)
    this.#transfers.delete(t.id)
    t.owner.forget(t)
    const done = (async () => {
      await t.tail
      await t.flushing
      await t.file.close().catch(() => {})
      this.#names.delete(t.meta.name)
      await t.release().catch(() => {})
      this.#detaching.delete(t.id)
    })()
    this.#detaching.set(t.id, done)
    return done
  }

  /** Fails a transfer for good: its partial is removed. */
  #fail(t: Transfer, error: TransferError, close = true): Promise<void> {
    if (t.failure && this.#transfers.get(t.id) !== t) return Promise.resolve()
    t.failure = error
    this.emit('failed', t.id, error)
    return (async () => {
      if (close) {
        // Let the write in flight finish before removing the file under it.
        await t.tail
        await t.flushing
        await t.file.close().catch(() => {})
      }
      await this.storage.remove(t.id).catch(() => {})
      await this.#forget(t)
    })()
  }

  async #forget(t: Transfer): Promise<void> {
    if (this.#transfers.get(t.id) !== t) return
    t.hash.discard()
    clearTimeout(t.idle)
    this.#transfers.delete(t.id)
    this.#names.delete(t.meta.name)
    await t.release().catch(() => {})
    t.owner.forget(t)
  }
}

/**
 * One connection's view of a `FileReceiver`: its quotas (bytes declared, transfers open) and its
 * backpressure (`queued` bytes accepted but not yet written). Protocol adapters make one per
 * socket and call `close()` when the socket closes.
 */
export class ReceiverConnection {
  readonly receiver: FileReceiver
  /** Bytes accepted and not yet written. Adapters stop reading above `maxQueuedBytes`. */
  queued = 0
  /** Bytes declared by transfers started or resumed on this connection. */
  declared = 0
  readonly #open = new Set<Transfer>()
  #onDrained: (() => void) | undefined
  /**
   * Set by the protocol adapter: a transfer of this connection was released for idleness
   * (`timeout`, partial kept). The adapter tells the peer; its later chunks are `not_found`.
   */
  onTimeout: ((transferId: string, error: TransferError) => void) | undefined

  constructor(receiver: FileReceiver) {
    this.receiver = receiver
  }

  /** Transfers this connection is writing. */
  get openTransfers(): number {
    return this.#open.size
  }

  start(request: StartRequest): Promise<StartResult> {
    return this.receiver.start(this, request)
  }

  /**
   * Accepts a chunk at `offset`, as one buffer or as the pieces it arrived in, in order (a coded
   * `TransferError` is thrown at once if it cannot be: unknown transfer, wrong offset, too large,
   * bad CRC-32). The promise resolves to the bytes on disk after this chunk's write callback.
   * The buffers must not be reused until then.
   */
  write(
    id: string,
    offset: number,
    data: Uint8Array | readonly Uint8Array[],
    crc?: number,
  ): Promise<number> {
    return this.receiver.write(this, id, offset, data, crc)
  }

  end(id: string, sha256?: string): Promise<CompletedTransfer> {
    if (sha256 !== undefined && !SHA256.test(sha256)) {
      return Promise.reject(
        refuse(WireCode.BAD_REQUEST, 'sha256 must be 64 lowercase hex characters', {
          transferId: id,
          recoverable: true,
        }),
      )
    }
    return this.receiver.end(this, id, sha256)
  }

  cancel(id: string): Promise<void> {
    return this.receiver.cancel(this, id)
  }

  /** The connection is gone: its transfers are kept on disk for resume and unlocked. */
  close(): Promise<void> {
    return this.receiver.detachAll(this)
  }

  /** True when the adapter should stop reading until `onDrained` fires. */
  get congested(): boolean {
    return this.queued >= this.receiver.options.maxQueuedBytes
  }

  /** Called once when `queued` falls below the limit again. */
  whenDrained(callback: () => void): void {
    this.#onDrained = callback
  }

  /** @internal */
  drained(): void {
    if (this.#onDrained && !this.congested) {
      const callback = this.#onDrained
      this.#onDrained = undefined
      callback()
    }
  }

  /** @internal */
  timedOut(transferId: string, error: TransferError): void {
    this.onTimeout?.(transferId, error)
  }

  /** @internal */
  checkQuota(bytes: number): void {
    const { maxConcurrentTransfers, maxConnectionBytes } = this.receiver.options
    if (this.#open.size >= maxConcurrentTransfers) {
      throw refuse(
        WireCode.QUOTA,
        `over the limit of ${maxConcurrentTransfers} transfers at once`,
        { limit: maxConcurrentTransfers },
      )
    }
    if (this.declared + bytes > maxConnectionBytes) {
      throw refuse(WireCode.QUOTA, `over the connection's quota of ${maxConnectionBytes} bytes`, {
        limit: maxConnectionBytes,
      })
    }
  }

  /** @internal */
  adopt(t: Transfer): void {
    this.#open.add(t)
    this.declared += t.meta.size - t.received
  }

  /** @internal */
  forget(t: Transfer): void {
    this.#open.delete(t)
  }
}
