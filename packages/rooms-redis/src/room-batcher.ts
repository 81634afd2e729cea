import { encodeRoomEnvelope, type RoomRecord } from './envelope.ts'

/** Above this many bytes of records waiting for the end of the turn, a room's batch goes out at once. */
const FLUSH_BYTES = 256 * 1024

/** What the batcher needs of its adapter. */
export interface RoomBatcherLink {
  /** Whether an envelope can go out now (false: its records are dropped). */
  canSend(): boolean
  /** This node's envelope header. */
  readonly header: Buffer
  /** Publishes a room's envelope of `records` records; rejects (already reported) on failure. */
  publish(room: string, envelope: Buffer, records: number): Promise<unknown>
  /** Records that never reached Redis (lost: at most once). */
  dropped(records: number): void
  report(error: Error): void
}

/**
 * Gathers each room's records (messages, joins, leaves) into one envelope per turn. While an
 * envelope is unanswered by Redis, new records wait and go out together when the last answer
 * comes: under load a node sends one PUBLISH per room per round trip instead of one per turn,
 * so every node gets fewer, larger envelopes (fewer turns, fewer writes to its members); when
 * idle, a broadcast still goes out at the end of its turn.
 */
export class RoomBatcher {
  readonly #link: RoomBatcherLink
  readonly #batches = new Map<string, { records: RoomRecord[]; bytes: number }>()
  #flushScheduled = false
  #unanswered = 0
  /** Bumped when the publish connection closes: answers from before it no longer hold anything back. */
  #publishEpoch = 0

  constructor(link: RoomBatcherLink) {
    this.#link = link
  }

  /** Queues a record for its room's envelope. */
  add(room: string, record: RoomRecord): void {
    let batch = this.#batches.get(room)
    if (batch === undefined) {
      batch = { records: [], bytes: 0 }
      this.#batches.set(room, batch)
    }
    batch.records.push(record)
    batch.bytes += record.payload.length
    if (batch.bytes >= FLUSH_BYTES) {
      this.#batches.delete(room)
      this.#send(room, batch.records)
    }
    if (this.#unanswered === 0) this.#scheduleFlush()
  }

  /** Sends every waiting batch now, whatever is still unanswered. */
  flush(): void {
    this.#flushScheduled = false
    if (this.#batches.size === 0) return
    const batches = [...this.#batches]
    this.#batches.clear()
    for (const [room, batch] of batches) this.#send(room, batch.records)
  }

  /** Publishes lost with the connection may never be answered: they must not hold the next ones. */
  connectionClosed(): void {
    this.#publishEpoch++
    this.#unanswered = 0
    if (this.#batches.size > 0) this.#scheduleFlush()
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    setImmediate(() => this.flush())
  }

  #send(room: string, records: RoomRecord[]): void {
    const link = this.#link
    if (!link.canSend()) {
      link.dropped(records.length)
      return
    }
    let envelope: Buffer
    try {
      envelope = encodeRoomEnvelope(link.header, room, records)
    } catch (error) {
      link.dropped(records.length)
      link.report(error as Error)
      return
    }
    const epoch = this.#publishEpoch
    this.#unanswered++
    const answered = () => {
      if (epoch !== this.#publishEpoch) return
      this.#unanswered--
      if (this.#unanswered === 0 && this.#batches.size > 0) this.#scheduleFlush()
    }
    link.publish(room, envelope, records.length).then(answered, () => {
      link.dropped(records.length)
      answered()
    })
  }
}
