import type { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import type { ProtocolError } from '../errors.ts'

/** What `routeCodecError` did with an error. */
export type CodecErrorOutcome = 'emitted' | 'skipped' | 'destroyed'

/**
 * The one rule every socket-bound codec handler follows for decoding errors, so that no
 * `'error'` event can crash a process for want of a listener:
 *
 * - with an `'error'` listener on `emitter`, the error is emitted there; after a fatal one
 *   the socket is ended (replies written by the listener still go out) and then destroyed,
 *   since the byte stream cannot be resynchronised;
 * - without one, a recoverable error is only reported as `'skipped'` (the caller counts it)
 *   and a fatal one destroys the socket with the error.
 */
export function routeCodecError(
  emitter: EventEmitter,
  socket: Duplex,
  error: ProtocolError,
): CodecErrorOutcome {
  if (emitter.listenerCount('error') > 0) {
    emitter.emit('error', error)
    if (!error.recoverable && !socket.destroyed) {
      socket.end()
      // The stream is unreadable from here: do not wait on a peer that may never close.
      socket.once('finish', () => socket.destroy())
    }
    return 'emitted'
  }
  if (error.recoverable) return 'skipped'
  // destroy(error) emits 'error' on the socket, which kills the process if nobody listens.
  if (socket.listenerCount('error') === 0) socket.once('error', () => {})
  socket.destroy(error)
  return 'destroyed'
}
