import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Duplex } from 'node:stream'
import { ErrorCode, ProtocolError } from '@verb-tcp/core'
import { CodecErrorCode, type DecodeSink, routeCodecError } from '@verb-tcp/core/codec'
import { argError, knownKeys, ms } from '@verb-tcp/core/validate'
import { PeerBudgets } from './budgets.ts'
import {
  COMPACT_STREAM_ID,
  CONTROL_STREAM_ID,
  FEATURE_COMPACT,
  HEADER_BYTES,
  MAX_STREAM_ID,
  MIN_FRAME_SIZE,
  MIN_WINDOW,
  PROTOCOL_VERSION,
  SMALL_FRAME_BYTES,
} from './constants.ts'
import { type ControlMessage, encodeControl, parseControl, readCompact } from './control.ts'
import { goAwayCodeFor, MuxErrorCode, muxError, ResetCode, StreamResetError } from './errors.ts'
import { FlowWindow } from './flow-window.ts'
import { MuxFrameDecoder } from './frame-decoder.ts'
import { type ResolvedOptions, resolveOptions } from './options.ts'
import { Pings } from './pings.ts'
import { SendScheduler } from './scheduler.ts'
import { StreamSlots } from './slots.ts'
import { MuxStream, type StreamOwner } from './stream.ts'
import type {
  GoAwayInfo,
  MuxFrame,
  MuxSessionOptions,
  PeerSettings,
  StreamInfo,
  StreamMetadata,
} from './types.ts'
import { WritePipeline } from './write-pipeline.ts'

/** An RTT floor for auto-tuning, in ms: the event loop is coarser than loopback. */
const MIN_TUNING_RTT = 1

/** How `open()` waits when the peer's `maxStreams` is reached. */
export interface OpenOptions {
  /** Gives up waiting for a slot: the stream is destroyed with an `AbortError` (`ABORT_ERR`). */
  signal?: AbortSignal
  /** Gives up after this many ms without a slot: `ERR_MUX_OPEN_TIMEOUT`. Default: no limit. */
  timeout?: number
}

/** The events of a `MuxSession`. */
export interface MuxSessionEvents {
  /** The peer opened a stream (already accepted). Call `stream.refuse()` to refuse it. */
  stream: [stream: MuxStream]
  /** The peer's hello arrived, or the peer was found to be a legacy peer. */
  settings: [settings: PeerSettings]
  /** The peer sent goaway. */
  goaway: [info: GoAwayInfo]
  /** A fatal session error; only emitted when there is a listener. */
  error: [error: ProtocolError]
  /** The session is closed; `error` is the fatal error, if any. */
  close: [error: ProtocolError | undefined]
}

/**
 * A multiplexed session over one byte stream (`net.Socket`, TLS socket or any `Duplex`).
 * See the package README for the wire format and the state machine.
 */
export class MuxSession extends EventEmitter<MuxSessionEvents> {
  readonly role: MuxSessionOptions['role']
  readonly #streams = new Map<number, MuxStream>()
  /** What the peer advertised; undefined until its first frame. */
  peer: PeerSettings | undefined
  /** Smoothed RTT from pings, in ms; 0 until the first pong. */
  rtt = 0

  readonly #socket: Duplex
  readonly #decoder: MuxFrameDecoder
  readonly #o: ResolvedOptions
  readonly #acceptStream: MuxSessionOptions['acceptStream']
  readonly #sessionRecv: FlowWindow
  /** Session send credit and the round-robin of streams with data to send. */
  readonly #sched: SendScheduler
  #nextLocalId: number
  #highestRemoteId = 0
  #lastAcceptedId = 0
  /** Streams counted against `maxStreams` either way, and our opens waiting for a slot. */
  readonly #slots = new StreamSlots()
  /** What the peer may cost us beyond what flow control bounds. */
  readonly #budgets: PeerBudgets

  /** Cork, flush, drain and window-update batching: everything the session writes. */
  readonly #out: WritePipeline
  /** How every stream writes its frames: into the (corked) socket. */
  readonly #sendFrame: (chunk: Buffer) => void

  readonly #pings: Pings
  #keepAlive: NodeJS.Timeout | undefined
  #helloTimer: NodeJS.Timeout | undefined
  /** The peer was taken for a legacy peer because it stayed silent, not because of a frame. */
  #legacyBySilence = false
  readonly #legacyBlocked = new Set<MuxStream>()

  #goAwaySent = false
  #goAwayReceived: GoAwayInfo | undefined
  #closing = false
  #failed = false
  #closed = false
  #error: ProtocolError | undefined
  readonly #closedPromise: Promise<void>
  #resolveClosed!: () => void

  readonly #sink: DecodeSink<MuxFrame> = {
    frame: (f) => this.#onFrame(f),
    error: (e) => this.#fatal(e),
  }

  constructor(socket: Duplex, options: MuxSessionOptions) {
    super()
    this.#o = resolveOptions(options)
    this.role = this.#o.role
    this.#acceptStream = this.#o.acceptStream
    this.#nextLocalId = this.role === 'dialler' ? 1 : 2
    this.#socket = socket
    this.#out = new WritePipeline(socket, this.#o.maxSocketBuffer, () => {
      if (!this.#failed) this.#sched.run()
    })
    this.#sched = new SendScheduler(MIN_WINDOW, MIN_FRAME_SIZE, () => this.#out.full())
    this.#sendFrame = (chunk) => {
      socket.write(chunk)
    }
    this.#decoder = new MuxFrameDecoder({
      maxFrameSize: Math.max(this.#o.maxLegacyFrameSize, this.#o.maxFrameSize),
      maxControlBytes: this.#o.maxControlBytes,
    })
    this.#sessionRecv = new FlowWindow(
      this.#o.initialSessionWindow,
      this.#o.maxSessionWindow,
      performance.now(),
    )
    this.#budgets = new PeerBudgets(this.#o, (error) => this.#fatal(error))
    this.#pings = new Pings(this.#o.pingTimeout, () =>
      this.#fatal(
        muxError(MuxErrorCode.PING_TIMEOUT, `no pong within ${this.#o.pingTimeout} ms`, {
          limit: this.#o.pingTimeout,
        }),
      ),
    )
    this.#closedPromise = new Promise((resolve) => {
      this.#resolveClosed = resolve
    })

    ;(socket as Partial<Socket>).setNoDelay?.(true)
    socket.on('data', this.#onData)
    socket.on('end', this.#onEnd)
    socket.on('error', this.#onSocketError)
    socket.on('close', this.#onClose)

    if (this.#o.helloTimeout > 0) {
      this.#helloTimer = setTimeout(this.#onHelloTimeout, this.#o.helloTimeout)
      this.#helloTimer.unref?.()
    }
    const features = this.#o.compact ? [FEATURE_COMPACT] : []
    this.#queueControl({
      type: 'hello',
      version: PROTOCOL_VERSION,
      initialWindow: this.#o.initialWindow,
      sessionWindow: this.#o.initialSessionWindow,
      maxStreams: this.#o.maxStreams,
      maxFrameSize: this.#o.maxFrameSize,
      features,
    })
  }

  // ------------------------------------------------------------------ public API

  /**
   * Opens a stream carrying `type` and `metadata` in its `stream_create`. The stream is returned
   * at once; while the peer already has its `maxStreams` of ours open, the `stream_create` (and
   * anything written) waits for a slot, first come first served. `options.signal` and
   * `options.timeout` bound that wait.
   */
  open(type: string, metadata: StreamMetadata = {}, options: OpenOptions = {}): MuxStream {
    if (this.#failed || this.#closed || this.#socket.destroyed) {
      throw muxError(MuxErrorCode.SESSION_CLOSED, 'the session is closed')
    }
    if (this.#goAwaySent || this.#goAwayReceived !== undefined || this.#closing) {
      throw muxError(MuxErrorCode.GOING_AWAY, 'the session is going away: no new streams')
    }
    knownKeys(options, ['signal', 'timeout'], 'open')
    const timeout = options.timeout === undefined ? undefined : ms(options.timeout, 'timeout', 0)
    const signal = options.signal
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw argError('ERR_INVALID_ARG_TYPE', 'options.signal must be an AbortSignal')
    }
    const id = this.#nextLocalId
    if (id > MAX_STREAM_ID) {
      throw muxError(MuxErrorCode.STREAMS_EXHAUSTED, 'every stream id has been used')
    }
    const frame = encodeControl({ type: 'stream_create', streamId: id, streamType: type, metadata })
    if (frame.length - HEADER_BYTES > this.#o.maxControlBytes) {
      throw muxError(
        MuxErrorCode.CONTROL_TOO_LARGE,
        `stream_create of ${frame.length - HEADER_BYTES} bytes exceeds maxControlBytes`,
        { limit: this.#o.maxControlBytes, declaredLength: frame.length - HEADER_BYTES },
      )
    }
    this.#nextLocalId += 2
    const stream = this.#newStream({ id, type, metadata }, true)
    if (this.#slots.waitingCount === 0 && this.#slots.local < this.#peerMaxStreams()) {
      this.#admit(stream, frame, false)
      return stream
    }
    if (signal?.aborted) {
      stream.destroy(abortError(signal))
      return stream
    }
    const onTimeout = () =>
      stream.abort(
        muxError(MuxErrorCode.OPEN_TIMEOUT, `no stream slot at the peer within ${timeout} ms`, {
          limit: timeout as number,
          streamId: id,
        }),
      )
    const onAbort = () => stream.destroy(abortError(signal as AbortSignal))
    this.#slots.wait(stream, frame, timeout, signal, onTimeout, onAbort)
    return stream
  }

  #peerMaxStreams(): number {
    // Until the peer's first frame its limit is unknown: the verb docs have none, and a hello
    // peer refuses (safe to retry) what is over its limit.
    return this.peer === undefined ? Number.POSITIVE_INFINITY : this.peer.maxStreams
  }

  /** Our stream takes a slot at the peer: its `stream_create` goes out, then what was written. */
  #admit(stream: MuxStream, frame: Buffer, finDeferred: boolean): void {
    this.#slots.take(stream)
    this.#out.control(frame)
    if (finDeferred) this.#out.control(encodeControl({ type: 'stream_close', streamId: stream.id }))
    this.#schedule(stream)
    this.#out.schedule()
  }

  /** Admits waiting opens while the peer has slots, oldest first. */
  #admitWaiting(): void {
    const limit = this.#peerMaxStreams()
    while (this.#slots.local < limit) {
      const next = this.#slots.next()
      if (next === undefined) return
      this.#admit(next.stream, next.entry.frame, next.entry.finDeferred)
    }
  }

  /** A stream closed on the wire gives its slot back; a waiting open may take it. */
  #releaseSlot(stream: MuxStream): void {
    if (this.#slots.release(stream) && this.#slots.waitingCount > 0) this.#admitWaiting()
  }

  /** Verb docs API: opens a stream and returns its id. */
  createStream(type: string, metadata: StreamMetadata = {}): number {
    return this.open(type, metadata).id
  }

  /** Verb docs API: half-closes our side of a stream (`stream_close`). */
  closeStream(streamId: number): void {
    this.#streams.get(streamId)?.end()
  }

  /** Verb docs API: writes to a stream; returns what `write()` returns (false if unknown). */
  sendStreamData(streamId: number, data: Uint8Array | string): boolean {
    const stream = this.#streams.get(streamId)
    if (stream === undefined || stream.writableEnded || stream.destroyed) return false
    return stream.write(data)
  }

  getStream(streamId: number): MuxStream | undefined {
    return this.#streams.get(streamId)
  }

  /**
   * Sends a ping; resolves with the round-trip time in ms. No pong within `pingTimeout` closes
   * the session with `ERR_MUX_PING_TIMEOUT` (and rejects). A legacy peer cannot answer: toward
   * one, `ping()` rejects at once with `ERR_MUX_PING_UNSUPPORTED` (and so does a ping still
   * waiting when the peer turns out to be one); the session stays up.
   */
  ping(): Promise<number> {
    if (this.#failed || this.#closed || this.#socket.destroyed) {
      return Promise.reject(muxError(MuxErrorCode.SESSION_CLOSED, 'the session is closed'))
    }
    if (this.peer?.hello === false) return Promise.reject(pingUnsupported())
    return this.#pings.start((id) => this.#queueControl({ type: 'ping', id }))
  }

  /**
   * Sends `goaway` naming the last stream of the peer's we accepted. Streams the peer opens
   * after it are refused; streams already open go on. Idempotent.
   */
  goAway(code: number = ResetCode.NO_ERROR, reason = ''): void {
    if (this.#goAwaySent || this.#failed || this.#closed) return
    this.#goAwaySent = true
    this.#queueControl({ type: 'goaway', lastStreamId: this.#lastAcceptedId, code, reason })
  }

  /**
   * Graceful close: `goaway`, then the connection is ended once every stream has finished.
   * Resolves when the underlying stream is closed.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.goAway()
      this.#closing = true
      this.#maybeFinishClose()
    }
    return this.#closedPromise
  }

  /** Hard close: every stream is destroyed and the connection with it. */
  destroy(error?: ProtocolError): void {
    if (this.#closed) return
    this.#error ??= error
    this.#abortStreams(error ?? muxError(MuxErrorCode.SESSION_CLOSED, 'the session was destroyed'))
    this.#out.uncork() // what this turn framed goes out first, as it did before it was corked
    this.#socket.destroy()
  }

  /** Live streams by id (ours and the peer's). */
  get streams(): ReadonlyMap<number, MuxStream> {
    return this.#streams
  }

  /** True once the underlying stream has closed. */
  get closed(): boolean {
    return this.#closed
  }

  /** The fatal error the session ended with, if any. */
  get error(): ProtocolError | undefined {
    return this.#error
  }

  /** Bytes received and not yet consumed by the application, over all streams. */
  get bufferedBytes(): number {
    return this.#sessionRecv.buffered
  }

  // ----------------------------------------------------------- what a stream may ask

  /**
   * Given to every stream at construction: what a stream may ask of its session. Private, so
   * none of it is part of the session's API.
   */
  readonly #owner: StreamOwner = {
    schedule: (stream) => this.#schedule(stream),
    sendFin: (stream) => this.#sendFin(stream),
    sendReset: (stream, code) => this.#sendReset(stream, code),
    onRead: (stream) => this.#onRead(stream),
    onFull: (stream) => this.#onFull(stream),
    detach: (stream) => this.#detach(stream),
    writeError: () => this.#writeError(),
  }

  #writeError(): ProtocolError | undefined {
    if (this.#failed || this.#closed || this.#socket.destroyed) {
      return this.#error ?? muxError(MuxErrorCode.SESSION_CLOSED, 'the session is closed')
    }
    return undefined
  }

  #schedule(stream: MuxStream): void {
    if (this.#slots.isWaiting(stream)) return
    this.#sched.add(stream)
    this.#out.schedule()
  }

  #sendFin(stream: MuxStream): void {
    if (this.#slots.deferFin(stream)) return
    this.#queueControl({ type: 'stream_close', streamId: stream.id })
    this.#releaseSlot(stream)
  }

  #sendReset(stream: MuxStream, code: number): void {
    // A stream still waiting for a slot was never announced: nothing to reset on the wire.
    if (this.#slots.forget(stream) !== undefined) return
    this.#queueControl({ type: 'stream_reset', streamId: stream.id, code })
    this.#releaseSlot(stream)
  }

  #onRead(stream: MuxStream): void {
    this.#sessionRecv.consumed += stream.takeConsumed()
    if (this.#legacyBlocked.size > 0 && this.#legacyBlocked.delete(stream)) {
      if (this.#legacyBlocked.size === 0) this.#socket.resume()
    }
    if (this.peer?.hello !== true) return
    const limit = stream.creditUpdate(performance.now(), this.#tuningRtt(), this.#sessionRecv.max)
    if (limit >= 0) {
      this.#queueWindow(stream.id, limit)
      // The session window follows the largest stream window, so it never holds one back.
      this.#sessionRecv.ensure(stream.recv.window * 1.5)
    }
    this.#maybeSessionUpdate()
  }

  #onFull(stream: MuxStream): void {
    // Only legacy peers ignore credit; for them the socket is paused while a reader lags.
    if (this.peer?.hello === true) return
    if (this.#legacyBlocked.size === 0) this.#socket.pause()
    this.#legacyBlocked.add(stream)
  }

  #detach(stream: MuxStream): void {
    if (stream.detached) return
    // Bytes nobody will read any more give their session credit back.
    const unread = stream.detach()
    if (stream.pushed > 0 || stream.sent > 0) this.#budgets.refundEmptyReset()
    this.#streams.delete(stream.id)
    this.#slots.forget(stream)
    this.#releaseSlot(stream)
    if (unread > 0) {
      this.#sessionRecv.consumed += unread
      if (this.peer?.hello === true) this.#maybeSessionUpdate()
    }
    if (this.#legacyBlocked.delete(stream) && this.#legacyBlocked.size === 0) this.#socket.resume()
    this.#maybeFinishClose()
  }

  // ------------------------------------------------------------------ internals

  #newStream(info: StreamInfo, local: boolean): MuxStream {
    const peer = this.peer
    const sendLimit =
      peer === undefined ? MIN_WINDOW : peer.hello ? peer.initialWindow : Number.POSITIVE_INFINITY
    const stream = new MuxStream({
      info,
      local,
      owner: this.#owner,
      sendFrame: this.#sendFrame,
      sendLimit,
      initialWindow: this.#o.initialWindow,
      maxWindow: this.#o.maxWindow,
      highWaterMark: this.#o.streamHighWaterMark,
    })
    this.#streams.set(info.id, stream)
    return stream
  }

  #tuningRtt(): number {
    return this.rtt === 0 ? 0 : Math.max(this.rtt, MIN_TUNING_RTT)
  }

  #maybeSessionUpdate(): void {
    const recv = this.#sessionRecv
    if (recv.limit - recv.consumed <= recv.window / 2) {
      const limit = recv.update(performance.now(), this.#tuningRtt())
      if (limit >= 0) this.#queueWindow(CONTROL_STREAM_ID, limit)
    }
  }

  #queueControl(message: ControlMessage): void {
    if (this.#failed || this.#closed) return
    this.#out.control(encodeControl(message))
  }

  #queueWindow(streamId: number, limit: number): void {
    if (this.#failed || this.#closed) return
    this.#out.window(streamId, limit)
  }

  // --------------------------------------------------------------- receive path

  readonly #onData = (chunk: Buffer) => {
    try {
      this.#decoder.push(chunk, this.#sink)
    } catch (cause) {
      // Only a chunk that is not bytes gets here (a socket with `setEncoding`, say).
      this.#fatal(
        new ProtocolError(CodecErrorCode.INVALID_CHUNK, 'a chunk was not bytes', { cause }),
      )
    }
  }

  readonly #onEnd = () => {
    this.#decoder.end(this.#sink)
    if (this.#failed) return
    this.#abortStreams(muxError(MuxErrorCode.SESSION_CLOSED, 'the peer closed the connection'))
    if (!this.#socket.writableEnded) {
      this.#out.flush()
      this.#out.uncork()
      this.#socket.end()
    }
  }

  readonly #onSocketError = (cause: Error) => {
    if (this.#failed || this.#closed) return
    this.#fatal(
      muxError(MuxErrorCode.SESSION_CLOSED, `connection error: ${cause.message}`, { cause }),
      false,
    )
  }

  readonly #onClose = () => {
    if (this.#closed) return
    this.#closed = true
    this.#out.stopped = true
    this.#decoder.stop()
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive)
    if (this.#helloTimer !== undefined) clearTimeout(this.#helloTimer)
    const error = this.#error
    const closedError = error ?? muxError(MuxErrorCode.SESSION_CLOSED, 'the session closed')
    this.#pings.failAll(closedError)
    this.#abortStreams(closedError)
    this.#socket.off('data', this.#onData)
    this.emit('close', error)
    this.#resolveClosed()
  }

  /**
   * Destroys every stream that can still lose something. A stream closed on the wire in both
   * directions (only unread data left) is kept, so its reader still gets every byte.
   */
  #abortStreams(error: ProtocolError): void {
    for (const stream of [...this.#streams.values()]) {
      if (stream.finReceived && stream.finSent) this.#detach(stream)
      else stream.abort(error)
    }
  }

  #maybeFinishClose(): void {
    if (!this.#closing || this.#streams.size > 0 || this.#socket.writableEnded) return
    if (this.#socket.destroyed) return
    this.#out.writeControl()
    this.#out.uncork()
    this.#socket.end()
  }

  /** A fatal error: tell the peer with goaway, then close as core's error rule says. */
  #fatal(error: ProtocolError, sendGoAway = true): void {
    if (this.#failed || this.#closed) return
    this.#failed = true
    this.#error = error
    this.#decoder.stop()
    const socket = this.#socket
    this.#out.uncork()
    if (sendGoAway && !socket.destroyed && !socket.writableEnded) {
      socket.write(
        encodeControl({
          type: 'goaway',
          lastStreamId: this.#lastAcceptedId,
          code: goAwayCodeFor(error.code),
          reason: error.code,
        }),
      )
    }
    this.#abortStreams(error)
    routeCodecError(this, socket, error)
  }

  readonly #onHelloTimeout = () => {
    this.#helloTimer = undefined
    if (this.peer !== undefined || this.#closed || this.#failed) return
    this.#legacyBySilence = true
    this.#becomeLegacy()
  }

  #becomeLegacy(): void {
    if (this.#helloTimer !== undefined) {
      clearTimeout(this.#helloTimer)
      this.#helloTimer = undefined
    }
    this.peer = {
      hello: false,
      version: 0,
      initialWindow: Number.POSITIVE_INFINITY,
      sessionWindow: Number.POSITIVE_INFINITY,
      maxStreams: Number.POSITIVE_INFINITY,
      maxFrameSize: this.#o.maxFrameSize,
      features: [],
    }
    this.#sched.setLimit(Number.POSITIVE_INFINITY)
    this.#sched.frameSize = this.#o.maxFrameSize
    for (const s of this.#streams.values()) s.setSendLimit(Number.POSITIVE_INFINITY)
    // It cannot answer: pings waiting for a pong fail now instead of timing out the session.
    this.#pings.failAll(pingUnsupported())
    this.emit('settings', this.peer)
    this.#out.schedule()
  }

  #onFrame(f: MuxFrame): void {
    if (this.#failed) return
    const id = f.streamId
    if (id === CONTROL_STREAM_ID) this.#onControl(f.payload)
    else if (id === COMPACT_STREAM_ID) {
      if (this.#budgets.small()) this.#onCompact(f.payload)
    } else {
      // Frames that carry (almost) no credit cost work that flow control does not bound.
      if (f.start && f.length < SMALL_FRAME_BYTES && !this.#budgets.small()) return
      this.#onStreamData(f)
    }
  }

  #isPastId(id: number): boolean {
    const localParity = (id & 1) === (this.role === 'dialler' ? 1 : 0)
    return localParity ? id < this.#nextLocalId : id <= this.#highestRemoteId
  }

  #onStreamData(f: MuxFrame): void {
    if (this.peer === undefined) this.#becomeLegacy()
    const flow = this.peer?.hello === true
    const id = f.streamId
    const s = this.#streams.get(id)
    if (f.start) {
      const length = f.length
      if (!this.#sessionRecv.receive(length) && flow) {
        this.#fatal(
          muxError(MuxErrorCode.FLOW_CONTROL, `peer sent past the session window`, {
            limit: this.#sessionRecv.limit,
            declaredLength: length,
            streamId: id,
          }),
        )
        return
      }
      if (s === undefined) {
        if (flow && !this.#isPastId(id)) {
          this.#fatal(
            muxError(MuxErrorCode.UNKNOWN_STREAM, `data for stream ${id}, which was never opened`, {
              streamId: id,
              declaredLength: length,
            }),
          )
          return
        }
        // A stream that is closed or reset (or unknown to a legacy peer): discard the bytes.
        this.#discard(length)
        return
      }
      if (s.finReceived) {
        this.#discard(length)
        s.abort(
          new StreamResetError(id, ResetCode.STREAM_CLOSED, false, {
            cause: muxError(MuxErrorCode.BAD_STREAM_ID, 'data after stream_close'),
          }),
          true,
          ResetCode.STREAM_CLOSED,
        )
        return
      }
      if (!s.receive(length) && flow) {
        this.#fatal(
          muxError(MuxErrorCode.FLOW_CONTROL, `peer sent past the window of stream ${id}`, {
            limit: s.recv.limit,
            declaredLength: length,
            streamId: id,
          }),
        )
        return
      }
    }
    if (s !== undefined && f.payload.length > 0) s.deliver(f.payload)
  }

  #discard(n: number): void {
    this.#sessionRecv.consumed += n
    if (this.peer?.hello === true) this.#maybeSessionUpdate()
  }

  #onCompact(payload: Buffer): void {
    // Only meaningful once both hellos offered it; a legacy peer's frame here is just ignored.
    if (this.peer?.hello !== true) return
    const error = readCompact(payload, (id, limit) => this.#onWindow(id, limit))
    if (error !== undefined) this.#fatal(error)
  }

  #onWindow(id: number, limit: number): void {
    if (this.peer?.hello !== true) return
    if (id === CONTROL_STREAM_ID) {
      if (this.#sched.grant(limit)) this.#out.schedule()
      return
    }
    this.#streams.get(id)?.grant(limit)
  }

  #onControl(payload: Buffer): void {
    const m = parseControl(payload)
    if (m instanceof ProtocolError) {
      this.#fatal(m)
      return
    }
    if (this.peer === undefined && m.type !== 'hello') this.#becomeLegacy()
    switch (m.type) {
      case 'hello':
        this.#onHello(m)
        return
      case 'stream_create':
        this.#onCreate(m.streamId, m.streamType, m.metadata)
        return
      case 'stream_close':
        if (!this.#budgets.small()) return
        this.#onRemoteFin(m.streamId)
        return
      case 'stream_reset':
        if (!this.#budgets.reset(this.#isEmptyReset(m.streamId))) return
        this.#onRemoteReset(m.streamId, m.code)
        return
      case 'window_update':
        if (!this.#budgets.small()) return
        this.#onWindow(m.streamId, m.limit)
        return
      case 'ping':
        if (!this.#budgets.ping()) return
        this.#queueControl({ type: 'pong', id: m.id })
        return
      case 'pong':
        if (!this.#budgets.small()) return
        this.#pings.pong(m.id)
        this.rtt = this.#pings.rtt
        return
      case 'goaway':
        if (!this.#budgets.small()) return
        this.#onGoAway({ lastStreamId: m.lastStreamId, code: m.code, reason: m.reason })
        return
      default:
        // Unknown types are ignored (forward compatibility), but not for free.
        this.#budgets.small()
        return
    }
  }

  #onHello(m: Extract<ControlMessage, { type: 'hello' }>): void {
    if (this.peer !== undefined && !this.#lateHelloFits(m)) {
      this.#fatal(
        muxError(
          MuxErrorCode.BAD_CONTROL,
          this.#legacyBySilence
            ? `hello after helloTimeout (${this.#o.helloTimeout} ms), and we had already sent past the windows it advertises`
            : 'hello after the first frame',
        ),
      )
      return
    }
    if (
      m.initialWindow < MIN_WINDOW ||
      m.sessionWindow < MIN_WINDOW ||
      m.maxFrameSize < MIN_FRAME_SIZE
    ) {
      this.#fatal(
        muxError(
          MuxErrorCode.BAD_CONTROL,
          `hello advertises less than the minimum window (${MIN_WINDOW}) or frame size (${MIN_FRAME_SIZE})`,
        ),
      )
      return
    }
    this.peer = {
      hello: true,
      version: m.version,
      initialWindow: m.initialWindow,
      sessionWindow: m.sessionWindow,
      maxStreams: m.maxStreams,
      maxFrameSize: m.maxFrameSize,
      features: m.features,
    }
    this.#out.compact = this.#o.compact && m.features.includes(FEATURE_COMPACT)
    this.#sched.frameSize = Math.min(this.#o.maxFrameSize, m.maxFrameSize)
    this.#decoder.maxFrameSize = this.#o.maxFrameSize
    if (this.#legacyBySilence) {
      // A late hello: back from no flow control to the credit it advertises.
      this.#legacyBySilence = false
      this.#sched.setLimit(m.sessionWindow)
      for (const s of this.#streams.values()) s.setSendLimit(m.initialWindow)
      if (this.#legacyBlocked.size > 0) {
        this.#legacyBlocked.clear()
        this.#socket.resume()
      }
    } else this.#sched.grant(m.sessionWindow)
    for (const s of this.#streams.values()) s.grant(m.initialWindow)
    this.emit('settings', this.peer)
    // One ping now gives an RTT for window auto-tuning; then keepalive, if enabled.
    this.ping().catch(() => {})
    if (this.#o.keepAliveInterval > 0) {
      this.#keepAlive = setInterval(() => {
        if (this.#pings.size === 0) this.ping().catch(() => {})
      }, this.#o.keepAliveInterval)
      this.#keepAlive.unref?.()
    }
    this.#out.schedule()
  }

  /**
   * A hello may come after we took a silent peer for a legacy one, if its round trip was longer
   * than `helloTimeout`. It still counts while we have not sent past the credit it advertises.
   */
  #lateHelloFits(m: Extract<ControlMessage, { type: 'hello' }>): boolean {
    if (!this.#legacyBySilence) return false
    if (this.#sched.sent > m.sessionWindow) return false
    for (const s of this.#streams.values()) if (s.sent > m.initialWindow) return false
    return true
  }

  #onCreate(id: number, type: string, metadata: StreamMetadata): void {
    const budget = this.#budgets.open()
    if (budget === 'fail') return
    const overBudget = budget === 'refuse'
    const hello = this.peer?.hello === true
    if (id === CONTROL_STREAM_ID || id === COMPACT_STREAM_ID) {
      this.#fatal(
        muxError(MuxErrorCode.BAD_STREAM_ID, `stream id ${id} is reserved`, { streamId: id }),
      )
      return
    }
    if (hello) {
      const remoteParity = this.role === 'dialler' ? 0 : 1
      if ((id & 1) !== remoteParity || id <= this.#highestRemoteId) {
        this.#fatal(
          muxError(
            MuxErrorCode.BAD_STREAM_ID,
            `stream id ${id} is not a new ${remoteParity === 1 ? 'odd' : 'even'} id above ${this.#highestRemoteId}`,
            { streamId: id },
          ),
        )
        return
      }
    } else {
      // A legacy peer numbers from 1 whatever its side: skip our own ids past its ids.
      if (this.#streams.has(id)) {
        this.#queueControl({ type: 'stream_reset', streamId: id, code: ResetCode.REFUSED_STREAM })
        return
      }
      while (this.#nextLocalId <= id) this.#nextLocalId += 2
    }
    if (id > this.#highestRemoteId) this.#highestRemoteId = id
    const refuse = () =>
      this.#queueControl({ type: 'stream_reset', streamId: id, code: ResetCode.REFUSED_STREAM })
    if (
      overBudget ||
      this.#goAwaySent ||
      this.#closing ||
      this.#slots.remote >= this.#o.maxStreams
    ) {
      refuse()
      return
    }
    const info: StreamInfo = { id, type, metadata }
    let accept: boolean
    try {
      accept = this.#acceptStream ? this.#acceptStream(info) : this.listenerCount('stream') > 0
    } catch (cause) {
      this.#fatal(new ProtocolError(ErrorCode.HANDLER_FAILED, 'acceptStream threw', { cause }))
      return
    }
    if (!accept) {
      refuse()
      return
    }
    this.#lastAcceptedId = id
    const stream = this.#newStream(info, false)
    this.#slots.take(stream)
    try {
      this.emit('stream', stream)
    } catch (cause) {
      this.#fatal(
        new ProtocolError(ErrorCode.HANDLER_FAILED, "a 'stream' listener threw", {
          cause,
          streamId: id,
        }),
      )
    }
  }

  /**
   * A reset of a stream the peer opened, before a byte moved on it either way: live and empty,
   * or already gone (we refused it, or it closed). Each costs us a stream's set-up and tear-down
   * for nothing, which is the whole of a rapid-reset flood.
   */
  #isEmptyReset(id: number): boolean {
    const s = this.#streams.get(id)
    if (s !== undefined) return !s.local && s.pushed === 0 && s.sent === 0
    const remoteParity = this.role === 'dialler' ? 0 : 1
    return (id & 1) === remoteParity && id <= this.#highestRemoteId && id !== 0
  }

  #onRemoteFin(id: number): void {
    const s = this.#streams.get(id)
    if (s === undefined) return
    s.remoteFin()
    this.#releaseSlot(s)
  }

  #onRemoteReset(id: number, code: number): void {
    const s = this.#streams.get(id)
    if (s === undefined) return
    s.remoteReset(code)
    this.#releaseSlot(s)
  }

  #onGoAway(info: GoAwayInfo): void {
    this.#goAwayReceived = info
    this.emit('goaway', info)
    // Our streams above lastStreamId were never processed: refused, safe to retry elsewhere.
    if (this.peer?.hello === true) {
      for (const s of [...this.#streams.values()]) {
        if (s.local && s.id > info.lastStreamId) this.#onRemoteReset(s.id, ResetCode.REFUSED_STREAM)
      }
    }
    if (info.code !== ResetCode.NO_ERROR) {
      this.#error ??= muxError(
        MuxErrorCode.REMOTE_GOAWAY,
        `peer sent goaway with code ${info.code}: ${info.reason}`,
      )
    }
  }
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('open() was aborted while waiting for a stream slot'), {
    name: 'AbortError',
    code: 'ABORT_ERR',
    cause: signal.reason,
  })
}

function pingUnsupported(): ProtocolError {
  return muxError(
    MuxErrorCode.PING_UNSUPPORTED,
    'the peer sent no hello (a legacy peer, written from the verb docs): it cannot answer pings',
  )
}

/** Creates a session over `socket` (a `net.Socket`, a TLS socket or any `Duplex`). */
export function createSession(socket: Duplex, options: MuxSessionOptions): MuxSession {
  return new MuxSession(socket, options)
}
