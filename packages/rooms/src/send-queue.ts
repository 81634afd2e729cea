import type { TCPSocket } from '@verb-tcp/core'

/** What the queue keeps on each member: this turn's messages, written at the end of the turn. */
export interface QueuedMember {
  readonly socket: TCPSocket
  pending: Uint8Array | Uint8Array[] | undefined
  pendingBytes: number
  /** The socket's `writableLength` when this turn's first message was queued. */
  socketBuffered: number
}

/**
 * One socket write per member per event-loop turn, and a cap on what a member that stops
 * reading may hold: a message that would take a member's unsent bytes (in the socket and in
 * this turn's queue) past `maxBufferedBytes` is not queued, and `onSlow` decides its fate.
 */
export class SendQueue<M extends QueuedMember> {
  readonly #maxBufferedBytes: number
  readonly #onSlow: (member: M, buffered: number) => void
  /** Members with messages waiting for the end of this turn. */
  #dirty: M[] = []
  #flushScheduled = false

  constructor(maxBufferedBytes: number, onSlow: (member: M, buffered: number) => void) {
    this.#maxBufferedBytes = maxBufferedBytes
    this.#onSlow = onSlow
  }

  /** Queues `bytes` for `member`; `false` when its socket is gone or it is over the cap. */
  enqueue(member: M, bytes: Uint8Array): boolean {
    const pending = member.pending
    const size = bytes.byteLength
    if (pending === undefined) {
      // The socket's state is read once per member per turn: nothing else writes to it before
      // the flush (a destroy in between is checked there).
      const socket = member.socket
      if (socket.destroyed || !socket.writable) return false
      const buffered = socket.writableLength
      if (buffered + size > this.#maxBufferedBytes) {
        this.#onSlow(member, buffered)
        return false
      }
      member.socketBuffered = buffered
      member.pending = bytes
      member.pendingBytes = size
      this.#dirty.push(member)
      if (!this.#flushScheduled) {
        this.#flushScheduled = true
        setImmediate(this.#flushNow)
      }
    } else {
      const buffered = member.socketBuffered + member.pendingBytes
      if (buffered + size > this.#maxBufferedBytes) {
        this.#onSlow(member, buffered)
        return false
      }
      if (Array.isArray(pending)) pending.push(bytes)
      else member.pending = [pending, bytes]
      member.pendingBytes += size
    }
    return true
  }

  /** Forgets what `member` has queued this turn (it is being closed). */
  discard(member: M): void {
    member.pending = undefined
    member.pendingBytes = 0
  }

  /** Writes every member's queued messages now. */
  flush(): void {
    const dirty = this.#dirty
    if (dirty.length === 0) return
    this.#dirty = []
    for (const member of dirty) {
      const pending = member.pending
      member.pending = undefined
      member.pendingBytes = 0
      if (pending === undefined || member.socket.destroyed) continue
      member.socket.write(Array.isArray(pending) ? Buffer.concat(pending) : pending)
    }
  }

  readonly #flushNow = (): void => {
    this.#flushScheduled = false
    this.flush()
  }
}
