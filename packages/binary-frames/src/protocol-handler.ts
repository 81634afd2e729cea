import type { Duplex } from 'node:stream'
import type { ProtocolError } from '@verb-tcp/core'
import { SocketCodecHandler } from '@verb-tcp/core/codec'
import { bool, knownKeys, optionKeys } from '@verb-tcp/core/validate'
import { HEARTBEAT, PONG, PONG_PAYLOAD } from './constants.ts'
import { checkFrame, encodeFrame, writeCheckedFrame } from './encoder.ts'
import { BinaryFrameDecoder } from './frame-decoder.ts'
import { checkLimit } from './limits.ts'
import type { BinaryFrame, FrameDecoderOptions } from './types.ts'

/** The whole answer to a heartbeat, encoded once. */
const PONG_FRAME: Buffer = encodeFrame(PONG, PONG_PAYLOAD)

export interface BinaryProtocolHandlerOptions extends FrameDecoderOptions {
  /** Largest payload `sendBinaryMessage` will send, in bytes. @default 8 MiB */
  maxSendBytes?: number
  /**
   * Answer every `HEARTBEAT` (0x01) frame with a `PONG` (0x02) frame whose payload is `pong`, as
   * the verb docs do. Listeners for type 0x01 still see the heartbeat; it is never `'unknown'`.
   * With `false`, heartbeats are frames like any other. @default true
   */
  heartbeat?: boolean
}

const HANDLER_KEYS = optionKeys<BinaryProtocolHandlerOptions>({
  maxFrameBytes: true,
  oversize: true,
  copy: true,
  slices: true,
  types: true,
  allowedFlags: true,
  maxSendBytes: true,
  heartbeat: true,
})

/**
 * The handler's events. Besides the named ones, a message type (a number) is an event too:
 * `handler.on(DATA, (frame) => …)` receives the frames of that type.
 */
export interface BinaryProtocolHandlerEvents {
  /** Every frame, before its type's listeners. */
  frame: [frame: BinaryFrame]
  /**
   * A frame no listener of its type took (and not a heartbeat answered automatically): the
   * verb docs' `default:` branch, as an event instead of a log line.
   */
  unknown: [frame: BinaryFrame]
  /** Decoding errors; see the class description for what happens without a listener. */
  error: [error: ProtocolError]
  /** The frames of one message type. */
  [type: number]: [frame: BinaryFrame]
}

/**
 * The verb docs' `BinaryProtocolHandler`, made real: decodes `u16 type | u32 length | u16 flags |
 * payload` frames from a socket and dispatches them by type; `sendBinaryMessage` sends one.
 *
 * Dispatch: `'frame'` sees every frame; `on(type, fn)` sees the frames of that type; a frame
 * that no type listener takes is emitted as `'unknown'`. Heartbeats (0x01) are answered with
 * `PONG` (0x02, payload `pong`) unless `heartbeat: false`.
 *
 * Errors: with an `'error'` listener, every error is emitted there, and after a fatal one the
 * socket is ended (writes made by the listener still go out) and reading stops. Without one, a
 * recoverable error is counted in `skipped` and a fatal one destroys the socket with the error;
 * neither can crash the process. A listener that throws is a fatal `ERR_HANDLER_FAILED`.
 *
 * Backpressure: when a write returns false (the peer is not reading what we send, heartbeat
 * replies included), reading pauses until the socket drains. `pause()` and `resume()` let the
 * application hold reading itself.
 *
 * @example
 * ```ts
 * const handler = new BinaryProtocolHandler(socket)
 * handler.on(DATA, (frame) => handler.sendBinaryMessage(DATA, frame.payload))
 * handler.on('unknown', (frame) => metrics.count('unknown type', frame.type))
 * ```
 */
export class BinaryProtocolHandler extends SocketCodecHandler<
  BinaryFrame,
  BinaryProtocolHandlerEvents
> {
  readonly #maxSendBytes: number
  readonly #heartbeat: boolean
  /** Heartbeats answered but not yet written: their pongs leave together at the chunk's end. */
  #owedPongs = 0

  constructor(socket: Duplex, options: BinaryProtocolHandlerOptions = {}) {
    knownKeys(options, HANDLER_KEYS, 'BinaryProtocolHandler')
    const { maxSendBytes: maxSend, heartbeat, ...decoderOptions } = options
    const maxSendBytes = checkLimit(maxSend, 'maxSendBytes')
    super(socket, new BinaryFrameDecoder(decoderOptions))
    this.#maxSendBytes = maxSendBytes
    this.#heartbeat = bool(heartbeat, 'heartbeat', true)
  }

  /**
   * Sends one frame. Returns what `socket.write` returns: false means the socket's buffer is
   * full, so wait for `'drain'` before sending more (reading pauses until then). Payloads over
   * 16 KiB are written with the header in one corked write, without being copied. Throws
   * `ERR_ENCODE_RANGE`, `ERR_FRAME_TOO_LARGE` or a `TypeError` before writing anything.
   */
  sendBinaryMessage(type: number, payload: Uint8Array, flags = 0): boolean {
    checkFrame(type, payload, flags, this.#maxSendBytes)
    // Pongs owed for earlier heartbeats go first, so the wire order is the order of the answers.
    this.#writePongs()
    return this.sent(writeCheckedFrame(this.socket, type, payload, flags))
  }

  protected onFrame(frame: BinaryFrame): void {
    this.emit('frame', frame)
    const type = frame.type
    if (type === HEARTBEAT && this.#heartbeat) {
      this.#owedPongs++
      this.emit(type, frame)
      return
    }
    if (!this.emit(type, frame)) this.emit('unknown', frame)
  }

  protected override onBatchEnd(): void {
    this.#writePongs()
  }

  /**
   * One write for every pong owed: a chunk of 8,192 heartbeats costs one buffer and one write,
   * not 8,192. When the peer does not read them, the write leaves the socket needing a drain and
   * reading pauses (`sent`), so a client that ignores its pongs is paused, not queued for.
   */
  #writePongs(): void {
    const n = this.#owedPongs
    if (n === 0) return
    this.#owedPongs = 0
    if (this.socket.destroyed || !this.socket.writable) return
    this.sent(
      this.socket.write(n === 1 ? PONG_FRAME : Buffer.alloc(n * PONG_FRAME.length, PONG_FRAME)),
    )
  }
}
