import type { MuxStream } from './stream.ts'

interface WaitingOpen {
  /** The encoded `stream_create`, sent when the stream is admitted. */
  frame: Buffer
  /** `end()` came while waiting: `stream_close` follows the `stream_create`. */
  finDeferred: boolean
  timer: NodeJS.Timeout | undefined
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/**
 * Who counts against whose `maxStreams`: our streams at the peer (`local`) and the peer's here
 * (`remote`), and our opens waiting for a slot at the peer, first come first served.
 *
 * A stream stops counting once it is closed on the wire: both `stream_close`s, or a
 * `stream_reset` either way. Both ends see those frames in the same order relative to new
 * `stream_create`s, so both count the same and a waiting open is never refused for a slot its
 * peer has not freed yet.
 */
export class StreamSlots {
  local = 0
  remote = 0
  readonly #holders = new Set<MuxStream>()
  /** In insertion order: the order of the `open()` calls. */
  readonly #waiting = new Map<MuxStream, WaitingOpen>()

  get waitingCount(): number {
    return this.#waiting.size
  }

  isWaiting(stream: MuxStream): boolean {
    return this.#waiting.has(stream)
  }

  /** The stream takes a slot (ours at the peer, or the peer's here). */
  take(stream: MuxStream): void {
    this.#holders.add(stream)
    if (stream.local) this.local++
    else this.remote++
  }

  /** Gives the stream's slot back once it is closed on the wire; true when one of ours freed. */
  release(stream: MuxStream): boolean {
    if (!this.#holders.has(stream)) return false
    const closed =
      (stream.finSent && stream.finReceived) ||
      stream.resetSent ||
      stream.resetReceived ||
      stream.detached
    if (!closed) return false
    this.#holders.delete(stream)
    if (stream.local) this.local--
    else this.remote--
    return stream.local
  }

  /**
   * Queues our open until a slot frees; `onTimeout` and `onAbort` give up on it (they destroy
   * the stream, which forgets it here).
   */
  wait(
    stream: MuxStream,
    frame: Buffer,
    timeout: number | undefined,
    signal: AbortSignal | undefined,
    onTimeout: () => void,
    onAbort: () => void,
  ): void {
    const entry: WaitingOpen = {
      frame,
      finDeferred: false,
      timer: undefined,
      signal,
      onAbort: undefined,
    }
    if (timeout !== undefined) {
      entry.timer = setTimeout(onTimeout, timeout)
      entry.timer.unref?.()
    }
    if (signal !== undefined) {
      entry.onAbort = onAbort
      signal.addEventListener('abort', onAbort, { once: true })
    }
    this.#waiting.set(stream, entry)
  }

  /** `end()` on a waiting stream: true when deferred (the stream is still waiting). */
  deferFin(stream: MuxStream): boolean {
    const entry = this.#waiting.get(stream)
    if (entry === undefined) return false
    entry.finDeferred = true
    return true
  }

  /** Stops waiting: timers and listeners go. Undefined when the stream was not waiting. */
  forget(stream: MuxStream): WaitingOpen | undefined {
    const entry = this.#waiting.get(stream)
    if (entry === undefined) return undefined
    this.#waiting.delete(stream)
    if (entry.timer !== undefined) clearTimeout(entry.timer)
    if (entry.onAbort !== undefined) entry.signal?.removeEventListener('abort', entry.onAbort)
    return entry
  }

  /** The oldest waiting open that is still alive, taken out of the queue; undefined if none. */
  next(): { stream: MuxStream; entry: WaitingOpen } | undefined {
    for (const stream of this.#waiting.keys()) {
      const entry = this.forget(stream) as WaitingOpen
      if (!stream.destroyed) return { stream, entry }
    }
    return undefined
  }
}
