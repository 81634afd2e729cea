import type { ErrorHandler, TCPSocket } from './types.ts'

/**
 * Hands an error to the application's error handlers, each isolated so one throwing handler
 * neither hides the error from the others nor escapes into the event loop.
 *
 * With no handler registered, errors that point at a bug or a broken server (a throwing
 * application handler, a failed accept) become a process warning, so they are seen without
 * crashing anything; errors a peer causes (ECONNRESET, a bad TLS handshake) are dropped.
 */
export function report(
  handlers: readonly ErrorHandler[],
  error: Error,
  socket: TCPSocket | undefined,
  fromPeer: boolean,
): void {
  if (handlers.length === 0) {
    if (!fromPeer) process.emitWarning(error, { code: 'VERB_TCP_UNHANDLED_ERROR' })
    return
  }
  for (const handler of handlers) {
    try {
      handler(error, socket)
    } catch (thrown) {
      process.emitWarning(asError(thrown), { code: 'VERB_TCP_ERROR_HANDLER_THREW' })
    }
  }
}

export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value))
}
