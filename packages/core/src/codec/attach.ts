import type { Duplex, Readable } from 'node:stream'
import { ErrorCode, ProtocolError } from '../errors.ts'
import { positiveInt } from '../validate.ts'
import { type BinaryInput, type DecodeSink, type SyncDecoder, toBuffer } from './decoder.ts'
import { CodecErrorCode } from './errors.ts'
import { sharedTurnBudget, type TurnBudget } from './turn-budget.ts'

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
   * Called after the frames of one batch were delivered, while the socket is still corked: the
   * place to write replies that were gathered frame by frame (one write for a batch's worth).
   */
  batchEnd?(): void
}

export interface AttachOptions {
  /** Unsettled promises from `frame` before reading pauses. @default 1 */
  maxPending?: number
  /**
   * Frames (and recoverable errors) this source delivers in one batch before it lets the others
   * go first. A socket read is up to 64 KiB, 8,192 eight-byte frames, and Node delivers many
   * reads of one socket in a row; a decoder that supports it stops mid-chunk, and the rest of
   * the chunk waits (reading paused) for this source's next turn. @default 256
   */
  maxFramesPerTurn?: number
  /**
   * The per-turn work budget this source shares with others: once it is spent, every source
   * waits in its line for a later turn. @default the process-wide `sharedTurnBudget`
   */
  budget?: TurnBudget
}

export interface AttachedDecoder {
  /** True while reading is paused by this decoder (backpressure, or waiting for its turn). */
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

/** Frames one attached source delivers in a batch before it lets others go first. */
export const DEFAULT_MAX_FRAMES_PER_TURN = 256

/**
 * Drives a decoder from a socket (or any `Readable`): decodes each `'data'` chunk and hands
 * frames to `handlers`.
 *
 * Fairness: work is done in batches of at most `maxFramesPerTurn` frames, charged to a
 * `TurnBudget` shared with every other attached source. When a batch ends mid-chunk (a decoder
 * that supports it stops on a frame boundary) or the turn's budget is spent, the rest of the
 * chunk is kept, reading pauses, and the source waits in the budget's line for a later turn,
 * then goes on exactly where it stopped. So one connection's flood of tiny frames cannot hold
 * the event loop, and two hundred of them cannot either.
 *
 * Backpressure: reading also pauses while `maxPending` handler promises are unsettled, and
 * while the socket's writable side needs a drain (checked after every frame once a handler's
 * write returned false and `waitForDrain` was called, and after every batch): a peer that does
 * not read its replies is paused, not queued for. The socket is corked while a batch is
 * decoded, so the replies to its frames leave in one write. Socket `'error'` events are not
 * handled here: they belong to whoever owns the socket.
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
  const budget = options.budget ?? sharedTurnBudget
  let batch = 0
  /**
   * True while this source floods: its last batch was cut short by its own volume (a full batch,
   * or input left over). One that is not (a client sending a request now and then) goes before
   * the flooders' next batches when it finds the turn's budget spent, instead of waiting for a
   * whole round of them.
   */
  let flooding = false
  let queued = false
  let pending = 0
  let draining = false
  let paused = false
  let detached = false
  let failed = false

  const blocked = () => pending >= maxPending || draining
  const update = () => {
    if (detached) return
    const shouldPause = queued || blocked()
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

  const sink: DecodeSink<T> = {
    frame(value) {
      if (failed) return false
      let result: unknown
      try {
        result = handlers.frame(value)
      } catch (cause) {
        handlerFailed(cause)
        return false
      }
      if (result !== null && typeof (result as PromiseLike<unknown>)?.then === 'function') {
        pending++
        ;(result as PromiseLike<unknown>).then(settled, rejected)
      }
      return next()
    },
    error(error) {
      if (failed) return false
      if (!error.recoverable) {
        fail(error)
        return false
      }
      handlers.error(error)
      return next()
    },
  }

  /**
   * Charges the frame just delivered and says whether the batch may go on. Both counters move
   * every time: the frame that ends a batch costs the turn as much as any other.
   */
  function next(): boolean {
    const budgetLeft = ++budget.used < budget.limit
    return ++batch < maxFramesPerTurn && budgetLeft && !draining
  }

  function fail(error: ProtocolError) {
    if (failed) return
    failed = true
    detach()
    handlers.error(error)
  }

  // Our turn came: reading resumes, and the input we gave back comes first.
  const waiter = {
    run(): number {
      queued = false
      update()
      return maxFramesPerTurn
    },
  }

  /**
   * Gives input back to the source, to be read again first, and stops reading: the source then
   * keeps holding it, so its `'end'` waits for it too and nothing is reordered.
   */
  const giveBack = (input: BinaryInput) => {
    // Always: someone else may have resumed the source since we paused it, and unshifting into a
    // flowing stream would hand the input straight back to us.
    paused = true
    source.pause()
    source.unshift(toBuffer(input))
  }

  // Replies written while one batch is decoded leave in one write (a writev), not one each.
  const out = source as Partial<Duplex>
  const corkable = typeof out.cork === 'function' && typeof out.uncork === 'function'

  const onData = (chunk: BinaryInput) => {
    if (queued || blocked() || budget.used >= budget.limit) {
      // Not our turn (someone else resumed the source), or this turn's work is done.
      giveBack(chunk)
      if (!queued && !blocked()) {
        queued = true
        budget.wait(waiter, !flooding)
      }
      return
    }
    batch = 0
    // biome-ignore lint/suspicious/noConfusingVoidType: what SyncDecoder.push returns
    let used: number | void
    if (corkable) out.cork?.()
    try {
      used = decoder.push(chunk, sink)
      if (!failed) handlers.batchEnd?.()
    } catch (cause) {
      // Only a chunk that is not bytes gets here (a socket with `setEncoding`, say): the sink
      // catches handler errors itself, and a decoder never throws for bytes.
      fail(new ProtocolError(CodecErrorCode.INVALID_CHUNK, 'a chunk was not bytes', { cause }))
      return
    } finally {
      if (corkable) out.uncork?.()
    }
    if (detached) return
    const length = (chunk as Uint8Array).byteLength
    if (typeof used !== 'number' || used > length) used = length
    // A KiB of input is a unit of work too: a chunk of one big frame is not free.
    budget.charge(used >> 10)
    if (used < length) giveBack((toBuffer(chunk) as Buffer).subarray(used))
    waitForDrain()
    // The batch ended mid-chunk, or it is spent (a decoder that cannot stop overshoots by the
    // rest of its chunk), or the turn's budget is: the others go first.
    flooding = used < length || batch >= maxFramesPerTurn
    if ((flooding || budget.used >= budget.limit) && !blocked()) {
      queued = true
      budget.wait(waiter, !flooding)
    }
    update()
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
