import { EventEmitter } from 'node:events'
import { performance } from 'node:perf_hooks'
import { argError, string as nonEmptyString } from '@verb-tcp/core/validate'
import { crcOf, ioFailure, writeChunk } from './chunk-writer.ts'
import { refuse, TransferError, WireCode } from './errors.ts'
import type { StreamHash } from './hasher.ts'
import { LocalDirectoryStorage } from './local-storage.ts'
import { ReceiverConnection } from './receiver-connection.ts'
import { type ReceiverSettings, settings } from './receiver-options.ts'
import type { FileStorage, PartialFile, PartialMeta } from './storage.ts'
import { newTransfer, type Transfer } from './transfer.ts'
import { createTransfer, type OpenContext, resumeTransfer } from './transfer-open.ts'
import type {
  CompletedTransfer,
  FileReceiverEvents,
  FileReceiverOptions,
  StartRequest,
  StartResult,
} from './types.ts'

const ID = /^[0-9a-f]{32}$/

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
  readonly #settings: ReceiverSettings
  readonly #transfers = new Map<string, Transfer>()
  /** Names being written by this process: two uploads of one name cannot both run. */
  readonly #names = new Set<string>()
  /** Transfers whose connection closed, still finishing their last write. */
  readonly #detaching = new Map<string, Promise<void>>()
  #ready: Promise<void> | undefined
  readonly #opening: OpenContext
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
    const receiver = this
    this.#opening = {
      settings: this.#settings,
      storage: this.storage,
      names: this.#names,
      transfers: this.#transfers,
      detaching: this.#detaching,
      get closing() {
        return receiver.#closing
      },
      adopt: (...args) => this.#adopt(...args),
    }
  }

  get options(): Readonly<ReceiverSettings> {
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
          ? await createTransfer(this.#opening, owner, request)
          : await resumeTransfer(this.#opening, owner, request, request.transferId)
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

  #adopt(
    owner: ReceiverConnection,
    id: string,
    meta: PartialMeta,
    file: PartialFile,
    hash: StreamHash,
    release: () => Promise<void>,
    offset = 0,
  ): void {
    const transfer = newTransfer(owner, id, meta, file, hash, release, offset)
    const idleMs = this.#settings.idleTimeoutMs
    if (idleMs > 0) {
      transfer.idle = setTimeout(() => this.#onIdle(transfer), idleMs)
      transfer.idle.unref()
    }
    this.#transfers.set(id, transfer)
    owner.adopt(transfer)
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
    const written = writeChunk(t, offset, data, length, (error) => void this.#fail(t, error))
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
    await this.#publish(t)
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

  /** Makes a verified upload durable and gives it its name; a failure fails the transfer. */
  async #publish(t: Transfer): Promise<void> {
    const id = t.id
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
