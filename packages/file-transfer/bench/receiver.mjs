// One receiving implementation in a process of its own (forked by run.mjs). Listens on
// loopback, tells the parent its port, and reports its peak RSS when asked.
import { createWriteStream, mkdirSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import net from 'node:net'
import { join } from 'node:path'

const [impl, dir] = process.argv.slice(2)
mkdirSync(dir, { recursive: true })
let close = () => {}
let readyUserMs = 0
let readySysMs = 0
let readyFaults = 0
// The harness gone (it failed): stop serving rather than linger.
process.on('disconnect', () => process.exit(1))
process.on('message', (message) => {
  if (message === 'go') {
    const usage = process.resourceUsage()
    readyUserMs = usage.userCPUTime / 1000
    readySysMs = usage.systemCPUTime / 1000
    readyFaults = usage.minorPageFault
  }
})

if (impl === 'raw') {
  // Half-open: the sender ends its side when the file is sent, and still reads our "k".
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const out = createWriteStream(join(dir, 'raw.bin'))
    socket.pipe(out)
    out.on('close', () => socket.end('k'))
  })
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
  close = () => server.close()
} else if (impl === 'rawsha') {
  // The raw pipe plus SHA-256 on the I/O thread, its digest sent back for the sender to compare:
  // what end-to-end verification costs when nothing overlaps it.
  const { createHash } = await import('node:crypto')
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const out = createWriteStream(join(dir, 'rawsha.bin'))
    const hash = createHash('sha256')
    socket.on('data', (chunk) => hash.update(chunk))
    socket.pipe(out)
    out.on('close', () => socket.end(hash.digest('hex')))
  })
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
  close = () => server.close()
} else if (impl === 'rawworker') {
  // rawsha with the hash on a worker thread on both ends (the sender's too).
  const { threadHash } = await import('./thread-hash.mjs')
  // Started before the clock, as a long-lived server's would have been.
  const hash = threadHash()
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const out = createWriteStream(join(dir, 'rawworker.bin'))
    socket.on('data', (chunk) => hash.update(chunk))
    socket.pipe(out)
    out.on('close', async () => socket.end(await hash.digest()))
  })
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
  close = () => server.close()
} else if (['fast', 'fastbuffered', 'fast2m', 'fast4m', 'fastjoin', 'base64'].includes(impl)) {
  const { FileReceiver, LocalDirectoryStorage, receiveFiles, TCPFileTransferServer } = await import(
    '../dist/index.js'
  )
  const { BinaryProtocolHandler } = await import('@verb-tcp/binary-frames')
  const receiver = new FileReceiver(dir, {
    minFreeBytes: 0,
    maxFileBytes: 2 ** 40,
    // fastbuffered: every write through the page cache (the default before direct writes).
    ...(impl === 'fastbuffered' && {
      storage: new LocalDirectoryStorage(dir, { directWrites: false }),
    }),
  })
  const files = new TCPFileTransferServer(dir, { receiver })
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    if (impl.startsWith('fast') && impl !== 'fastjoin') receiveFiles(socket, receiver)
    else if (impl === 'fastjoin') {
      // The fast path with each chunk joined from the socket reads it arrived in (binary-frames
      // without slices; the default until slices measured faster), for A/B.
      const handler = new BinaryProtocolHandler(socket, {
        maxFrameBytes: 4 * 1024 * 1024 + 28,
      })
      receiveFiles(handler, receiver)
    } else files.attach(socket)
  })
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
  close = () => server.close()
} else if (impl === 'tus') {
  const { Server } = await import('@tus/server')
  const { FileStore } = await import('@tus/file-store')
  const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) })
  const server = createHttpServer((req, res) => tus.handle(req, res))
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
  close = () => server.close()
} else {
  throw new Error(`unknown implementation ${impl}`)
}

process.on('message', (message) => {
  if (message === 'rss') {
    const usage = process.resourceUsage()
    process.send({
      maxRssKiB: usage.maxRSS,
      cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000 - readyUserMs - readySysMs,
      sysMs: usage.systemCPUTime / 1000 - readySysMs,
      faults: usage.minorPageFault - readyFaults,
    })
  }
  if (message === 'exit') {
    close()
    process.exit(0)
  }
})
