import { performance } from 'node:perf_hooks'
import { Duplex } from 'node:stream'
import type { ProtocolError } from '@verb-tcp/core'
import { ResetCode, StreamResetError } from './errors.ts'
import { FlowWindow } from './flow-window.ts'
import { type SendFrame, SendQueue } from './send-queue.ts'
import type { StreamInfo, StreamMetadata } from './types.ts'

/** What a stream may ask of its session, given to it at construction. Internal. */
export interface StreamOwner {
  /** The stream has bytes queued and credit to send them: put it in the send rotation. */
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

/** What the session gives a stream it makes. Internal. */
export interface StreamInit {
  info: StreamInfo
  /** True for streams we opened. */
  local: boolean
  owner: StreamOwner
  /** Where the stream's frames go (the session's corked socket). */
  sendFrame: SendFrame
  /** Credit the peer grants each new stream (its initial window), as an absolute limit. */
  sendLimit: number
  /** Our receive window: initial size and auto-tuning cap. */
  initialWindow: number
  maxWindow: number
  highWaterMark: number
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
 *
 * Each stream owns its flow-control state: the credit the peer granted it and the queue of its
 * write in progress (framed through the callback the session gave it), and its receive window.
 * The session only tells it what arrived and asks it for frames when its turn comes.
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
  /** @internal bytes pushed to the readable side */
  pushed = 0
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
  readonly #send: SendQueue
  readonly #owner: StreamOwner
  #resetCode: number | undefined

  /** @internal streams are made by `MuxSession.open` and by the session for the peer's opens. */
  constructor(init: StreamInit) {
    super({
      allowHalfOpen: true,
      readableHighWaterMark: init.highWaterMark,
      writableHighWaterMark: init.highWaterMark,
    })
    this.#owner = init.owner
    this.id = init.info.id
    this.type = init.info.type
    this.metadata = init.info.metadata
    this.local = init.local
    this.recv = new FlowWindow(init.initialWindow, init.maxWindow, performance.now())
    this.#send = new SendQueue(init.info.id, init.sendLimit, init.sendFrame)
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

  // ------------------------------------------------------------------ sending

  /** @internal bytes sent */
  get sent(): number {
    return this.#send.sent
  }

  /** @internal bytes written by the application and not yet framed */
  get queued(): number {
    return this.#send.queued
  }

  /** @internal queued bytes the peer's credit lets this stream send now */
  get sendable(): number {
    return this.#send.sendable
  }

  /** @internal the peer raised our send limit (a window update, or its hello) */
  grant(limit: number): void {
    if (this.#send.grant(limit)) this.#owner.schedule(this)
  }

  /**
   * @internal sets the send limit even below what it was (a legacy peer: no limit; a late
   * hello: back to what it advertises)
   */
  setSendLimit(limit: number): void {
    this.#send.setLimit(limit)
    if (this.#send.sendable > 0) this.#owner.schedule(this)
  }

  /** @internal frames the next `n` queued bytes (n ≤ `sendable`) through the session's callback */
  sendFrame(n: number): void {
    this.#send.send(n)
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
    this.#send.enqueue(list, total, callback)
    if (this.#send.queued > 0) this.#owner.schedule(this)
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
    const pending = this.#send.clear()
    if (pending !== undefined) {
      pending(error ?? this.resetError ?? new StreamResetError(this.id, ResetCode.CANCEL, false))
    }
    callback(error)
  }

  // ---------------------------------------------------------------- receiving

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

  /** @internal counts `n` bytes from the peer against our window; false past it */
  receive(n: number): boolean {
    return this.recv.receive(n)
  }

  /** @internal payload bytes from the peer */
  deliver(payload: Buffer): void {
    if (this.destroyed) return
    this.pushed += payload.length
    if (!this.push(payload)) this.#owner.onFull(this)
  }

  /** @internal bytes the application consumed since the last call (credit to give back) */
  takeConsumed(): number {
    const consumed = this.pushed - this.readableLength
    const delta = consumed - this.recv.consumed
    if (delta <= 0) return 0
    this.recv.consumed = consumed
    return delta
  }

  /**
   * @internal when half our window is consumed: the new absolute limit to advertise (the
   * window auto-tuned, at most `cap`), or -1 when no update is due or the peer sends no more
   */
  creditUpdate(now: number, rtt: number, cap: number): number {
    if (this.finReceived || this.detached) return -1
    const recv = this.recv
    if (recv.limit - recv.consumed > recv.window / 2) return -1
    return recv.update(now, rtt, cap)
  }

  /** @internal the stream is gone from the session: its unread bytes count as consumed */
  detach(): number {
    this.detached = true
    const unread = this.recv.received - this.recv.consumed
    if (unread <= 0) return 0
    this.recv.consumed += unread
    return unread
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
