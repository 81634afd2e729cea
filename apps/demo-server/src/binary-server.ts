import { pipeline } from 'node:stream'
import {
  BinaryProtocolHandler,
  DATA,
  encodeHeader,
  FILE_TRANSFER,
  HEADER_BYTES,
  HEARTBEAT,
} from '@verb-tcp/binary-frames'
import { createServer, type TCPSocket, type TcpServer } from '@verb-tcp/core'
import { type FileReceiver, receiveFiles } from '@verb-tcp/file-transfer'
import { createSession, type MuxSession, type MuxStream } from '@verb-tcp/mux'
import type { Logger } from 'pino'
import type { ReadScheduler } from './fair-reads.ts'
import { key, type Stats } from './stats.ts'

const PORT = 'binary'

/**
 * The frame that turns a binary-port connection into a mux session: type 0x30, empty payload,
 * as the connection's first frame. The server answers with the same 8 bytes; after them, both
 * directions speak the mux wire format.
 */
export const MUX = 0x30
/** The upgrade request and its answer: `00 30 00 00 00 00 00 00`. */
export const MUX_UPGRADE: Buffer = encodeHeader(MUX, 0)

/** What a mux stream of a given type does; `echo` is built in. */
export type StreamService = (stream: MuxStream, log: Logger) => void

export interface BinaryServerOptions {
  logger: Logger
  stats: Stats
  maxFrameBytes: number
  /** The fast file path's receiver (FILE_TRANSFER frames, 0x20). */
  receiver?: FileReceiver
  /** Mux stream types beyond `echo`. */
  streams?: Map<string, StreamService>
  /** The per-turn work budget: a stream costs `STREAM_COST`, and none is opened past it. */
  reads?: ReadScheduler
  /** `'tls'` serves TLS. @default 'tcp' */
  protocol?: 'tcp' | 'tls'
}

/** What opening a mux stream is charged against the turn's budget, in bytes. */
const STREAM_COST = 1024

/**
 * The binary port: binary-frames with heartbeats answered (the package's PONG), DATA frames
 * echoed, and, when the first frame is `MUX`, a mux session whose streams are served by type.
 */
export class BinaryServer {
  readonly app: TcpServer
  readonly handlers = new Map<TCPSocket, BinaryProtocolHandler | MuxSession>()
  readonly #options: BinaryServerOptions
  readonly #streams: Map<string, StreamService>

  constructor(options: BinaryServerOptions) {
    this.#options = options
    this.#streams = new Map<string, StreamService>([
      ['echo', (stream) => pipeline(stream, stream, () => {})],
      ...(options.streams ?? []),
    ])
    this.app = createServer(options.protocol).onConnection((socket) => this.#serve(socket))
  }

  #serve(socket: TCPSocket): void {
    const log = this.#options.logger.child({ port: PORT, remotePort: socket.remotePort })
    log.info({ remoteAddress: socket.remoteAddress }, 'client connected')
    socket.once('close', (hadError: boolean) => {
      this.handlers.delete(socket)
      const { stats } = this.#options
      stats.count(stats.closedBytesIn, PORT, socket.bytesRead)
      stats.count(stats.closedBytesOut, PORT, socket.bytesWritten)
      log.info(
        { bytesRead: socket.bytesRead, bytesWritten: socket.bytesWritten, hadError },
        'client disconnected',
      )
    })
    // The first 8 bytes decide the mode. They are read by hand, then given back to the socket
    // (unshift) for the codec that takes over, so not a byte is lost or read twice.
    const head: Buffer[] = []
    let length = 0
    const onData = (chunk: Buffer) => {
      head.push(chunk)
      length += chunk.length
      if (length < HEADER_BYTES) return
      socket.off('data', onData)
      socket.pause()
      const bytes = Buffer.concat(head, length)
      if (bytes.subarray(0, HEADER_BYTES).equals(MUX_UPGRADE)) {
        socket.write(MUX_UPGRADE)
        socket.unshift(bytes.subarray(HEADER_BYTES))
        this.#mux(socket, log)
      } else {
        socket.unshift(bytes)
        this.#frames(socket, log)
      }
      socket.resume()
    }
    socket.on('data', onData)
  }

  #frames(socket: TCPSocket, log: Logger): void {
    const { stats, maxFrameBytes, receiver } = this.#options
    const handler = new BinaryProtocolHandler(socket, {
      maxFrameBytes,
      maxSendBytes: maxFrameBytes,
    })
    this.handlers.set(socket, handler)
    handler.on('frame', (frame) => {
      const type =
        frame.type === HEARTBEAT
          ? 'heartbeat'
          : frame.type === DATA
            ? 'data'
            : frame.type === FILE_TRANSFER
              ? 'file'
              : 'other'
      stats.count(stats.messagesIn, key(PORT, type))
      if (frame.type === HEARTBEAT) stats.count(stats.messagesOut, key(PORT, 'pong'))
    })
    handler.on(DATA, (frame) => {
      stats.count(stats.messagesOut, key(PORT, 'data'))
      handler.sendBinaryMessage(DATA, frame.payload, frame.flags)
    })
    // The fast file path shares this handler: FILE_TRANSFER frames are file-transfer's.
    if (receiver) receiveFiles(handler, receiver)
    handler.on('unknown', (frame) => {
      stats.count(stats.errors, key(PORT, 'ERR_UNKNOWN_TYPE'))
      log.debug({ type: frame.type }, 'unknown frame type')
    })
    handler.on('error', (error) => {
      stats.count(stats.errors, key(PORT, error.code))
      log.debug({ code: error.code }, 'bad frame')
    })
  }

  #mux(socket: TCPSocket, log: Logger): void {
    const { stats } = this.#options
    const { reads } = this.#options
    const session = createSession(socket, {
      role: 'acceptor',
      ...(reads && { acceptStream: acceptWithin(reads) }),
    })
    // A mux session reads the socket itself (no attachDecoder): its reads are charged here,
    // after the session has read each chunk, so that the chunk carrying a stream's open (and
    // its first data) does not use up the budget that open is judged against.
    reads?.add(socket, true)
    this.handlers.set(socket, session)
    stats.muxSessions++
    session.on('error', (error) => {
      stats.count(stats.errors, key('mux', error.code))
      log.debug({ code: error.code }, 'mux session error')
    })
    session.on('close', () => {
      stats.muxSessions--
    })
    session.on('stream', (stream) => {
      const serve = this.#streams.get(stream.type)
      if (!serve) {
        stats.count(stats.errors, key('mux', 'ERR_UNKNOWN_STREAM_TYPE'))
        stream.refuse()
        return
      }
      stats.muxStreamsOpen++
      stats.muxStreamsTotal++
      reads?.charge(STREAM_COST)
      stream.once('close', () => {
        stats.muxStreamsOpen--
      })
      stream.on('error', () => {}) // a reset stream is the client's choice, not our failure
      serve(stream, log)
    })
  }

  /** Shutdown: a mux session goes away politely; a frames connection is ended. */
  notifyShutdown(socket: TCPSocket): void {
    const handler = this.handlers.get(socket)
    if (handler && 'open' in handler) {
      void handler.close().catch(() => {})
    } else if (!socket.writableEnded) {
      socket.end()
    }
    socket.resume()
  }
}

/**
 * Past this turn's budget a session's further opens in the turn are refused (REFUSED_STREAM:
 * never processed, safe to retry), so a flood of opens costs refusals, not Duplexes, and mux's
 * own rate budgets then close a session that keeps at it. Its first open of a turn is always
 * taken: a busy server (the budget spent by other connections) still serves every client.
 */
function acceptWithin(reads: ReadScheduler): () => boolean {
  let opened = 0
  const nextTurn = () => {
    opened = 0
  }
  return () => {
    if (opened > 0 && reads.exhausted) return false
    if (opened++ === 0) setImmediate(nextTurn)
    return true
  }
}
