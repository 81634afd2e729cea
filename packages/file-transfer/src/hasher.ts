import { createHash, type Hash } from 'node:crypto'
import { Worker } from 'node:worker_threads'

/**
 * A SHA-256 that is fed chunk by chunk and read once. `update` resolves when the chunk (one
 * buffer, or the pieces it arrived in, hashed in order) has been hashed (its buffers may then be
 * reused); `digest` after every earlier update.
 */
export interface StreamHash {
  update(data: Uint8Array | readonly Uint8Array[]): Promise<void>
  digest(): Promise<string>
  /** Forgets the state without a digest (a failed or detached transfer). */
  discard(): void
}

/** Bytes of the ring shared with the hashing thread: the most it holds not yet hashed. */
const RING_BYTES = 8 * 1024 * 1024
/** Below this many bytes a transfer is hashed on the calling thread: a round trip costs more. */
export const WORKER_HASH_MIN_BYTES = 4 * 1024 * 1024

const UPDATE = 1
const DIGEST = 2
const DISCARD = 3

// Evaluated, not a file: the same source works from the ESM and the CJS build, with no path to
// resolve. It hashes pieces of the shared ring, in the order they were posted.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const ring = new Uint8Array(workerData)
const hashes = new Map()
parentPort.on('message', ([op, key, seq, start, length]) => {
  let hash = hashes.get(key)
  if (op === ${UPDATE}) {
    if (!hash) hashes.set(key, (hash = createHash('sha256')))
    hash.update(ring.subarray(start, start + length))
    parentPort.postMessage([seq])
  } else {
    hashes.delete(key)
    parentPort.postMessage([seq, op === ${DIGEST} ? (hash ?? createHash('sha256')).digest('hex') : ''])
  }
})
`

interface Pending {
  key: number
  /** Undefined for a digest or a discard. */
  data: readonly Uint8Array[] | undefined
  op: number
  /** The piece of `data` being copied into the ring, and how many of its bytes already are. */
  piece: number
  copied: number
  resolve: (digest: string) => void
  reject: (error: Error) => void
}

/**
 * One thread per process hashes for every transfer, off the I/O thread: chunks are copied into
 * a fixed ring of shared memory (a memcpy costs a tenth of hashing the bytes) and hashed there in
 * order, so the ring's size bounds what waits, and callers see the wait as a promise that settles
 * when their bytes are hashed (receivers count it as queued bytes, senders against their window).
 * The thread is unref'd while nothing waits on it, so it never keeps a process alive.
 */
class HashThread {
  readonly #ring = new SharedArrayBuffer(RING_BYTES)
  readonly #bytes = new Uint8Array(this.#ring)
  readonly #worker: Worker
  /** Not yet (fully) posted, in order. */
  readonly #queue: Pending[] = []
  /** Posted, by sequence number: what to do when the thread answers. */
  readonly #posted = new Map<number, { length: number; done?: Pending }>()
  #head = 0
  #used = 0
  #seq = 0
  #nextKey = 1
  #referenced = false
  #broken: Error | undefined

  constructor() {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: this.#ring })
    this.#worker.unref()
    this.#worker.on('message', ([seq, digest]: [number, string?]) => this.#answer(seq, digest))
    const fail = (error: Error) => {
      this.#broken ??= error
      if (thread === this) thread = undefined
      for (const p of this.#queue) p.reject(error)
      for (const { done } of this.#posted.values()) done?.reject(error)
      this.#queue.length = 0
      this.#posted.clear()
    }
    this.#worker.on('error', fail)
    this.#worker.on('exit', (code) => fail(new Error(`the hashing thread exited (${code})`)))
  }

  open(): StreamHash {
    const key = this.#nextKey++
    return {
      update: (data) =>
        this.#push(key, UPDATE, ArrayBuffer.isView(data) ? [data] : data).then(() => {}),
      digest: () => this.#push(key, DIGEST, undefined),
      discard: () => {
        this.#push(key, DISCARD, undefined).catch(() => {})
      },
    }
  }

  #push(key: number, op: number, data: readonly Uint8Array[] | undefined): Promise<string> {
    if (this.#broken) return Promise.reject(this.#broken)
    return new Promise<string>((resolve, reject) => {
      this.#queue.push({ key, data, op, piece: 0, copied: 0, resolve, reject })
      this.#pump()
    })
  }

  /** Moves queued work into the ring while it has room. */
  #pump(): void {
    const queue = this.#queue
    while (queue.length > 0) {
      const p = queue[0] as Pending
      if (p.data === undefined) {
        const seq = this.#seq++
        this.#posted.set(seq, { length: 0, done: p })
        this.#worker.postMessage([p.op, p.key, seq])
        queue.shift()
        continue
      }
      // Contiguous room: a chunk that meets the ring's end goes in two parts, which the stream
      // hashes as one. The pieces of a chunk are packed one after another: one message for all.
      const start = this.#head
      const room = Math.min(RING_BYTES - this.#used, RING_BYTES - start)
      const pieces = p.data
      let length = 0
      while (p.piece < pieces.length && length < room) {
        const piece = pieces[p.piece] as Uint8Array
        const n = Math.min(piece.byteLength - p.copied, room - length)
        this.#bytes.set(
          n === piece.byteLength ? piece : piece.subarray(p.copied, p.copied + n),
          start + length,
        )
        length += n
        p.copied += n
        if (p.copied === piece.byteLength) {
          p.piece++
          p.copied = 0
        }
      }
      const last = p.piece === pieces.length
      if (length === 0 && !last) break
      const seq = this.#seq++
      this.#posted.set(seq, last ? { length, done: p } : { length })
      this.#worker.postMessage([UPDATE, p.key, seq, start, length])
      this.#head = (start + length) % RING_BYTES
      this.#used += length
      if (last) queue.shift()
    }
    this.#reference()
  }

  #answer(seq: number, digest: string | undefined): void {
    const posted = this.#posted.get(seq)
    if (!posted) return
    this.#posted.delete(seq)
    this.#used -= posted.length
    posted.done?.resolve(digest ?? '')
    this.#pump()
  }

  /** Holds the process open only while someone waits for an answer. */
  #reference(): void {
    const waiting = this.#posted.size > 0 || this.#queue.length > 0
    if (waiting && !this.#referenced) this.#worker.ref()
    else if (!waiting && this.#referenced) this.#worker.unref()
    this.#referenced = waiting
  }
}

let thread: HashThread | undefined

/** A SHA-256 hashed on the calling thread: for small transfers, and for senders. */
export function inlineHash(): StreamHash {
  let hash: Hash | undefined = createHash('sha256')
  return {
    update(data) {
      if (hash === undefined) return Promise.resolve()
      if (ArrayBuffer.isView(data)) hash.update(data)
      else for (const piece of data) hash.update(piece)
      return Promise.resolve()
    },
    digest() {
      const digest = (hash ?? createHash('sha256')).digest('hex')
      hash = undefined
      return Promise.resolve(digest)
    },
    discard() {
      hash = undefined
    },
  }
}

/**
 * A new SHA-256 stream. Transfers of `WORKER_HASH_MIN_BYTES` or more are hashed on the shared
 * hashing thread (started on first use); smaller ones, or any when threads cannot start, on
 * the calling thread.
 */
export function openHash(expectedBytes: number): StreamHash {
  if (expectedBytes < WORKER_HASH_MIN_BYTES) return inlineHash()
  try {
    thread ??= new HashThread()
    return thread.open()
  } catch {
    return inlineHash()
  }
}
