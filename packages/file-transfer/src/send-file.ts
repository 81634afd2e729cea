import { promises as fs } from 'node:fs'
import { basename } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Duplex } from 'node:stream'
import { crc32 } from 'node:zlib'
import { type BinaryFrame, BinaryProtocolHandler, FILE_TRANSFER } from '@verb-tcp/binary-frames'
import { bool, fn, intInRange, knownKeys, positiveInt } from '@verb-tcp/core/validate'
import { CHUNK_CRC, DEFAULT_CHUNK_BYTES, DEFAULT_WINDOW_BYTES, Op } from './constants.ts'
import { FileTransferErrorCode, fromWire, TransferError, WireCode } from './errors.ts'
import {
  dataPrefixBytes,
  decodeJson,
  encodeJson,
  readId,
  readOffset,
  writeId,
  writeOffset,
} from './fast-wire.ts'
import { inlineHash, type StreamHash } from './hasher.ts'
import type { CompletedTransfer, StartResult } from './types.ts'

export interface SendProgress {
  transferId: string
  /** Bytes the receiver has written. */
  bytes: number
  total: number
  percent: number
  /** Bytes per second since this send began (resumed bytes not counted). */
  rate: number
  /** Seconds left at that rate; `Infinity` before a rate is known. */
  etaSeconds: number
}

export interface SendFileOptions {
  /** The name to publish under. @default the file's basename */
  name?: string
  /** Resume this transfer (from `onStart`, or from a failed send's `transferId`). */
  transferId?: string
  /** Bytes per chunk. @default 1 MiB */
  chunkBytes?: number
  /** Bytes sent but not yet acknowledged before sending waits. @default 8 MiB */
  windowBytes?: number
  /** Send a CRC-32 with every chunk; the receiver drops a bad chunk and this resends it. @default false */
  chunkChecksum?: boolean
  /** Stops sending; the promise rejects with an `AbortError`. The partial stays for resume. */
  signal?: AbortSignal
  /** Called once the receiver accepted the transfer, with its id (keep it to resume). */
  onStart?: (start: StartResult) => void
  /** Called as acknowledgements arrive, at most every `progressIntervalMs`. */
  onProgress?: (progress: SendProgress) => void
  /** @default 100 */
  progressIntervalMs?: number
  /** Times to retry a start refused with `busy` (the previous connection not yet gone). @default 5 */
  busyRetries?: number
}

const OPTION_KEYS = [
  'name',
  'transferId',
  'chunkBytes',
  'windowBytes',
  'chunkChecksum',
  'signal',
  'onStart',
  'onProgress',
  'progressIntervalMs',
  'busyRetries',
] as const

/** Chunks read from disk ahead of the one being sent. */
const READ_AHEAD = 4

const handlers = new WeakMap<Duplex, BinaryProtocolHandler>()
let nextRef = 1

function handlerFor(target: Duplex | BinaryProtocolHandler): BinaryProtocolHandler {
  if (target instanceof BinaryProtocolHandler) return target
  let handler = handlers.get(target)
  if (!handler) {
    handler = new BinaryProtocolHandler(target)
    handlers.set(target, handler)
  }
  return handler
}

/** Waits for the first FILE_TRANSFER frame `match` accepts; rejects on close or abort. */
function waitFor<T>(
  handler: BinaryProtocolHandler,
  match: (frame: BinaryFrame) => T | undefined,
  signal?: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = () => {
      handler.off(FILE_TRANSFER, onFrame)
      handler.socket.off('close', onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    const onFrame = (frame: BinaryFrame) => {
      let value: T | undefined
      try {
        value = match(frame)
      } catch (error) {
        cleanup()
        reject(error)
        return
      }
      if (value !== undefined) {
        cleanup()
        resolve(value)
      }
    }
    const onClose = () => {
      cleanup()
      reject(new TransferError(FileTransferErrorCode.CONNECTION_CLOSED, 'the connection closed'))
    }
    const onAbort = () => {
      cleanup()
      reject(signal?.reason ?? new DOMException('aborted', 'AbortError'))
    }
    if (signal?.aborted) return onAbort()
    if (handler.socket.destroyed) return onClose()
    handler.on(FILE_TRANSFER, onFrame)
    handler.socket.once('close', onClose)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * The receiver's answer to one request: the body of the first `op` frame whose `key` field is
 * `value`, or, when an ERROR frame for it comes first, the error it carries (a rejection).
 */
function waitForReply<T>(
  handler: BinaryProtocolHandler,
  op: number,
  key: 'ref' | 'transferId',
  value: unknown,
  signal: AbortSignal | undefined,
): Promise<T> {
  return waitFor(
    handler,
    (frame) => {
      const got = frame.flags & 0xff
      if (got !== op && got !== Op.ERROR) return undefined
      const body = decodeJson(frame.payload)
      if (!body || body[key] !== value) return undefined
      if (got === Op.ERROR) throw errorFrom(body)
      return body as unknown as T
    },
    signal,
  )
}

function errorFrom(body: Record<string, unknown>): TransferError {
  return fromWire(body.code, body.message, {
    transferId: typeof body.transferId === 'string' ? body.transferId : undefined,
    expected: typeof body.expected === 'number' ? body.expected : undefined,
  })
}

async function start(
  handler: BinaryProtocolHandler,
  request: Record<string, unknown>,
  signal: AbortSignal | undefined,
  retries: number,
): Promise<StartResult> {
  for (let attempt = 0; ; attempt++) {
    const ref = nextRef++
    const reply = waitForReply<StartResult>(handler, Op.READY, 'ref', ref, signal)
    handler.sendBinaryMessage(FILE_TRANSFER, encodeJson({ ...request, ref }), Op.START)
    try {
      return await reply
    } catch (error) {
      const busy = (error as TransferError).code === FileTransferErrorCode.BUSY
      if (!busy || attempt >= retries) throw error
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt))
    }
  }
}

/**
 * Uploads the file at `path` over the fast path (binary-frames `FILE_TRANSFER` frames) to a
 * server running `receiveFiles`. Chunks go out while at most `windowBytes` are unacknowledged
 * and the socket is not asking for a drain; SHA-256 is computed as the file is read and checked
 * by the server before it publishes. With `transferId` it resumes: the server answers with its
 * offset, the bytes before it are re-hashed locally, and sending continues from there.
 *
 * `target` is a connected socket or a `BinaryProtocolHandler` on one (several sends may share
 * it). Resolves with what the server published; rejects with a `TransferError` whose
 * `transferId` can be passed back to resume, or an `AbortError`.
 */
export async function sendFile(
  target: Duplex | BinaryProtocolHandler,
  path: string,
  options: SendFileOptions = {},
): Promise<CompletedTransfer> {
  knownKeys(options, OPTION_KEYS, 'sendFile')
  const chunkBytes = positiveInt(options.chunkBytes, 'chunkBytes', DEFAULT_CHUNK_BYTES)
  const windowBytes = Math.max(
    chunkBytes,
    positiveInt(options.windowBytes, 'windowBytes', DEFAULT_WINDOW_BYTES),
  )
  const withCrc = bool(options.chunkChecksum, 'chunkChecksum', false)
  const onStart = fn<((s: StartResult) => void) | undefined>(options.onStart, 'onStart', undefined)
  const onProgress = fn<((p: SendProgress) => void) | undefined>(
    options.onProgress,
    'onProgress',
    undefined,
  )
  const interval = intInRange(options.progressIntervalMs, 'progressIntervalMs', 100, 0, 60_000)
  const retries = intInRange(options.busyRetries, 'busyRetries', 5, 0, 100)
  const signal = options.signal
  signal?.throwIfAborted()
  const handler = handlerFor(target)
  const file = await fs.open(path, 'r')
  try {
    const { size } = await file.stat()
    const started = await start(
      handler,
      {
        name: options.name ?? basename(path),
        size,
        ...(options.transferId !== undefined && { transferId: options.transferId }),
      },
      signal,
      retries,
    )
    onStart?.(started)
    const id = started.transferId
    const prefix = dataPrefixBytes(withCrc)
    let hash = await hashPrefix(file, started.offset, chunkBytes, path)
    let unhashed = 0

    let acked = started.offset
    /** DATA frames not yet answered (each gets one ACK or one ERROR). */
    let outstanding = 0
    /** A chunk was refused but the transfer can go on (bad CRC-32, wrong offset): resend. */
    let rewind = false
    let failure: unknown
    let wake: (() => void) | undefined
    const began = performance.now()
    let lastProgress = Number.NEGATIVE_INFINITY
    const report = (force: boolean) => {
      if (!onProgress) return
      const now = performance.now()
      if (!force && now - lastProgress < interval) return
      lastProgress = now
      const seconds = (now - began) / 1000
      const rate = seconds > 0 ? (acked - started.offset) / seconds : 0
      onProgress({
        transferId: id,
        bytes: acked,
        total: size,
        percent: size === 0 ? 100 : (acked / size) * 100,
        rate,
        etaSeconds: rate > 0 ? (size - acked) / rate : Number.POSITIVE_INFINITY,
      })
    }
    const onFrame = (frame: BinaryFrame) => {
      const op = frame.flags & 0xff
      if (op === Op.ACK) {
        if (frame.payload.byteLength < 24 || readId(frame.payload) !== id) return
        outstanding--
        acked = Math.max(acked, readOffset(frame.payload, 16))
        report(acked === size)
      } else if (op === Op.ERROR) {
        const body = decodeJson(frame.payload)
        if (!body || body.transferId !== id) return
        outstanding--
        if (body.code === WireCode.CHECKSUM_MISMATCH || body.code === WireCode.OFFSET_MISMATCH) {
          rewind = true
        } else failure ??= errorFrom({ ...body, transferId: id })
      } else if (op === Op.NOTICE) {
        const body = decodeJson(frame.payload)
        failure ??= errorFrom({ ...body, transferId: id })
      } else {
        return
      }
      wake?.()
    }
    const onClose = () => {
      failure ??= new TransferError(
        FileTransferErrorCode.CONNECTION_CLOSED,
        'the connection closed',
        { transferId: id },
      )
      wake?.()
    }
    const onAbort = () => {
      failure ??= signal?.reason ?? new DOMException('aborted', 'AbortError')
      wake?.()
    }
    const sleep = () =>
      new Promise<void>((resolve) => {
        wake = () => {
          wake = undefined
          resolve()
        }
      })
    handler.on(FILE_TRANSFER, onFrame)
    handler.socket.on('close', onClose)
    signal?.addEventListener('abort', onAbort)
    if (handler.socket.destroyed) onClose()
    const read = (at: number) => {
      const length = Math.min(chunkBytes, size - at)
      const buffer = Buffer.allocUnsafe(prefix + length)
      return file.read(buffer, prefix, length, at).then(({ bytesRead }) => {
        if (bytesRead !== length) throw new Error(`${path} changed while it was being sent`)
        return buffer
      })
    }
    try {
      let sent = started.offset
      let rewinds = 0
      for (;;) {
        // Reads run ahead on libuv's pool while earlier chunks are hashed and sent, so the disk,
        // the hash and the socket overlap instead of taking turns.
        const reads: Promise<Buffer>[] = []
        let readAt = sent
        const readAhead = () => {
          while (reads.length < READ_AHEAD && readAt < size && readAt - acked < windowBytes) {
            const next = read(readAt)
            next.catch(() => {})
            reads.push(next)
            readAt += Math.min(chunkBytes, size - readAt)
          }
        }
        readAhead()
        while (reads.length > 0 && !rewind) {
          const buffer = await (reads.shift() as Promise<Buffer>)
          if (failure) throw failure
          const length = buffer.length - prefix
          const at = sent
          sent += length
          const data = buffer.subarray(prefix)
          writeId(buffer, id)
          writeOffset(buffer, at, 16)
          let flags: number = Op.DATA
          if (withCrc) {
            buffer.writeUInt32BE(crc32(data), 24)
            flags |= CHUNK_CRC
          }
          outstanding++
          handler.sendBinaryMessage(FILE_TRANSFER, buffer, flags)
          // Hashed after sending, so the kernel moves this chunk meanwhile. (A StreamHash may
          // also settle later, off this thread: what waits for it counts against the window.)
          unhashed += length
          const current = hash
          current.update(data).then(
            () => {
              if (current !== hash) return
              unhashed -= length
              wake?.()
            },
            (error) => {
              failure ??= error
              wake?.()
            },
          )
          readAhead()
          // The window bounds what is unacknowledged, socket queue included, so memory stays
          // bounded without stopping at every 'drain' (a 1 MiB chunk always overfills the
          // socket's 16 KiB high-water mark, and waiting for it would idle the pipe).
          while (!failure && !rewind && (sent - acked >= windowBytes || unhashed >= windowBytes)) {
            await sleep()
            readAhead()
          }
          if (failure) throw failure
        }
        for (const pending of reads) await pending.catch(() => {})
        while (!failure && (outstanding > 0 || acked < sent)) await sleep()
        if (failure) throw failure
        if (!rewind) break
        // Every chunk has been answered, so `acked` is where the server stands: go on from there.
        if (++rewinds > 16) {
          throw new TransferError(
            FileTransferErrorCode.CHECKSUM_MISMATCH,
            'too many chunks refused',
            { transferId: id },
          )
        }
        rewind = false
        sent = acked
        hash.discard()
        unhashed = 0
        hash = await hashPrefix(file, acked, chunkBytes, path)
      }
    } catch (error) {
      hash.discard()
      throw error
    } finally {
      handler.off(FILE_TRANSFER, onFrame)
      handler.socket.off('close', onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    const digest = await hash.digest()
    const complete = waitForReply<CompletedTransfer>(handler, Op.COMPLETE, 'transferId', id, signal)
    handler.sendBinaryMessage(FILE_TRANSFER, encodeJson({ transferId: id, sha256: digest }), Op.END)
    return await complete
  } finally {
    await file.close()
  }
}

/** SHA-256 state after the first `length` bytes: a hash state cannot be saved, so it is rebuilt. */
async function hashPrefix(
  file: fs.FileHandle,
  length: number,
  chunkBytes: number,
  path: string,
): Promise<StreamHash> {
  // On this thread: a sender's I/O thread only reads and sends, with several chunks read ahead
  // and a window in flight, so hashing here overlaps the socket and the disk. Measured, it beat
  // the hashing thread (whose ring copy, messages and wake-ups cost more CPU on a busy machine).
  const hash = inlineHash()
  const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, length) || 1)
  try {
    for (let at = 0; at < length; ) {
      const want = Math.min(buffer.length, length - at)
      const { bytesRead } = await file.read(buffer, 0, want, at)
      if (bytesRead === 0) throw new Error(`${path} is shorter than the server's offset`)
      await hash.update(buffer.subarray(0, bytesRead))
      at += bytesRead
    }
  } catch (error) {
    hash.discard()
    throw error
  }
  return hash
}

/** Asks the server to remove an unfinished upload (a started send that will not be resumed). */
export async function cancelTransfer(
  target: Duplex | BinaryProtocolHandler,
  transferId: string,
): Promise<void> {
  const handler = handlerFor(target)
  const done = waitFor(handler, (frame) => {
    const op = frame.flags & 0xff
    if (op !== Op.CANCELLED && op !== Op.ERROR) return undefined
    const body = decodeJson(frame.payload)
    if (!body || body.transferId !== transferId) return undefined
    if (op === Op.ERROR) throw errorFrom(body)
    return true
  })
  handler.sendBinaryMessage(FILE_TRANSFER, encodeJson({ transferId }), Op.CANCEL)
  await done
}
