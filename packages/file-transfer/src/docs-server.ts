import type { Duplex } from 'node:stream'
import { isProtocolError } from '@verb-tcp/core'
import { knownKeys, positiveInt } from '@verb-tcp/core/validate'
import { encodeMessage, MessageHandler } from '@verb-tcp/json-frames'
import { DEFAULT_PROGRESS_EVERY } from './constants.ts'
import { refuse, type TransferError, WireCode } from './errors.ts'
import { FileReceiver } from './receiver.ts'
import type { ReceiverConnection } from './receiver-connection.ts'
import type { FileReceiverOptions } from './types.ts'

export interface TCPFileTransferServerOptions extends FileReceiverOptions {
  /** A `file_progress` message is sent for every chunk whose `chunkIndex` is a multiple of this. @default 100 */
  progressEvery?: number
  /** Share one receiver (its quotas, its name reservations) with other servers. */
  receiver?: FileReceiver
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const SHA256 = /^[0-9a-f]{64}$/
const MAX_CLIENT_ID = 256

interface DocsTransfer {
  /** The client's `transferId`, as it sent it (a string or a number). */
  clientId: unknown
  id: string
  chunkSize: number | undefined
  size: number
  chunks: number
  /**
   * Settles once every earlier message of this transfer has been taken in (a start answered, a
   * chunk accepted, not necessarily written): later ones wait behind it, so order is kept.
   */
  gate: Promise<unknown>
  /** Messages waiting behind `gate`. While any wait, new ones queue too. */
  waiting: number
}

class DocsConnection {
  readonly receiver: ReceiverConnection
  readonly transfers = new Map<string, DocsTransfer>()
  constructor(
    readonly socket: Duplex,
    receiver: ReceiverConnection,
  ) {
    this.receiver = receiver
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the docs pass `message: any`; every field is checked here
type Message = Record<string, any>

/**
 * The verb docs' `TCPFileTransferServer`, made safe: the same messages and fields
 * (`file_start` → `file_start_ack`, base64 `file_chunk` → `file_chunk_ack`, `file_progress`
 * every 100 chunks, `file_end` → `file_complete` with `duration` and `avgSpeed`), so a client
 * written from the docs works unchanged, on top of a `FileReceiver` that enforces the name
 * rules, sizes, quotas, integrity, atomic publishing and resume.
 *
 * Replies are json-frames messages (`<byte length>\n<json>`), like the requests. Refusals are
 * `{ type: "error", code, message, transferId }` (the docs' `error` message plus a `code`), and
 * the connection stays open after each.
 */
export class TCPFileTransferServer {
  readonly receiver: FileReceiver
  readonly #progressEvery: number
  readonly #connections = new WeakMap<Duplex, DocsConnection>()
  readonly #open = new Set<DocsConnection>()

  constructor(uploadDir = './uploads', options: TCPFileTransferServerOptions = {}) {
    const { progressEvery, receiver, ...rest } = options
    knownKeys(options, [...Object.keys(rest), 'progressEvery', 'receiver'], 'TCPFileTransferServer')
    this.#progressEvery = positiveInt(progressEvery, 'progressEvery', DEFAULT_PROGRESS_EVERY)
    this.receiver = receiver ?? new FileReceiver(uploadDir, rest)
    this.receiver.on('shutdown', () => {
      for (const connection of this.#open) {
        this.#send(connection.socket, {
          type: 'error',
          code: WireCode.SHUTTING_DOWN,
          message: 'the server is shutting down; resume later with the uploadId',
        })
      }
    })
  }

  /** Resolves when the upload directory is ready (it was already checked at construction). */
  ready(): Promise<void> {
    return this.receiver.ready()
  }

  /**
   * Reads json-frames messages from `socket` and handles the `file_*` ones; any other message
   * goes to `onOther`. For servers that only transfer files. Returns the `MessageHandler`.
   */
  attach(socket: Duplex, onOther?: (message: Message) => void): MessageHandler {
    const messages = new MessageHandler(socket)
    messages.on('message', (message: Message) => {
      if (typeof message?.type === 'string' && message.type.startsWith('file_')) {
        void this.handleFileTransfer(socket, message)
      } else {
        onOther?.(message)
      }
    })
    // Bad frames are answered, not fatal for the process: json-frames ends the socket after a
    // fatal one, and recoverable ones (bad JSON) only skip that message.
    messages.on('error', (error) => {
      if (error.recoverable)
        this.#send(socket, { type: 'error', code: WireCode.BAD_REQUEST, message: error.message })
    })
    return messages
  }

  /**
   * The docs' entry point: handles one `file_start`, `file_chunk`, `file_end` or `file_cancel`
   * message from `socket`. The promise settles when the message is handled and never rejects:
   * refusals are sent to the peer.
   */
  handleFileTransfer(socket: Duplex, message: Message): Promise<void> {
    const connection = this.#connection(socket)
    let work: Promise<unknown>
    try {
      switch (message?.type) {
        case 'file_start':
          work = this.#start(connection, message)
          break
        case 'file_chunk':
          work = this.#chunk(connection, message)
          break
        case 'file_end':
          work = this.#end(connection, message)
          break
        case 'file_cancel':
          work = this.#cancel(connection, message)
          break
        default:
          throw refuse(WireCode.BAD_REQUEST, `unknown message type ${String(message?.type)}`)
      }
    } catch (error) {
      work = Promise.reject(error)
    }
    return work.then(
      () => {},
      (error) => this.#refuse(socket, error, message?.transferId),
    )
  }

  /** Sends every connection a `shutting_down` notice, then closes the receiver. */
  close(): Promise<void> {
    return this.receiver.close()
  }

  #connection(socket: Duplex): DocsConnection {
    let connection = this.#connections.get(socket)
    if (!connection) {
      const created = new DocsConnection(socket, this.receiver.connection())
      connection = created
      this.#connections.set(socket, created)
      this.#open.add(created)
      // Released for idleness: forgotten here too (a resume is a new file_start with the
      // uploadId), and the client is told with the docs' error message plus the code.
      created.receiver.onTimeout = (id, error) => {
        for (const [key, state] of created.transfers) {
          if (state.id !== id) continue
          created.transfers.delete(key)
          this.#refuse(socket, error, state.clientId)
        }
      }
      socket.once('close', () => {
        this.#open.delete(created)
        void created.receiver.close()
      })
    }
    return connection
  }

  #clientId(message: Message): string {
    const id = message.transferId
    if (
      (typeof id !== 'string' && typeof id !== 'number') ||
      String(id).length > MAX_CLIENT_ID ||
      String(id) === ''
    ) {
      throw refuse(WireCode.BAD_REQUEST, 'transferId must be a string or a number')
    }
    return String(id)
  }

  #start(connection: DocsConnection, message: Message): Promise<void> {
    const clientId = this.#clientId(message)
    if (connection.transfers.has(clientId)) {
      throw refuse(WireCode.BAD_REQUEST, `transfer ${clientId} is already open on this connection`)
    }
    const { filename, fileSize, chunkSize, sha256, uploadId } = message
    if (sha256 !== undefined && (typeof sha256 !== 'string' || !SHA256.test(sha256))) {
      throw refuse(WireCode.BAD_REQUEST, 'sha256 must be 64 lowercase hex characters')
    }
    if (uploadId !== undefined && typeof uploadId !== 'string') {
      throw refuse(WireCode.BAD_REQUEST, 'uploadId must be a string')
    }
    if (chunkSize !== undefined && (!Number.isSafeInteger(chunkSize) || chunkSize < 1)) {
      throw refuse(WireCode.BAD_REQUEST, 'chunkSize must be a positive integer')
    }
    if (uploadId === undefined && typeof fileSize !== 'number') {
      throw refuse(WireCode.BAD_REQUEST, 'fileSize must be a number')
    }
    const state: DocsTransfer = {
      clientId: message.transferId,
      id: '',
      chunkSize,
      size: 0,
      chunks: 0,
      gate: Promise.resolve(),
      waiting: 0,
    }
    const started = connection.receiver.start({
      name: filename,
      size: fileSize,
      sha256,
      transferId: uploadId,
    })
    state.gate = started.catch(() => {})
    connection.transfers.set(clientId, state)
    return started.then(
      (result) => {
        state.id = result.transferId
        state.size = result.size
        this.#send(connection.socket, {
          type: 'file_start_ack',
          transferId: message.transferId,
          status: 'ready',
          uploadId: result.transferId,
          offset: result.offset,
          resumed: result.resumed,
        })
      },
      (error) => {
        connection.transfers.delete(clientId)
        throw error
      },
    )
  }

  #transfer(connection: DocsConnection, message: Message): [string, DocsTransfer] {
    const clientId = this.#clientId(message)
    const state = connection.transfers.get(clientId)
    if (!state) throw refuse(WireCode.NOT_FOUND, 'Transfer not found')
    return [clientId, state]
  }

  #chunk(connection: DocsConnection, message: Message): Promise<void> {
    const [, state] = this.#transfer(connection, message)
    const { data, chunkIndex, offset, crc32 } = message
    if (typeof data !== 'string' || data.length % 4 !== 0 || !BASE64.test(data)) {
      throw refuse(WireCode.BAD_REQUEST, 'data must be standard base64')
    }
    if (chunkIndex !== undefined && (!Number.isSafeInteger(chunkIndex) || chunkIndex < 0)) {
      throw refuse(WireCode.BAD_REQUEST, 'chunkIndex must be a non-negative integer')
    }
    if (offset !== undefined && (!Number.isSafeInteger(offset) || offset < 0)) {
      throw refuse(WireCode.BAD_REQUEST, 'offset must be a non-negative integer')
    }
    if (crc32 !== undefined && (!Number.isInteger(crc32) || crc32 < 0 || crc32 > 0xffffffff)) {
      throw refuse(WireCode.BAD_REQUEST, 'crc32 must be an unsigned 32-bit integer')
    }
    const bytes = Buffer.from(data, 'base64')
    const run = () => {
      // Where the docs' client means this chunk to go: an explicit offset, else its index
      // times the chunk size announced at start, else right after the previous chunk.
      const at =
        offset ??
        (chunkIndex !== undefined && state.chunkSize !== undefined
          ? chunkIndex * state.chunkSize
          : undefined)
      const receiver = connection.receiver
      const current = receiver.receiver.transfers.get(state.id)
      const position = at ?? current?.received ?? 0
      const written = receiver.write(state.id, position, bytes, crc32)
      if (receiver.congested) {
        connection.socket.pause()
        receiver.whenDrained(() => connection.socket.resume())
      }
      return written
    }
    // Chunks sent before the start was answered wait for it, and later ones wait behind them.
    const written = state.id === '' || state.waiting > 0 ? this.#after(state, run) : run()
    return written.then((receivedBytes) => {
      const index = chunkIndex ?? state.chunks
      state.chunks++
      this.#send(connection.socket, {
        type: 'file_chunk_ack',
        transferId: message.transferId,
        chunkIndex: index,
        receivedBytes,
      })
      if (index % this.#progressEvery === 0) {
        this.#send(connection.socket, {
          type: 'file_progress',
          transferId: message.transferId,
          progress: state.size === 0 ? 100 : (receivedBytes / state.size) * 100,
          receivedBytes,
          totalBytes: state.size,
        })
      }
    })
  }

  #end(connection: DocsConnection, message: Message): Promise<void> {
    const [clientId, state] = this.#transfer(connection, message)
    const { sha256 } = message
    if (sha256 !== undefined && typeof sha256 !== 'string') {
      throw refuse(WireCode.BAD_REQUEST, 'sha256 must be 64 lowercase hex characters')
    }
    const ended = this.#after(state, () => connection.receiver.end(state.id, sha256))
    return ended.then(
      (done) => {
        connection.transfers.delete(clientId)
        this.#send(connection.socket, {
          type: 'file_complete',
          transferId: message.transferId,
          filename: done.name,
          receivedBytes: done.size,
          duration: done.durationMs,
          avgSpeed: done.bytesPerSec,
          sha256: done.sha256,
          uploadId: done.transferId,
        })
      },
      (error: TransferError) => {
        // A recoverable refusal (bytes still missing) leaves the transfer open.
        if (!error.recoverable) connection.transfers.delete(clientId)
        throw error
      },
    )
  }

  #cancel(connection: DocsConnection, message: Message): Promise<void> {
    const [clientId, state] = this.#transfer(connection, message)
    const cancelled = this.#after(state, () => connection.receiver.cancel(state.id))
    connection.transfers.delete(clientId)
    return cancelled.then(() => {
      this.#send(connection.socket, { type: 'file_cancelled', transferId: message.transferId })
    })
  }

  /** Runs `take` once every earlier message of the transfer has been taken in. */
  #after<T>(state: DocsTransfer, take: () => Promise<T>): Promise<T> {
    state.waiting++
    // Boxed, so the gate opens when `take` has run, not when its promise settles.
    const taken = state.gate.then(() => {
      state.waiting--
      return { result: take() }
    })
    state.gate = taken.catch(() => {})
    return taken.then((box) => box.result)
  }

  #refuse(socket: Duplex, error: unknown, transferId: unknown): void {
    const known = isProtocolError(error) && 'wireCode' in error
    const e = error as TransferError
    this.#send(socket, {
      type: 'error',
      code: known ? e.wireCode : WireCode.IO_ERROR,
      message: known ? e.message : 'internal error',
      ...(transferId !== undefined && { transferId }),
      ...(known && e.expected !== undefined && { expected: e.expected }),
    })
  }

  #send(socket: Duplex, message: object): void {
    if (socket.destroyed || !socket.writable) return
    socket.write(encodeMessage(message))
  }
}
