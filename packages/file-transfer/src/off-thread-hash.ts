import { Worker } from 'node:worker_threads'

/** A streaming SHA-256 whose work happens on a worker thread, off the I/O path. */
export interface StreamingHash {
  update(data: Uint8Array): void
  /** The hex digest of everything given to `update`. Call once. */
  digest(): Promise<string>
  /** Forgets the state without a digest (a failed or detached transfer). */
  drop(): void
}

// CommonJS source for the worker, evaluated in place: nothing extra to ship or resolve.
const SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const hashes = new Map()
parentPort.on('message', (m) => {
  if (m.op === 'update') {
    let h = hashes.get(m.id)
    if (!h) hashes.set(m.id, (h = createHash('sha256')))
    h.update(new Uint8Array(m.buffer))
  } else if (m.op === 'digest') {
    const h = hashes.get(m.id) ?? createHash('sha256')
    hashes.delete(m.id)
    parentPort.postMessage({ id: m.id, hex: h.digest('hex') })
  } else if (m.op === 'drop') {
    hashes.delete(m.id)
  }
})
`

let worker: Worker | undefined
let nextId = 1
const waiting = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>()

function shared(): Worker {
  if (worker) return worker
  const w = new Worker(SOURCE, { eval: true })
  // Only a pending digest keeps the process alive, and then a socket does too.
  w.unref()
  w.on('message', (m: { id: number; hex: string }) => {
    waiting.get(m.id)?.resolve(m.hex)
    waiting.delete(m.id)
  })
  const fail = (error: Error) => {
    if (worker === w) worker = undefined
    for (const pending of waiting.values()) pending.reject(error)
    waiting.clear()
  }
  w.on('error', fail)
  w.on('exit', () => fail(new Error('the hashing worker exited')))
  worker = w
  return w
}

/**
 * SHA-256 on a shared worker thread: the caller pays one memcpy per update (the bytes are copied
 * into a buffer that is moved to the worker, since the caller's buffer is still being written or
 * sent), the worker pays the hashing. Updates are hashed in order (one message port).
 */
export function offThreadHash(): StreamingHash {
  const w = shared()
  const id = nextId++
  let done = false
  return {
    update(data) {
      if (data.byteLength === 0) return
      const copy = new Uint8Array(data.byteLength)
      copy.set(data)
      w.postMessage({ op: 'update', id, buffer: copy.buffer }, [copy.buffer])
    },
    drop() {
      if (done) return
      done = true
      w.postMessage({ op: 'drop', id })
    },
    digest() {
      if (done) return Promise.reject(new Error('digest() was already called'))
      done = true
      return new Promise<string>((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        w.ref()
        w.postMessage({ op: 'digest', id })
      }).finally(() => {
        if (waiting.size === 0) worker?.unref()
      })
    },
  }
}
