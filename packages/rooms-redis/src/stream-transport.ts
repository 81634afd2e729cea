import { randomBytes } from 'node:crypto'
import type { Connection } from './connections.ts'
import { Dedupe } from './dedupe.ts'
import { Outbox } from './outbox.ts'
import type { RedisAdapterStats } from './types.ts'

/** How many senders the dedupe window remembers (node ids; a restarted node has a new one). */
export const DEDUPE_SENDERS = 10_000
/** Entries one XREAD returns at most. */
const READ_COUNT = 1000
/** How long the reader waits before reading again after Redis refused a read, in ms. */
const RETRY_MS = 1000
/** How long one XREAD blocks on a quiet stream before it is issued again, in ms. */
const BLOCK_MS = 5000

/** What the stream transport needs of its adapter. */
export interface StreamLink {
  /** Writes the entries (XADD); commands in flight on it are not resent by ioredis. */
  readonly writer: Connection
  /** Blocks in XREAD; commands in flight on it are not resent by ioredis. */
  readonly reader: Connection
  /** The stream of every room envelope of the cluster. */
  readonly stream: string
  /** A random token set once per stream's life: another token means Redis lost the stream. */
  readonly generation: string
  readonly nodeId: string
  /** XADD's approximate MAXLEN. */
  readonly maxLen: number
  readonly maxBytes: number
  readonly maxAgeMs: number
  readonly stats: Pick<
    RedisAdapterStats,
    'published' | 'dropped' | 'resent' | 'duplicates' | 'missed' | 'streamResets' | 'malformed'
  >
  /** An envelope of another node, read from the stream for the first time. */
  deliver(envelope: Buffer): void
  /** The reader is positioned (or no longer is): connection state may have changed. */
  changed(): void
  lost(error: Error): void
}

export type Entry = [id: Buffer, fields: Buffer[]]

/**
 * Durable mode's transport: every room envelope goes through one Redis stream. Each node writes
 * its envelopes with XADD in sequence order from a bounded outbox, and reads the stream with a
 * blocking XREAD from the last id it saw, on a connection of its own. Resends (after a
 * reconnect, or when Redis lost the stream) are dropped by the receivers' dedupe window.
 */
export class StreamTransport {
  readonly #link: StreamLink
  readonly #outbox: Outbox
  readonly #dedupe = new Dedupe(DEDUPE_SENDERS)
  #closed = false
  /** Bumped when the writer's connection changes: answers from before it are ignored. */
  #writeEpoch = 0
  #writing = false
  /** The stream generation the writer and the reader last saw. */
  #writerGeneration: string | undefined
  #readerGeneration: string | undefined
  /** Bumped when the reader's connection changes: a read loop from before it stops. */
  #readEpoch = 0
  #positioned = false
  #lastId = '0-0'
  /** Woken when entries are acknowledged or read, and when a connection drops. */
  readonly #waiters = new Set<() => void>()

  constructor(link: StreamLink) {
    this.#link = link
    this.#outbox = new Outbox({
      maxBytes: link.maxBytes,
      maxAgeMs: link.maxAgeMs,
      dropped: (_entries, records) => {
        link.stats.dropped += records
      },
    })
  }

  /** The reader knows where to read from, and the writer is sending. */
  get up(): boolean {
    return this.#positioned && this.#writing
  }

  /** Envelopes not yet acknowledged by Redis. */
  get unacked(): number {
    return this.#outbox.unacked
  }

  /** Queues an envelope for the stream; it is written now if Redis is there, later otherwise. */
  send(envelope: Buffer, records: number): void {
    this.#outbox.push(envelope, records)
    this.#write()
  }

  // -- writer --------------------------------------------------------------------------------

  /** The writer's connection is (again) ready: find out whether Redis kept the stream, then write. */
  writerReady(): void {
    const epoch = ++this.#writeEpoch
    this.#writing = false
    generation(this.#link.writer, this.#link.generation).then(
      (token) => {
        if (epoch !== this.#writeEpoch || this.#closed) return
        const lostStream = this.#writerGeneration !== undefined && token !== this.#writerGeneration
        this.#writerGeneration = token
        this.#link.stats.resent += this.#outbox.rewind(lostStream)
        this.#writing = true
        this.#write()
        this.#link.changed()
      },
      (error: Error) => {
        if (epoch === this.#writeEpoch) this.#link.lost(error)
      },
    )
  }

  /** The writer's connection dropped: what it had in flight is written again after a reconnect. */
  writerClosed(): void {
    this.#writeEpoch++
    this.#writing = false
    this.#outbox.rewind(false)
    this.#wake()
  }

  /** After a command failed on a live connection (refused by Redis): try again. */
  retry(): void {
    if (!this.#writing && this.#link.writer.status === 'ready' && !this.#closed) this.writerReady()
  }

  #write(): void {
    if (!this.#writing) return
    const link = this.#link
    const epoch = this.#writeEpoch
    for (const entry of this.#outbox.take()) {
      entry.written = true
      const seq = String(entry.seq)
      link.writer
        .xadd(
          link.stream,
          'MAXLEN',
          '~',
          link.maxLen,
          '*',
          'n',
          link.nodeId,
          's',
          seq,
          'e',
          entry.envelope,
        )
        .then(
          () => {
            if (epoch !== this.#writeEpoch) return
            link.stats.published++
            this.#outbox.acked(entry.seq)
            this.#wake()
          },
          (error: Error) => {
            if (epoch !== this.#writeEpoch) return
            // Refused (or the connection went): write again from the first unacknowledged one
            // once the connection is ready again, or at the next `retry()`.
            this.#writeEpoch++
            this.#writing = false
            this.#outbox.rewind(false)
            this.#wake()
            link.lost(error)
          },
        )
    }
  }

  // -- reader --------------------------------------------------------------------------------

  /** The reader's connection is (again) ready: position the reader and start reading. */
  readerReady(): void {
    const epoch = ++this.#readEpoch
    this.#positioned = false
    void this.#read(epoch)
  }

  readerClosed(): void {
    this.#readEpoch++
    this.#positioned = false
    this.#wake()
  }

  async #read(epoch: number): Promise<void> {
    const link = this.#link
    const reader = link.reader
    try {
      const token = await generation(reader, link.generation)
      if (epoch !== this.#readEpoch || this.#closed) return
      if (this.#readerGeneration === undefined) {
        // First start: from the end of the stream as it is now.
        const last = (await reader.xrevrange(
          link.stream,
          '+',
          '-',
          'COUNT',
          1,
        )) as unknown as Entry[]
        if (epoch !== this.#readEpoch || this.#closed) return
        this.#lastId = last[0] ? String(last[0][0]) : '0-0'
      } else if (token !== this.#readerGeneration) {
        // Redis lost the stream (restarted empty): everything in the new one is new here.
        this.#lastId = '0-0'
        link.stats.streamResets++
      }
      this.#readerGeneration = token
      this.#positioned = true
      link.changed()
      for (;;) {
        const reply = (await reader.callBuffer(
          'XREAD',
          'COUNT',
          READ_COUNT,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          link.stream,
          this.#lastId,
        )) as unknown[] | null
        if (epoch !== this.#readEpoch || this.#closed) return
        for (const entry of streamEntries(reply)) this.#receive(entry)
        this.#wake()
      }
    } catch (error) {
      if (epoch !== this.#readEpoch || this.#closed) return
      this.#positioned = false
      this.#wake()
      link.lost(error as Error)
      // Refused on a live connection: read again a little later (a closed connection starts
      // the reader again when it is ready).
      if (reader.status === 'ready') {
        setTimeout(() => {
          if (epoch === this.#readEpoch && !this.#closed) this.readerReady()
        }, RETRY_MS).unref()
      }
    }
  }

  #receive([id, fields]: Entry): void {
    this.#lastId = String(id)
    const link = this.#link
    let node: string | undefined
    let seq = Number.NaN
    let envelope: Buffer | undefined
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = String(fields[i])
      const value = fields[i + 1] as Buffer
      if (name === 'n') node = String(value)
      else if (name === 's') seq = Number(String(value))
      else if (name === 'e') envelope = value
    }
    if (node === link.nodeId) return
    if (node === undefined || envelope === undefined || !Number.isSafeInteger(seq) || seq < 1) {
      link.stats.malformed++
      return
    }
    const verdict = this.#dedupe.check(node, seq)
    if (verdict.duplicate) {
      link.stats.duplicates++
      return
    }
    link.stats.missed += verdict.missed
    link.deliver(envelope)
  }

  // -- settling and closing ------------------------------------------------------------------

  /**
   * Resolves when every envelope queued so far is acknowledged by Redis and this node has read
   * the stream up to where it ended when asked, or as soon as either connection is down. Never
   * rejects.
   */
  async settled(): Promise<void> {
    for (let i = 0; i < 1000 && this.#writing && this.#outbox.unacked > 0; i++) await this.#next()
    if (!this.#positioned || this.#closed) return
    let end: string | undefined
    try {
      const last = (await this.#link.writer.xrevrange(
        this.#link.stream,
        '+',
        '-',
        'COUNT',
        1,
      )) as unknown as Entry[]
      end = last[0] ? String(last[0][0]) : undefined
    } catch {
      return
    }
    if (end === undefined) return
    const target = end
    for (let i = 0; i < 1000 && this.#positioned && compareIds(this.#lastId, target) < 0; i++) {
      await this.#next()
    }
  }

  close(): void {
    this.#closed = true
    this.#readEpoch++
    this.#writeEpoch++
    this.#writing = false
    this.#positioned = false
    this.#wake()
  }

  #next(): Promise<void> {
    return new Promise((resolve) => this.#waiters.add(resolve))
  }

  #wake(): void {
    const waiters = [...this.#waiters]
    this.#waiters.clear()
    for (const wake of waiters) wake()
  }
}

/**
 * The stream's generation token, set by the first node to ask after Redis started (empty): the
 * same token as before means the stream (and what was acknowledged in it) is still there.
 */
async function generation(redis: Connection, key: string): Promise<string> {
  const mine = randomBytes(8).toString('hex')
  const before = (await redis.call('SET', key, mine, 'NX', 'GET')) as string | null
  return before === null ? mine : String(before)
}

/**
 * The entries of a one-stream XREAD reply: `[[key, entries]]` in RESP2, `[key, entries]` (a map,
 * flattened) in RESP3; `null` when the block timed out.
 */
export function streamEntries(reply: unknown[] | null): Entry[] {
  if (reply === null || reply.length === 0) return []
  const first = reply[0]
  const entries = Array.isArray(first) ? first[1] : reply[1]
  return Array.isArray(entries) ? (entries as Entry[]) : []
}

/** Orders two stream ids (`<ms>-<seq>`). */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number)
  const [bm = 0, bs = 0] = b.split('-').map(Number)
  if (am !== bm) return am < bm ? -1 : 1
  return as === bs ? 0 : as < bs ? -1 : 1
}
