import type { Duplex } from 'node:stream'
import type { ProtocolError } from '@verb-tcp/core'
import { SocketCodecHandler } from '@verb-tcp/core/codec'
import { knownKeys, optionKeys } from '@verb-tcp/core/validate'
import { encodeWithin } from './encoder.ts'
import { checkLimit } from './limits.ts'
import { MessageDecoder } from './message-decoder.ts'
import type { MessageDecoderOptions } from './types.ts'

export interface MessageHandlerOptions extends MessageDecoderOptions {
  /** Largest payload `sendMessage` will send, in bytes. @default 8 MiB */
  maxSendBytes?: number
}

const HANDLER_KEYS = optionKeys<MessageHandlerOptions>({
  maxFrameBytes: true,
  oversize: true,
  requireType: true,
  maxSendBytes: true,
})

export interface MessageHandlerEvents<M> {
  message: [message: M]
  error: [error: ProtocolError]
}

/**
 * The verb docs' `MessageHandler`, made correct: decodes `<byte length>\n<json>` messages from a
 * socket and emits `'message'`; `sendMessage` encodes one.
 *
 * Errors: with an `'error'` listener, every error is emitted there, and after a fatal one the
 * socket is ended (writes made by the listener still go out) and reading stops. Without one, a
 * recoverable error is counted in `skipped` and a fatal one destroys the socket with the error;
 * neither can crash the process.
 *
 * Backpressure: when a write returns false (the peer is not reading our replies), reading
 * pauses until the socket drains, so a peer cannot make us buffer without bound. `pause()` and
 * `resume()` let the application hold reading itself.
 */
// biome-ignore lint/suspicious/noExplicitAny: as in the verb docs, listeners read `message.data` unchecked; pass a type to narrow it
export class MessageHandler<M = any> extends SocketCodecHandler<M, MessageHandlerEvents<M>> {
  readonly #maxSendBytes: number

  constructor(socket: Duplex, options: MessageHandlerOptions = {}) {
    knownKeys(options, HANDLER_KEYS, 'MessageHandler')
    const { maxSendBytes: maxSend, ...decoderOptions } = options
    const maxSendBytes = checkLimit(maxSend, 'maxSendBytes')
    super(socket, new MessageDecoder<M>(decoderOptions))
    this.#maxSendBytes = maxSendBytes
  }

  protected onFrame(message: M): void {
    this.emit('message', message)
  }

  /**
   * Sends one message. Returns what `socket.write` returns: false means the socket's buffer is
   * full, so wait for `'drain'` before sending more. Throws `ERR_UNSERIALIZABLE` or
   * `ERR_FRAME_TOO_LARGE` before writing anything.
   */
  sendMessage(message: unknown): boolean {
    return this.sent(this.socket.write(encodeWithin(message, this.#maxSendBytes)))
  }
}
