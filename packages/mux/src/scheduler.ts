import type { MuxStream } from './stream.ts'

/**
 * The session's send credit and its round-robin of streams that have data and credit: each
 * turn of the rotation frames at most one frame of one stream, so a bulk stream cannot hold
 * back the others for more than a frame.
 */
export class SendScheduler {
  /** Largest data payload per frame (the smaller of ours and the peer's). */
  frameSize: number
  #limit: number
  #sent = 0
  #ready: MuxStream[] = []
  #head = 0
  /** Streams in `#ready` from `#head` on: a stream is in the rotation at most once. */
  readonly #members = new Set<MuxStream>()
  readonly #full: () => boolean

  /**
   * @param limit the session credit the peer granted so far (absolute)
   * @param frameSize the data payload per frame
   * @param full asked before each frame: true when the socket holds enough for now
   */
  constructor(limit: number, frameSize: number, full: () => boolean) {
    this.#limit = limit
    this.frameSize = frameSize
    this.#full = full
  }

  /** Bytes of data framed over all streams. */
  get sent(): number {
    return this.#sent
  }

  /** True while a stream waits in the rotation. */
  get pending(): boolean {
    return this.#head < this.#ready.length
  }

  /** Raises the session limit (never lowers it); true when that lets a waiting stream go. */
  grant(limit: number): boolean {
    if (limit <= this.#limit) return false
    this.#limit = limit
    return this.pending
  }

  /** Sets the session limit even below what it was (legacy peer, late hello). */
  setLimit(limit: number): void {
    this.#limit = limit
  }

  /** Puts a stream with something sendable in the rotation (once). */
  add(stream: MuxStream): void {
    if (this.#members.has(stream) || stream.sendable <= 0) return
    this.#members.add(stream)
    this.#ready.push(stream)
  }

  /** Frames data, one frame per stream per turn, until no stream, no credit or `full()`. */
  run(): void {
    const ready = this.#ready
    const members = this.#members
    const frameMax = this.frameSize
    while (this.#head < ready.length) {
      if (this.#full()) break
      const credit = this.#limit - this.#sent
      if (credit <= 0) break
      const s = ready[this.#head++] as MuxStream
      const n = s.detached ? 0 : Math.min(s.sendable, frameMax, credit)
      if (n <= 0) {
        members.delete(s)
        continue
      }
      this.#sent += n
      // May run the stream's write callback, which may queue its next write (and add() it,
      // a no-op while it is still a member).
      s.sendFrame(n)
      if (s.sendable > 0 && !s.detached) ready.push(s)
      else members.delete(s)
    }
    if (this.#head === ready.length) {
      ready.length = 0
      this.#head = 0
    } else if (this.#head > 1024) {
      this.#ready = ready.slice(this.#head)
      this.#head = 0
    }
  }
}
