import { createServer, ServerProtocol, type TCPSocket, type TcpServer } from '@verb-tcp/core'
import type { Logger } from 'pino'

/** Sent to every client as soon as it connects (the verb docs' greeting). */
export const GREETING = 'Welcome to TCP server!\n'
/** Put before every echoed chunk. */
export const ECHO_PREFIX: Buffer = Buffer.from('Echo: ')
/** Sent to every connected client when the server starts shutting down. */
export const GOODBYE = 'Server shutting down, goodbye!\n'

export interface DemoServerOptions {
  /** Every log line goes here: connections at info, echoes at debug, errors at warn/error. */
  logger: Logger
  /** `'tls'` serves TLS (give it a certificate with `setSecureContext`). @default 'tcp' */
  protocol?: 'tcp' | 'tls'
}

/**
 * The verb docs' "Basic TCP Server": greets each client, echoes every chunk it receives prefixed with
 * `Echo: `, and logs connections. Returns the core server, configured but not yet listening: call
 * `listen(port, host)` and, for shutdown, `close({ notify: sayGoodbye })` or `handleSignals(...)`.
 */
export function createDemoServer({ logger, protocol }: DemoServerOptions): TcpServer {
  const app = createServer(protocol === 'tls' ? ServerProtocol.TLS : ServerProtocol.TCP)
  app.onConnection((socket) => serve(socket, logger))
  app.onError((error, socket) => {
    if (socket) {
      logger.warn(
        { err: error, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort },
        'connection error',
      )
    } else {
      logger.error({ err: error }, 'server error')
    }
  })
  return app
}

/**
 * The shutdown notice: a goodbye line, then the end of our side of the connection. A well-behaved
 * client closes in turn, so the server does not wait for the grace period; one that keeps its
 * side open is destroyed when the grace period runs out.
 */
export function sayGoodbye(socket: TCPSocket): void {
  if (socket.writableEnded) return
  socket.end(GOODBYE)
  // A socket paused for backpressure would never read the client's FIN; from here on what
  // arrives is read and dropped (see serve), so a closing client is seen as soon as it closes.
  socket.resume()
}

function serve(socket: TCPSocket, logger: Logger): void {
  const log = logger.child({ remoteAddress: socket.remoteAddress, remotePort: socket.remotePort })
  log.info('client connected')
  socket.once('close', (hadError: boolean) => {
    log.info(
      { bytesRead: socket.bytesRead, bytesWritten: socket.bytesWritten, hadError },
      'client disconnected',
    )
  })

  socket.write(GREETING)

  let waitingForDrain = false
  socket.on('data', (chunk: Buffer) => {
    // After the goodbye our side is ended: late bytes are read (so the peer is not stalled) but
    // not echoed, since writing after end() is an error.
    if (socket.writableEnded) return
    log.debug({ bytes: chunk.length }, 'echo')
    // Bytes in, bytes out: decoding each chunk on its own (the verb docs' `Echo: ${data}`) would turn
    // a UTF-8 character split across two chunks into two U+FFFD replacement characters.
    const echo = Buffer.concat([ECHO_PREFIX, chunk], ECHO_PREFIX.length + chunk.length)
    if (!socket.write(echo) && !waitingForDrain) {
      // The peer is not reading as fast as it sends: stop reading from it until our writes have
      // drained, so a client that never reads cannot make the server buffer without bound.
      waitingForDrain = true
      socket.pause()
      socket.once('drain', () => {
        waitingForDrain = false
        socket.resume()
      })
    }
  })
}
