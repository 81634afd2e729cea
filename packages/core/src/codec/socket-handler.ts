import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import type { ProtocolError } from '../errors.ts'
import { type AttachedDecoder, type AttachOptions, attachDecoder } from './attach.ts'
import type { SyncDecoder } from './decoder.ts'
import { routeCodecError } from './error-policy.ts'

/** The events every socket codec handler has; subclasses add their own. */
export interface SocketCodecHandlerEvents {
  error: [error: ProtocolError]
}

/**
 * The part of a codec's socket handler (json-frames' `MessageHandler`, binary-frames'
 * `BinaryProtocolHandler`) that is the same for every codec: a decoder attached to the socket
 * with backpressure, errors routed by `routeCodecError` (never a crash for want of a listener),
 * `pause`/`resume`/`detach`, and reading paused while a reply cannot be written.
 *
 * A subclass decides what a frame means (`onFrame`) and how a message is encoded, and passes
 * what `socket.write` returned to `sent`.
 */
export abstract class SocketCodecHandler<
  T,
  // biome-ignore lint/suspicious/noExplicitAny: the shape Node's EventEmitter generic requires
  E extends Record<keyof E, any[]> & SocketCodecHandlerEvents,
> extends EventEmitter<E> {
  readonly socket: Duplex
  /** Recoverable errors skipped because nobody listened for `'error'`. */
  skipped = 0
  readonly #attached: AttachedDecoder

  constructor(socket: Duplex, decoder: SyncDecoder<T>, options: AttachOptions = {}) {
    super()
    this.socket = socket
    // Frames arrive on a later tick at the earliest, once the subclass is fully constructed.
    this.#attached = attachDecoder(
      socket,
      decoder,
      {
        frame: (frame) => this.onFrame(frame),
        batchEnd: () => this.onBatchEnd(),
        error: (error) => {
          // The generic event map hides that `this` is an EventEmitter with an error event.
          const emitter = this as unknown as EventEmitter
          if (routeCodecError(emitter, socket, error) === 'skipped') this.skipped++
        },
      },
      options,
    )
  }

  /** One decoded frame. A throw is a fatal `ERR_HANDLER_FAILED` for this socket. */
  protected abstract onFrame(frame: T): void

  /**
   * The frames of one chunk were delivered (the socket is still corked): write what was
   * gathered for them, such as automatic replies, in one write.
   */
  protected onBatchEnd(): void {}

  /**
   * Call with what a write returned: when the socket needs a drain, reading pauses until it
   * has one, so a peer that does not read our replies cannot make us buffer without bound.
   */
  protected sent(ok: boolean): boolean {
    if (!ok) this.#attached.waitForDrain()
    return ok
  }

  /** Stops reading until `resume()`. */
  pause(): this {
    this.socket.pause()
    return this
  }

  resume(): this {
    this.socket.resume()
    return this
  }

  /** Stops decoding; the socket is left as it is. */
  detach(): void {
    this.#attached.detach()
  }
}
