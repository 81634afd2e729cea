import type { Duplex, Readable } from 'node:stream'
import { ErrorCode, ProtocolError } from '../errors.ts'
import { positiveInt } from '../validate.ts'
import type { BinaryInput, DecodeSink, SyncDecoder } from './decoder.ts'
import { CodecErrorCode } from './errors.ts'

export interface AttachHandlers<T> {
  /**
   * Called for each frame. Returning a promise marks the frame as in progress: reading pauses
   * while `maxPending` of them are unsettled. A throw or a rejection is a fatal
   * `ERR_HANDLER_FAILED` with the original error as `cause`.
   */
  frame(value: T): unknown
  /** Every decoding error. After a fatal one (`recoverable: false`) the decoder is detached. */
  error(error: ProtocolError): void
  /** The input ended cleanly, on a frame boundary. */
  end?(): void
  /**
   * Called after the frames of one chunk were delivered, while the socket is still corked: the
   * place to write replies that were gathered frame by frame (one write for a chunk's worth).
   */
  batchEnd?(): void
}

export interface AttachOptions {
  /** Unsettled promises from `frame` before reading pauses. @default 1 */
  maxPending?: number
  /**
   * Frames delivered before reading pauses until the next event-loop turn. A socket read is up
   * to 64 KiB, 8,192 eight-byte frames, and Node delivers many reads of one socket in a row, so
   * without a budget one peer's flood of tiny frames holds the event loop while every other
   * connection waits. Checked after each chunk. @default 1024
   */
  maxFramesPerTurn?: number
}

export interface AttachedDecoder {
  /** True while reading is paused for backpressure (not counting pauses made by others). */
  readonly paused: boolean
  /**
   * Pauses reading until the source's writable side drains, if it needs to. Call it when a
   * write returns false: a peer that sends requests but does not read the replies must not
   * make us buffer replies without bound.
   */
  waitForDrain(): void
  /** Stops decoding: removes every listener this attached. Idempotent. */
  detach(): void
}

/** Frames one attached socket may deliver before it yields the event loop. */
export const DEFAULT_MAX_FRAMES_PER_TURN = 1024

/**
 * Drives a decoder from a socket (or any `Readable`): decodes each `'data'` chunk and hands
 * frames to `handlers`. Reading pauses while the consumer lags: while `maxPending` handler
 * promises are unsettled, and while the socket's writable side needs a drain (checked after every
 * chunk and on `waitForDrain`). It also pauses until the next event-loop turn after every
 * `maxFramesPerTurn` frames, so one connection's flood cannot hold the loop, and the socket is
 * corked while a chunk is decoded, so the replies to a chunk's frames leave in one write. Socket
 * `'error'` events are not handled here: they belong to whoever owns the socket.
 */
export function attachDecoder<T>(
  source: Readable | Duplex,
  decoder: SyncDecoder<T>,
  handlers: AttachHandlers<T>,
  options: AttachOptions = {},
): AttachedDecoder {
  const maxPending = options.maxPending ?? 1
  const maxFramesPerTurn = positiveInt(
    options.maxFramesPerTurn,
    'maxFramesPerTurn',
    DEFAULT_MAX_FRAMES_PER_TURN,
  )
  let pending = 0
  let draining = false
  let yielding = false
  let framesThisTurn = 0
  let paused = false
  let detached = false
  let failed = false

  const update = () => {
    if (detached) return
    const shouldPause = pending >= maxPending || draining || yielding
    if (shouldPause && !paused) {
      paused = true
      source.pause()
    } else if (!shouldPause && paused) {
      paused = false
      source.resume()
    }
  }
  const onDrain = () => {
    draining = false
    update()
  }
  const waitForDrain = () => {
    const writable = source as Partial<Duplex>
    if (detached || draining || writable.writableNeedDrain !== true) return
    draining = true
    source.once('drain', onDrain)
    update()
  }
  const handlerFailed = (cause: unknown) =>
    fail(
      new ProtocolError(ErrorCode.HANDLER_FAILED, 'a frame handler threw or rejected', { cause }),
    )
  const settled = () => {
    pending--
    update()
  }
  const rejected = (cause: unknown) => {
    pending--
    handlerFailed(cause)
  }

  const endTurn = () => {
    yielding = false
    update()
  }

  const sink: DecodeSink<T> = {
    frame(value) {
      if (failed) return
      framesThisTurn++
      let result: unknown
      try {
        result = handlers.frame(value)
      } catch (cause) {
        handlerFailed(cause)
        return
      }
      if (result !== null && typeof (result as PromiseLike<unknown>)?.then === 'function') {
        pending++
        ;(result as PromiseLike<unknown>).then(settled, rejected)
      }
    },
    error(error) {
      if (failed) return
      if (error.recoverable) handlers.error(error)
      else fail(error)
    },
  }

  function fail(error: ProtocolError) {
    if (failed) return
    failed = true
    detach()
    handlers.error(error)
  }

  // Replies written while one chunk is decoded leave in one write (a writev), not one each.
  const out = source as Partial<Duplex>
  const corkable = typeof out.cork === 'function' && typeof out.uncork === 'function'
  const onData = (chunk: BinaryInput) => {
    if (corkable) out.cork?.()
    try {
      decoder.push(chunk, sink)
      if (!failed) handlers.batchEnd?.()
    } catch (cause) {
      // Only a chunk that is not bytes gets here (a socket with `setEncoding`, say): the sink
      // catches handler errors itself, and a decoder never throws for bytes.
      fail(new ProtocolError(CodecErrorCode.INVALID_CHUNK, 'a chunk was not bytes', { cause }))
      return
    } finally {
      if (corkable) out.uncork?.()
    }
    if (framesThisTurn >= maxFramesPerTurn && !detached) {
      framesThisTurn = 0
      yielding = true
      update()
      setImmediate(endTurn)
    } else if (pending >= maxPending) update()
    waitForDrain()
  }
  const onEnd = () => {
    decoder.end(sink)
    if (failed) return
    detach()
    handlers.end?.()
  }

  function detach() {
    if (detached) return
    detached = true
    source.off('data', onData)
    source.off('end', onEnd)
    source.off('close', detach)
    source.off('drain', onDrain)
  }

  source.on('data', onData)
  source.on('end', onEnd)
  source.on('close', detach)

  return {
    get paused() {
      return paused
    },
    waitForDrain,
    detach,
  }
}
