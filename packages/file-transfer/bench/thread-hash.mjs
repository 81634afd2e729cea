// SHA-256 computed on a worker thread, for the `rawworker` implementation: the I/O thread only
// copies each chunk into a 1 MiB batch (a memcpy costs a tenth of hashing it) and transfers the
// batch to the worker, which hashes it and hands the memory back for reuse.
import { Worker } from 'node:worker_threads'

const SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const hash = createHash('sha256')
parentPort.on('message', (m) => {
  if (m === 'digest') return parentPort.postMessage(hash.digest('hex'))
  hash.update(new Uint8Array(m.buffer, 0, m.length))
  parentPort.postMessage(m.buffer, [m.buffer])
})
`
const BATCH = 1024 * 1024

export function threadHash() {
  const worker = new Worker(SOURCE, { eval: true })
  const free = []
  let batch
  let used = 0
  let onDigest
  worker.on('message', (m) => {
    if (typeof m === 'string') onDigest(m)
    else free.push(m)
  })
  const post = () => {
    worker.postMessage({ buffer: batch, length: used }, [batch])
    batch = undefined
    used = 0
  }
  return {
    update(chunk) {
      for (let at = 0; at < chunk.length; ) {
        batch ??= free.pop() ?? new ArrayBuffer(BATCH)
        const n = Math.min(chunk.length - at, BATCH - used)
        new Uint8Array(batch, used, n).set(chunk.subarray(at, at + n))
        used += n
        at += n
        if (used === BATCH) post()
      }
    },
    digest() {
      if (used > 0) post()
      const digest = new Promise((resolve) => {
        onDigest = resolve
      })
      worker.postMessage('digest')
      return digest.finally(() => worker.terminate())
    },
  }
}
