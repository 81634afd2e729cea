import type { TCPSocket } from '@verb-tcp/core'

/** Bytes handled per event-loop turn, over every connection, before reading pauses. */
export const DEFAULT_TURN_BUDGET = 64 * 1024

/**
 * Bounds the work all connections together can cause in one event-loop turn.
 *
 * libuv reads a ready socket up to 32 times (64 KiB each) before it looks at anything else,
 * every read is decoded at once, and the kernel takes megabytes of our replies before a client
 * that never reads them makes a write wait. So a hundred clients flooding pings kept one turn
 * busy for seconds: no new connection was accepted, no signal handled, no other client served.
 *
 * Here, once the bytes read in this turn pass the budget, every connection stops reading (what
 * the kernel delivers meanwhile waits in the socket's buffer, then in the kernel), and on the
 * next turns they are resumed in order, those that waited longest first, until the budget is
 * used again. The chunk being handled is finished (a decoder cannot stop halfway), so a turn
 * costs at most the budget plus one read. Request-and-reply traffic never comes near the budget
 * and pays one counter per read. (The replies to one read leave in one write: the codecs cork the
 * socket while they decode a chunk.)
 */
export class ReadScheduler {
  readonly #budget: number
  readonly #sockets = new Set<TCPSocket>()
  /** Connections paused by us, the longest waiting first. */
  #waiting = new Set<TCPSocket>()
  /** Connections resumed in this turn (their buffered data flows on the next tick). */
  #resumed = new Set<TCPSocket>()
  #used = 0
  #turnScheduled = false
  #deferred: (() => void)[] = []

  constructor(budget = DEFAULT_TURN_BUDGET) {
    this.#budget = budget
  }

  /** Puts a connection under the scheduler, for its whole life. */
  add(socket: TCPSocket): void {
    this.#sockets.add(socket)
    socket.prependListener('data', (chunk: Buffer) => this.#onData(socket, chunk))
    socket.once('close', () => {
      this.#sockets.delete(socket)
      this.#waiting.delete(socket)
      this.#resumed.delete(socket)
    })
  }

  /**
   * Counts work that is not a read: a broadcast written to two hundred clients costs two
   * hundred writes for one message read. Past the budget, every connection stops reading.
   */
  charge(bytes: number): void {
    this.#used += bytes
    this.#scheduleTurn()
    if (this.#used >= this.#budget) this.#pauseAll(undefined)
  }

  /** True once this turn's budget is used: work that can wait should wait for `later`. */
  get exhausted(): boolean {
    return this.#used >= this.#budget
  }

  /** Runs `fn` at the start of a later turn, once the budget is fresh. */
  later(fn: () => void): void {
    this.#deferred.push(fn)
    this.#scheduleTurn()
  }

  #onData(socket: TCPSocket, chunk: Buffer): void {
    this.#resumed.delete(socket)
    this.#used += chunk.length
    this.#scheduleTurn()
    if (this.#used >= this.#budget) this.#pauseAll(socket)
  }

  /** Everyone stops reading; `current` (just served) goes to the back of the line. */
  #pauseAll(current: TCPSocket | undefined): void {
    // Resumed this turn but not served yet: they keep their place at the front.
    const next = new Set<TCPSocket>([...this.#resumed, ...this.#waiting])
    this.#resumed.clear()
    for (const socket of this.#sockets) {
      if (socket === current || next.has(socket)) continue
      if (socket.isPaused() || socket.destroyed) continue // paused by someone else: theirs to resume
      socket.pause()
      next.add(socket)
    }
    if (current && !current.isPaused() && !current.destroyed) {
      current.pause()
      next.add(current)
    }
    for (const socket of next) socket.pause()
    this.#waiting = next
  }

  #scheduleTurn(): void {
    if (this.#turnScheduled) return
    this.#turnScheduled = true
    setImmediate(this.#turn)
  }

  readonly #turn = (): void => {
    this.#turnScheduled = false
    this.#used = 0
    // Work held back from earlier turns goes first, as much as the budget allows.
    const deferred = this.#deferred
    this.#deferred = []
    let done = 0
    while (done < deferred.length && !this.exhausted) (deferred[done++] as () => void)()
    if (done < deferred.length) {
      this.#deferred = [...deferred.slice(done), ...this.#deferred]
      this.#scheduleTurn()
    }
    if (this.exhausted) return
    const waiting = this.#waiting
    this.#waiting = new Set()
    for (const socket of waiting) {
      // One waiting for 'drain' was paused for backpressure too; its codec resumes it.
      if (socket.destroyed || socket.writableNeedDrain) continue
      this.#resumed.add(socket)
      socket.resume()
    }
  }
}
