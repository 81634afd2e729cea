// One sending implementation in a process of its own (forked by run.mjs). Sends the file to
// the receiver on `port` and reports the time from connecting to the receiver's "on disk".

import { once } from 'node:events'
import { createReadStream, promises as fs } from 'node:fs'
import { request } from 'node:http'
import net from 'node:net'
import { basename } from 'node:path'
import { performance } from 'node:perf_hooks'

const [impl, portText, path] = process.argv.slice(2)
// Loaded before the clock starts.
const { sendFile } = await import('../dist/index.js')
const { MessageHandler } = await import('@verb-tcp/json-frames')
// rawworker's hashing thread starts before the clock, as a long-lived server's would have.
const preparedHash =
  impl === 'rawworker' ? (await import('./thread-hash.mjs')).threadHash() : undefined
const port = Number(portText)
const { size } = await fs.stat(path)

async function connect() {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return socket
}

async function raw() {
  const socket = await connect()
  const done = new Promise((resolve) => socket.once('data', resolve))
  createReadStream(path, { highWaterMark: 1024 * 1024 }).pipe(socket)
  await done
  socket.destroy()
}

/** The raw pipe, hashing what it reads; the receiver answers with its digest and closes. */
async function hashedPipe(hash, digestHex) {
  const socket = await connect()
  const theirs = new Promise((resolve) => {
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (s) => {
      text += s
    })
    socket.on('end', () => resolve(text))
  })
  const input = createReadStream(path, { highWaterMark: 1024 * 1024 })
  input.on('data', (chunk) => hash.update(chunk))
  input.pipe(socket)
  const [digest, ours] = await Promise.all([theirs, once(input, 'end').then(digestHex)])
  if (digest !== ours) throw new Error('digest mismatch')
  socket.destroy()
}

async function rawsha() {
  const { createHash } = await import('node:crypto')
  const hash = createHash('sha256')
  await hashedPipe(hash, () => hash.digest('hex'))
}

/** rawsha with both hashes on worker threads. */
async function rawworker() {
  await hashedPipe(preparedHash, () => preparedHash.digest())
}

async function fast() {
  const socket = await connect()
  const t0 = performance.now()
  let tStart = 0
  let tAll = 0
  const done = await sendFile(socket, path, {
    name: `fast-${process.pid}.bin`,
    ...(impl === 'fast2m' && { chunkBytes: 2 * 1024 * 1024 }),
    ...(impl === 'fast4m' && { chunkBytes: 4 * 1024 * 1024, windowBytes: 32 * 1024 * 1024 }),
    ...(process.env.FT_CHUNK && { chunkBytes: Number(process.env.FT_CHUNK) }),
    ...(process.env.FT_WINDOW && { windowBytes: Number(process.env.FT_WINDOW) }),
    progressIntervalMs: 0,
    onStart: () => {
      tStart = performance.now()
    },
    onProgress: (p) => {
      if (p.bytes === p.total) tAll = performance.now()
    },
  })
  if (process.env.FT_TIMELINE) {
    const t = performance.now()
    console.error(
      `ready ${(tStart - t0).toFixed(0)} ms, data ${(tAll - tStart).toFixed(0)} ms, end ${(t - tAll).toFixed(0)} ms`,
    )
  }
  if (done.size !== size) throw new Error('short')
  socket.destroy()
}

/** A client as the docs describe it: 256 KiB base64 chunks, up to 32 unacknowledged. */
async function base64() {
  const socket = await connect()
  const messages = new MessageHandler(socket)
  const chunkSize = 256 * 1024
  const transferId = `b64-${process.pid}`
  let acked = 0
  let wake
  const finished = new Promise((resolve) => {
    messages.on('message', (m) => {
      if (m.type === 'file_chunk_ack') {
        acked++
        wake?.()
      } else if (m.type === 'file_complete') resolve(m)
      else if (m.type === 'error') {
        console.error(m)
        process.exit(1)
      }
    })
  })
  finished.catch(() => {})
  messages.sendMessage({
    type: 'file_start',
    transferId,
    filename: `${transferId}.bin`,
    fileSize: size,
    chunkSize,
  })
  const file = await fs.open(path)
  let index = 0
  for (let at = 0; at < size; at += chunkSize) {
    const buffer = Buffer.allocUnsafe(Math.min(chunkSize, size - at))
    await file.read(buffer, 0, buffer.length, at)
    messages.sendMessage({
      type: 'file_chunk',
      transferId,
      chunkIndex: index++,
      data: buffer.toString('base64'),
    })
    while (index - acked >= 32 || socket.writableNeedDrain) {
      await new Promise((resolve) => {
        wake = resolve
        if (socket.writableNeedDrain) socket.once('drain', resolve)
      })
    }
  }
  await file.close()
  messages.sendMessage({ type: 'file_end', transferId })
  const complete = await finished
  if (complete.receivedBytes !== size) throw new Error('short')
  socket.destroy()
}

/** tus 1.0: POST (creation) then one PATCH with the whole file, no checksum. */
async function tus() {
  const agent = undefined
  const location = await new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/files',
        agent,
        headers: {
          'Tus-Resumable': '1.0.0',
          'Upload-Length': String(size),
          'Upload-Metadata': `filename ${Buffer.from(basename(path)).toString('base64')}`,
        },
      },
      (res) => {
        res.resume()
        if (res.statusCode !== 201) reject(new Error(`POST ${res.statusCode}`))
        else resolve(res.headers.location)
      },
    )
    req.on('error', reject)
    req.end()
  })
  const url = new URL(location, `http://127.0.0.1:${port}`)
  await new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'PATCH',
        path: url.pathname,
        headers: {
          'Tus-Resumable': '1.0.0',
          'Upload-Offset': '0',
          'Content-Type': 'application/offset+octet-stream',
          'Content-Length': String(size),
        },
      },
      (res) => {
        res.resume()
        if (res.statusCode !== 204) reject(new Error(`PATCH ${res.statusCode}`))
        else if (Number(res.headers['upload-offset']) !== size) reject(new Error('short'))
        else resolve()
      },
    )
    req.on('error', reject)
    createReadStream(path, { highWaterMark: 1024 * 1024 }).pipe(req)
  })
}

const run = {
  raw,
  rawsha,
  rawworker,
  fast,
  fastjoin: fast,
  fastbuffered: fast,
  fast2m: fast,
  fast4m: fast,
  base64,
  tus,
}[impl]
const cpu = process.cpuUsage()
const faults = process.resourceUsage().minorPageFault
const began = performance.now()
await run()
const ms = performance.now() - began
const used = process.cpuUsage(cpu)
const faulted = process.resourceUsage().minorPageFault - faults
process.send(
  { ms, cpuMs: (used.user + used.system) / 1000, sysMs: used.system / 1000, senderFaults: faulted },
  () => process.exit(0),
)
