import { crc32 } from 'node:zlib'
import { refuse, type TransferError, WireCode } from './errors.ts'
import type { PartialFile } from './storage.ts'
import type { Transfer } from './transfer.ts'

/**
 * Bytes written between background flushes. Flushing while the upload streams lets the disk
 * write back during the transfer, so the fsync before publishing finds little left to do.
 */
export const FLUSH_EVERY_BYTES = 32 * 1024 * 1024

/** The CRC-32 of a chunk, whether it came as one buffer or as the pieces it arrived in. */
export function crcOf(data: Uint8Array | readonly Uint8Array[]): number {
  if (ArrayBuffer.isView(data)) return crc32(data)
  let crc = 0
  for (const piece of data) crc = crc32(piece, crc)
  return crc
}

/** One write for a chunk, whether it came as one buffer or as the pieces it arrived in. */
function writeAt(
  file: PartialFile,
  data: Uint8Array | readonly Uint8Array[],
  offset: number,
): Promise<void> {
  if (ArrayBuffer.isView(data)) return file.write(data, offset)
  if (data.length === 1) return file.write(data[0] as Uint8Array, offset)
  if (file.writev) return file.writev(data, offset)
  // A store without writev: the pieces one after another.
  return (async () => {
    let at = offset
    for (const piece of data) {
      await file.write(piece, at)
      at += piece.byteLength
    }
  })()
}

/** The coded refusal for a failed read or write of an upload's partial. */
export function ioFailure(id: string, cause: unknown): TransferError {
  const code = (cause as NodeJS.ErrnoException)?.code
  return refuse(WireCode.IO_ERROR, `the upload could not be written${code ? ` (${code})` : ''}`, {
    transferId: id,
    cause,
  })
}

/**
 * Writes and hashes one accepted chunk of `t` (the receiver has checked it and advanced
 * `t.received`), after the chunks before it, and starts a background flush every
 * FLUSH_EVERY_BYTES. Resolves to the bytes durable after it; on an I/O failure calls `fail` and
 * rejects with the coded error.
 */
export function writeChunk(
  t: Transfer,
  offset: number,
  data: Uint8Array | readonly Uint8Array[],
  length: number,
  fail: (error: TransferError) => void,
): Promise<number> {
  // Submitted before hashing, so the write runs on libuv's pool while this thread hashes;
  // writes at distinct offsets may run at once, and are acknowledged in order.
  let submitted: Promise<void>
  try {
    submitted = writeAt(t.file, data, offset)
  } catch (cause) {
    submitted = Promise.reject(cause)
  }
  submitted.catch(() => {})
  // Hashed on the hashing thread for large uploads; its backlog counts as queued bytes.
  const hashed = t.hash.update(data)
  hashed.catch(() => {})
  return t.tail.then(async () => {
    try {
      await submitted
      await hashed
    } catch (cause) {
      const error = t.failure ?? ioFailure(t.id, cause)
      // Not awaited: failing waits for the queue, and this write is in it.
      fail(error)
      throw error
    }
    if (t.failure) throw t.failure
    // A slow disk is not an idle sender: progress here counts as activity too.
    t.idle?.refresh()
    t.durable = offset + length
    if (t.durable - t.flushedAt >= FLUSH_EVERY_BYTES && t.flushing === undefined) {
      t.flushedAt = t.durable
      t.flushing = t.file.sync().then(
        () => {
          t.flushing = undefined
        },
        (cause) => {
          t.flushError ??= cause
          t.flushing = undefined
        },
      )
    }
    return t.durable
  })
}
