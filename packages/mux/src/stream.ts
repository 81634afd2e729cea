import { Duplex } from 'node:stream'
import type { ProtocolError } from '@verb-tcp/core'
import { HEADER_BYTES } from './constants.ts'
import { ResetCode, StreamResetError } from './errors.ts'
import type { FlowWindow } from './flow-window.ts'
import type { StreamInfo, StreamMetadata } from './types.ts'

/** What a stream may ask of its session, given to it at construction. Internal. */
export interface StreamOwner {
  /** The stream has bytes queued to send. */
  schedule(stream: MuxStream): void
  /** All data is written: send `stream_close` (half-close). */
  sendFin(stream: MuxStream): void
  /** Send `stream_reset` with `code`. */
  sendReset(stream: MuxStream, code: number): void
  /** The application read from the stream: give credit back. */
  onRead(stream: MuxStream): void
  /** The readable side is full (legacy peers only: pause the socket). */
  onFull(stream: MuxStream): void
  /** The stream is destroyed: forget it. */
  detach(stream: MuxStream): void
  /** The error a write fails with once the session is gone, or undefined while it is up. */
  writeError(): ProtocolError | undefined
}

const EMPTY: Buffer[] = []
/** Payloads up to this size are copied next to their header: one buffer, one writev entry. */
const COALESCE_BYTES = 1024

/** Where a stream's frames go: the session's (corked) socket. */
export interface FrameSink {
  write(chunk: Buffer): unknown
}
const ignoreError = (): void => {}

/**
 * One logical stream: a Node `Duplex`. `write()` returns false and `'drain'` follows as usual;
 * `end()` half-closes (sends `stream_close` after all data); `destroy(err)` or `reset(code)`
 * aborts with `stream_reset`. A stream ends when both sides have closed.
 *
 * A reset by the peer, or the session closing, destroys the stream with a `ProtocolError`
 * (kept in `resetError`). The stream never throws an unhandled `'error'`: it listens itself, so
 * a peer cannot crash a process whatever the application listens to.
 */
export class MuxStream extends Duplex {
  readonly id: number
  readonly type: string
  readonly metadata: StreamMetadata
  /** True for streams we opened, false for streams the peer opened. */
  readonly local: boolean
  /** Why the stream was reset or aborted (the peer's reset, the session's end), if it was. */
  resetError: ProtocolError | undefined

  /** @internal receive credit */
  readonly recv: FlowWindow
  /** @internal absolute send limit granted by the peer */
  sendLimit: number
  /** @internal bytes sent */
  sent = 0
  /** @internal bytes pushed to the readable side */
  pushed = 0
  /** @internal chunks handed to _write/_writev, not yet framed */
  queue: Buffer[] = EMPTY
  /** @internal index of the first unsent chunk in `queue` */
  queueIndex = 0
  /** @internal bytes of `queue[queueIndex]` already sent */
  queueOffset = 0
  /** @internal unsent bytes in `queue` */
  queued = 0
  /** @internal in the session's round-robin list */
  inReady = false
  /** @internal */
  finSent = false
  /** @internal */
  finReceived = false
  /** @internal */
  resetSent = false
  /** @internal */
  resetReceived = false
  /** @internal removed from the session */
  detached = false
  /** @internal opened by us and waiting for a slot under the peer's `maxStreams` */
  waiting = false
  /** @internal `end()` came while waiting: `stream_close` follows the `stream_create` */
  finDeferred = false
  /** @internal counted against `maxStreams` (ours at the peer, or the peer's here) */
  slot = false
  #owner: StreamOwner
  #writeCallback: ((error?: Error | null) => void) | undefined
  #resetCode: number | undefined

  /** @internal streams are made by `MuxSession.open` and by the session for the peer's opens. */
  constructor(
    owner: StreamOwner,
    info: StreamInfo,
    local: boolean,
    recv: FlowWindow,
    sendLimit: number,
    highWaterMark: number,
  ) {
    super({
      allowHalfOpen: true,
      readableHighWaterMark: highWaterMark,
      writableHighWaterMark: highWaterMark,
    })
    this.#owner = owner
    this.id = info.id
    this.type = info.type
    this.metadata = info.metadata
    this.local = local
    this.recv = recv
    this.sendLimit = sendLimit
    // A peer's reset or disconnect must not crash a server written as `stream.pipe(stream)`:
    // `pipe` rethrows an 'error' when its own listener is the only one. With this one always
    // present, errors still reach the application's listeners, `pipeline`, `finished` and
    // `for await`, and stay readable in `errored` and `resetError`.
    this.on('error', ignoreError)
  }

  /** Aborts the stream with `stream_reset` carrying `code` (default `CANCEL`). */
  reset(code: number = ResetCode.CANCEL): void {
    if (this.destroyed) return
    this.#resetCode = code
    this.destroy()
  }

  /** Refuses a stream the peer opened: a reset with `REFUSED_STREAM` (safe for it to retry). */
  refuse(): void {
    this.reset(ResetCode.REFUSED_STREAM)
  }

  override _read(): void {
    this.#owner.onRead(this)
  }

  /**
   * Every consumption goes through `read()` (flowing mode, `pipe`, async iteration), so this is
   * where credit is given back. `_read` alone misses data that was buffered when it was called.
   */
  override read(size?: number): unknown {
    const chunk: unknown = super.read(size)
    if (this.pushed - this.readableLength !== this.recv.consumed) this.#owner.onRead(this)
    return chunk
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (e?: Error | null) => void) {
    this.#enqueue([chunk], chunk.length, callback)
  }

  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (e?: Error | null) => void,
  ): void {
    const list = new Array<Buffer>(chunks.length)
    let total = 0
    for (let i = 0; i < chunks.length; i++) {
      const c = (chunks[i] as { chunk: Buffer }).chunk
      list[i] = c
      total += c.length
    }
    this.#enqueue(list, total, callback)
  }

  #enqueue(list: Buffer[], total: number, callback: (e?: Error | null) => void): void {
    const error = this.#owner.writeError()
    if (error !== undefined) {
      // Destroyed first, so the stream is gone before the write callback reports the error.
      this.abort(error)
      callback(error)
      return
    }
    if (total === 0) {
      callback()
      return
    }
    this.queue = list
    this.queueIndex = 0
    this.queueOffset = 0
    this.queued = total
    this.#writeCallback = callback
    this.#owner.schedule(this)
  }

  /** @internal queued bytes the peer's credit lets this stream send now */
  get sendable(): number {
    const credit = this.sendLimit - this.sent
    return Math.min(credit, this.queued)
  }

  /**
   * @internal frames the next `n` queued bytes (n ≤ `sendable`) into `sink`: small payloads
   * copied next to their header, larger ones as the header and views of the written chunks.
   */
  writeFrame(sink: FrameSink, n: number): void {
    const queue = this.queue
    let index = this.queueIndex
    let chunk = queue[index] as Buffer
    let offset = this.queueOffset
    if (n <= COALESCE_BYTES) {
      const frame = Buffer.allocUnsafe(HEADER_BYTES + n)
      frame.writeUInt32BE(this.id, 0)
      frame.writeUInt32BE(n, 4)
      let at = HEADER_BYTES
      let left = n
      while (left > 0) {
        const take = Math.min(chunk.length - offset, left)
        chunk.copy(frame, at, offset, offset + take)
        at += take
        left -= take
        offset += take
        if (offset === chunk.length) {
          offset = 0
          chunk = queue[++index] as Buffer
        }
      }
      sink.write(frame)
    } else {
      const header = Buffer.allocUnsafe(HEADER_BYTES)
      header.writeUInt32BE(this.id, 0)
      header.writeUInt32BE(n, 4)
      sink.write(header)
      let left = n
      while (left > 0) {
        const avail = chunk.length - offset
        if (avail <= left) {
          sink.write(offset === 0 ? chunk : chunk.subarray(offset))
          left -= avail
          offset = 0
          chunk = queue[++index] as Buffer
        } else {
          sink.write(chunk.subarray(offset, offset + left))
          offset += left
          left = 0
        }
      }
    }
    this.queueIndex = index
    this.queueOffset = offset
    this.queued -= n
    this.sent += n
  }

  /** @internal every queued byte has been handed to the socket */
  writeDone(): void {
    const callback = this.#writeCallback
    this.#writeCallback = undefined
    this.queue = EMPTY
    this.queueIndex = 0
    this.queueOffset = 0
    callback?.()
  }

  override _final(callback: (e?: Error | null) => void): void {
    const error = this.#owner.writeError()
    if (error !== undefined) {
      this.abort(error)
      callback(error)
      return
    }
    this.finSent = true
    this.#owner.sendFin(this)
    callback()
  }

  override _destroy(error: Error | null, callback: (e?: Error | null) => void): void {
    if (!this.detached) {
      const closedCleanly = this.finSent && this.finReceived
      if (!closedCleanly && !this.resetReceived && !this.resetSent) {
        this.resetSent = true
        this.#owner.sendReset(this, this.#resetCode ?? ResetCode.CANCEL)
      }
      this.#owner.detach(this)
    }
    const pending = this.#writeCallback
    this.#writeCallback = undefined
    this.queue = EMPTY
    this.queued = 0
    if (pending !== undefined) {
      const reason =
        error ?? this.resetError ?? new StreamResetError(this.id, ResetCode.CANCEL, false)
      pending(reason)
    }
    callback(error)
  }

  /** @internal payload bytes from the peer */
  deliver(payload: Buffer): void {
    if (this.destroyed) return
    this.pushed += payload.length
    if (!this.push(payload)) this.#owner.onFull(this)
  }

  /** @internal the peer half-closed */
  remoteFin(): void {
    if (this.finReceived) return
    this.finReceived = true
    if (!this.destroyed) this.push(null)
  }

  /** @internal the peer reset the stream */
  remoteReset(code: number): void {
    if (this.destroyed) return
    this.resetReceived = true
    this.abort(new StreamResetError(this.id, code, true))
  }

  /**
   * @internal destroys with `error`; no reset is sent when the caller already did (or the
   * session is gone).
   */
  abort(error: ProtocolError, sendReset = false, code: number = ResetCode.CANCEL): void {
    if (this.destroyed) return
    if (!sendReset) this.resetSent = true
    else this.#resetCode = code
    this.resetError = error
    this.destroy(error)
  }
}
