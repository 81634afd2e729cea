import type { Writable } from 'node:stream'
import { COMPACT_WINDOW_BYTES, HEADER_BYTES } from './constants.ts'
import { encodeControl, writeCompactHeader, writeCompactWindow } from './control.ts'

/** Window-update records per compact frame: 3,328 bytes, under any allowed `maxControlBytes`. */
const COMPACT_BATCH = 256

/**
 * Everything a session writes goes through here: control frames first, then window updates,
 * then data frames from the session's scheduler, all of one event-loop turn in one corked
 * `writev`.
 *
 * - `control()` and `schedule()` flush on the next tick; `window()` waits for the end of the
 *   turn (`setImmediate`), so the updates caused by every socket read of a turn go out together.
 * - The cork is held until the end of the turn, or released at once when the socket holds
 *   `maxSocketBuffer` bytes: a writer that refills its stream from its write callbacks (they
 *   fire as its bytes are handed over) adds to the same `writev` instead of making one per refill.
 * - When the socket is full (`full()`), data waits for `'drain'`; control still goes out.
 */
export class WritePipeline {
  /** Window updates travel as compact binary records (both hellos offered them). */
  compact = false
  /** No more writes: the session has failed or closed. */
  stopped = false

  readonly #socket: Writable
  readonly #maxSocketBuffer: number
  readonly #writeData: () => void
  readonly #control: Buffer[] = []
  readonly #windowUpdates = new Map<number, number>()
  #flushQueued = false
  #windowFlushQueued = false
  #waitingDrain = false
  /** We hold one cork on the socket: frames of this event-loop turn are gathered in it. */
  #corked = false
  #uncorkQueued = false

  /**
   * @param writeData the session's scheduler: frames data into the socket until there is no
   *   credit, no data, or `full()` says stop.
   */
  constructor(socket: Writable, maxSocketBuffer: number, writeData: () => void) {
    this.#socket = socket
    this.#maxSocketBuffer = maxSocketBuffer
    this.#writeData = writeData
  }

  /** Queues an encoded control frame; it goes out on the next tick, ahead of any data. */
  control(frame: Buffer): void {
    if (this.stopped) return
    this.#control.push(frame)
    this.schedule()
  }

  /** Queues a window update (the latest limit per stream wins), sent at the end of the turn. */
  window(streamId: number, limit: number): void {
    if (this.stopped) return
    this.#windowUpdates.set(streamId, limit)
    if (!this.#flushQueued && !this.#windowFlushQueued) {
      this.#windowFlushQueued = true
      setImmediate(this.#windowFlushBound)
    }
  }

  /** A flush on the next tick (data became ready, credit arrived). */
  schedule(): void {
    if (this.#flushQueued) return
    this.#flushQueued = true
    process.nextTick(this.#flushBound)
  }

  /** True while data waits for the socket's `'drain'`. */
  get waitingDrain(): boolean {
    return this.#waitingDrain
  }

  /**
   * For the scheduler, before each data frame: true when the socket already holds
   * `maxSocketBuffer` bytes, in which case the pipeline resumes on `'drain'`.
   */
  full(): boolean {
    const socket = this.#socket
    if (!socket.writableNeedDrain || socket.writableLength < this.#maxSocketBuffer) return false
    if (!this.#waitingDrain) {
      this.#waitingDrain = true
      socket.once('drain', this.#onDrainBound)
    }
    return true
  }

  /** Frames everything that is ready into the corked socket now. */
  flush(): void {
    this.#flushQueued = false
    const socket = this.#socket
    if (this.stopped || socket.destroyed || socket.writableEnded) return
    if (!this.#corked) {
      socket.cork()
      this.#corked = true
      if (!this.#uncorkQueued) {
        this.#uncorkQueued = true
        setImmediate(this.#uncorkBound)
      }
    }
    this.writeControl()
    if (!this.#waitingDrain) this.#writeData()
    if (this.#waitingDrain) this.uncork()
  }

  /** Releases our cork: what this turn framed goes to the socket now (before end or destroy). */
  uncork(): void {
    if (!this.#corked) return
    this.#corked = false
    this.#socket.uncork()
  }

  /** Writes the queued control frames and window updates, without data. */
  writeControl(): void {
    const socket = this.#socket
    const control = this.#control
    if (control.length === 1) socket.write(control[0])
    else if (control.length > 1) socket.write(Buffer.concat(control))
    control.length = 0
    const updates = this.#windowUpdates
    if (updates.size === 0) return
    if (this.compact) {
      let left = updates.size
      let frame: Buffer | undefined
      let at = 0
      for (const [id, limit] of updates) {
        if (frame === undefined) {
          const records = Math.min(left, COMPACT_BATCH)
          frame = Buffer.allocUnsafe(HEADER_BYTES + records * COMPACT_WINDOW_BYTES)
          writeCompactHeader(frame, records)
          at = HEADER_BYTES
        }
        writeCompactWindow(frame, at, id, limit)
        at += COMPACT_WINDOW_BYTES
        left--
        if (at === frame.length) {
          socket.write(frame)
          frame = undefined
        }
      }
    } else {
      for (const [streamId, limit] of updates) {
        socket.write(encodeControl({ type: 'window_update', streamId, limit }))
      }
    }
    updates.clear()
  }

  readonly #flushBound = () => this.flush()
  readonly #windowFlushBound = () => {
    this.#windowFlushQueued = false
    if (!this.#flushQueued && this.#windowUpdates.size > 0) {
      this.flush()
      // Already at the end of the turn: the updates go out now, not one loop iteration later.
      this.uncork()
    }
  }
  readonly #uncorkBound = () => {
    this.#uncorkQueued = false
    this.uncork()
  }
  readonly #onDrainBound = () => {
    this.#waitingDrain = false
    this.flush()
  }
}
