// One side (sender or receiver) of the throughput benchmark, as a long-lived child process of
// bench/run.mjs. It loads only the implementations it is given (--impl), so a process that
// measures raw TCP or @verb-tcp/mux never has the libp2p modules in its heap, and the same
// driving code below moves the bytes for every implementation. Commands arrive over IPC.
//
//   receiver: listens on one loopback port per implementation, counts the bytes of every stream
//             and, when the sender half-closes, replies with the 8-byte count and closes.
//             'stall' mode: never reads (the 100-stalled-streams memory scenario).
//   sender:   { run: scenario } opens the streams, writes CHUNK-byte buffers, waiting for
//             backpressure, half-closes, and checks the receiver's count.

import { once } from 'node:events'
import net from 'node:net'
import path from 'node:path'

const argv = process.argv.slice(2)
function arg(name, dflt) {
  const i = argv.indexOf(`--${name}`)
  if (i === -1) return dflt
  const v = argv[i + 1]
  return v === undefined || v.startsWith('--') ? true : v
}
const ROLE = String(arg('role', 'receiver'))
const IMPLS = String(arg('impl', 'verb')).split(',')
const CHUNK = Number(arg('chunk', 64 * 1024))
// What the "CPU" figures count: user + system ms (default), one of them, or minor page faults.
const CPU_KIND = String(arg('cpu-kind', 'total'))
const BASE_DIR = arg('base', undefined)

// ------------------------------------------------------------- implementations
const usesLibp2p = IMPLS.some((i) => i === 'yamux' || i === 'mplex')
const usesVerb = IMPLS.some((i) => i.startsWith('verb'))

if (usesLibp2p && typeof Promise.withResolvers !== 'function') {
  // The libp2p peers call Promise.withResolvers, which Node 20 lacks (benchmark only).
  Promise.withResolvers = function withResolvers() {
    let resolve
    let reject
    const promise = new Promise((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}

const verb = usesVerb ? await import('../dist/index.js') : undefined
const verbBase =
  IMPLS.includes('verb-base') && typeof BASE_DIR === 'string'
    ? await import(new URL(`file://${path.resolve(BASE_DIR, 'index.js')}`).href)
    : undefined
const libp2p = usesLibp2p
  ? {
      yamux: (await import('@chainsafe/libp2p-yamux')).yamux,
      mplex: (await import('@libp2p/mplex')).mplex,
      AbstractMultiaddrConnection: (await import('@libp2p/utils')).AbstractMultiaddrConnection,
      defaultLogger: (await import('@libp2p/logger')).defaultLogger,
      multiaddr: (await import('@multiformats/multiaddr')).multiaddr,
    }
  : undefined

// 'verb' is the defaults; 'verb-1m' raises the stream high-water mark and the socket buffer to
// 1 MiB, 'verb-sock1m' only the socket buffer, 'verb-f256' the frame size to 256 KiB on both sides,
// 'verb-bigwin' starts at 16 MiB stream and 64 MiB session windows (no auto-tuning ramp),
// 'verb-maxwin' lets them grow to 64 and 256 MiB (fewer window updates);
// 'verb-base' is another build (--base DIR).
const VERB_OPTIONS = {
  verb: {},
  'verb-1m': { streamHighWaterMark: 1 << 20, maxSocketBuffer: 1 << 20 },
  'verb-sock1m': { maxSocketBuffer: 1 << 20 },
  'verb-f256': { maxFrameSize: 256 * 1024 },
  'verb-bigwin': { initialWindow: 16 << 20, initialSessionWindow: 64 << 20 },
  'verb-maxwin': { maxWindow: 64 << 20, maxSessionWindow: 256 << 20 },
  // Identical to 'verb' under other names: each gets processes of its own, to compare processes.
  'verb-a': {},
  'verb-b': {},
  'verb-base': {},
}

function verbSession(impl, socket, role) {
  const create = impl === 'verb-base' ? verbBase?.createSession : verb?.createSession
  if (create === undefined) throw new Error(`${impl} is not loaded (verb-base needs --base DIR)`)
  return create(socket, { role, keepAliveInterval: 0, ...VERB_OPTIONS[impl] })
}

function makeLibp2p(impl, socket, direction) {
  const { AbstractMultiaddrConnection, defaultLogger, multiaddr, yamux, mplex } = libp2p
  class SocketConnection extends AbstractMultiaddrConnection {
    constructor() {
      super({
        log: defaultLogger().forComponent(`bench:${direction}`),
        direction,
        remoteAddr: multiaddr(`/ip4/127.0.0.1/tcp/${socket.remotePort ?? 0}`),
        inactivityTimeout: 0,
      })
      socket.setNoDelay(true)
      socket.on('data', (buf) => this.onData(buf))
      socket.on('drain', () => this.safeDispatchEvent('drain'))
      socket.on('error', (err) => this.abort(err))
      socket.on('close', () => this.onTransportClosed())
    }
    sendData(data) {
      let ok = true
      socket.cork()
      for (const buf of data) ok = socket.write(buf)
      socket.uncork()
      return { sentBytes: data.byteLength, canSendMore: ok }
    }
    sendReset() {
      socket.resetAndDestroy()
    }
    async sendClose() {
      if (socket.destroyed) return
      socket.end()
      await once(socket, 'close')
    }
    sendPause() {
      socket.pause()
    }
    sendResume() {
      socket.resume()
    }
  }
  const factory =
    impl === 'yamux'
      ? yamux({ maxInboundStreams: 4096, maxOutboundStreams: 4096 })()
      : mplex({
          maxMessageSize: 1 << 20,
          maxUnprocessedMessageQueueSize: 64 << 20,
          disconnectThreshold: 1000,
        })()
  return factory.createStreamMuxer(new SocketConnection())
}

function cpuMs() {
  if (CPU_KIND === 'faults') return process.resourceUsage().minorPageFault
  const u = process.cpuUsage()
  if (CPU_KIND === 'user') return u.user / 1000
  if (CPU_KIND === 'system') return u.system / 1000
  return (u.user + u.system) / 1000
}

function u64be(n) {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return b
}

// -------------------------------------------------------------------- receiver
let stall = false
const live = new Set()
const held = [] // stalled streams and sockets, kept reachable until 'release'

let socketReads = 0
function serve(impl, socket) {
  socket.on('error', () => {})
  socket.on('data', () => {
    socketReads++
  })
  if (impl === 'raw' || impl === 'raw-batched') {
    if (stall) {
      socket.pause()
      held.push(socket)
      return
    }
    let total = 0
    socket.setNoDelay(true)
    socket.on('data', (b) => {
      total += b.length
    })
    socket.on('end', () => socket.end(u64be(total)))
    return
  }
  if (impl.startsWith('verb')) {
    const session = verbSession(impl, socket, 'acceptor')
    live.add(session)
    session.on('close', () => live.delete(session))
    session.on('stream', (stream) => {
      if (stall) {
        held.push(stream) // no reader: flow control must hold the sender back
        return
      }
      let total = 0
      stream.on('data', (c) => {
        total += c.length
      })
      stream.on('end', () => stream.end(u64be(total)))
    })
    return
  }
  const muxer = makeLibp2p(impl, socket, 'inbound')
  muxer.addEventListener('stream', (evt) => {
    const stream = evt.detail
    if (stall) {
      // The libp2p stream's own backpressure switch: stop reading, stop granting credit.
      stream.pause()
      held.push(stream)
      return
    }
    let total = 0
    stream.addEventListener('message', (e) => {
      total += e.data.byteLength
    })
    stream.addEventListener('remoteCloseWrite', () => {
      stream.send(u64be(total))
      stream.close().catch(() => {})
    })
  })
}

async function receiver() {
  const ports = {}
  for (const impl of IMPLS) {
    const server = net.createServer((socket) => serve(impl, socket))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    ports[impl] = server.address().port
  }
  process.on('message', (m) => {
    if (m.cmd === 'cpu') process.send({ cpu: cpuMs(), reads: socketReads })
    else if (m.cmd === 'stall') {
      stall = m.on
      process.send({ ok: true })
    } else if (m.cmd === 'memory') {
      globalThis.gc?.()
      const u = process.memoryUsage()
      let buffered = 0
      for (const s of live) buffered += s.bufferedBytes
      process.send({
        memory: { rss: u.rss, heapUsed: u.heapUsed, arrayBuffers: u.arrayBuffers, buffered },
      })
    } else if (m.cmd === 'release') {
      for (const h of held.splice(0)) {
        if (typeof h.destroy === 'function') h.destroy()
        else h.abort?.(new Error('released'))
      }
      process.send({ ok: true })
    }
  })
  process.send({ ports })
}

// ---------------------------------------------------------------------- sender
const payload = Buffer.alloc(CHUNK)
for (let i = 0; i < payload.length; i++) payload[i] = (i * 2654435761) >>> 24

async function connect(port) {
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.setNoDelay(true)
  return socket
}

function decodeCount(chunks) {
  const b = Buffer.concat(chunks)
  return b.length >= 8 ? Number(b.readBigUInt64BE(b.length - 8)) : -1
}

// The same loop for every implementation: write CHUNK bytes, wait for 'drain' when told to,
// half-close, wait for the receiver's count. Only the names of write/end/drain differ.
async function pump(write, waitDrain, bytes) {
  let left = bytes
  while (left > 0) {
    const n = Math.min(left, CHUNK)
    left -= n
    if (!write(n === CHUNK ? payload : payload.subarray(0, n))) await waitDrain()
  }
}

// 'raw-batched' is raw TCP written the way our session writes its socket: the writes of one
// event-loop turn corked into one writev, and 'drain' awaited only past 256 KiB queued (our
// maxSocketBuffer), instead of after every 64 KiB write that the kernel did not take at once.
const BATCH = 256 * 1024
function batchedWrite(socket) {
  let corked = false
  const uncork = () => {
    corked = false
    socket.uncork()
  }
  return (b) => {
    if (!corked) {
      corked = true
      socket.cork()
      process.nextTick(uncork)
    }
    const ok = socket.write(b)
    return ok || socket.writableLength < BATCH
  }
}

async function sendRaw(port, bytes, batched = false) {
  const socket = await connect(port)
  const replies = []
  socket.on('data', (b) => replies.push(b))
  const closed = once(socket, 'close')
  await pump(
    batched ? batchedWrite(socket) : (b) => socket.write(b),
    () => once(socket, 'drain'),
    bytes,
  )
  socket.end()
  await closed
  return decodeCount(replies)
}

async function sendVerb(stream, bytes) {
  const replies = []
  stream.on('data', (c) => replies.push(c))
  const ended = once(stream, 'end')
  await pump(
    (b) => stream.write(b),
    () => once(stream, 'drain'),
    bytes,
  )
  stream.end()
  await ended
  return decodeCount(replies)
}

async function sendLibp2p(stream, bytes) {
  const replies = []
  stream.addEventListener('message', (e) => replies.push(Buffer.from(e.data.subarray())))
  const closed = once(stream, 'close')
  // the 'drain' event itself: onDrain() in @libp2p/utils 7.4 resolves at once after the first drain
  await pump(
    (b) => stream.send(b),
    () => once(stream, 'drain'),
    bytes,
  )
  await stream.close()
  await closed
  return decodeCount(replies)
}

function check(counts, bytes) {
  for (const got of counts) {
    if (got !== bytes) throw new Error(`receiver counted ${got}, expected ${bytes}`)
  }
}

async function transfer(impl, port, streams, bytes) {
  if (impl === 'raw' || impl === 'raw-batched') {
    const batched = impl === 'raw-batched'
    check(
      await Promise.all(Array.from({ length: streams }, () => sendRaw(port, bytes, batched))),
      bytes,
    )
  } else if (impl.startsWith('verb')) {
    const socket = await connect(port)
    const session = verbSession(impl, socket, 'dialler')
    const ss = Array.from({ length: streams }, () => session.open('bench'))
    check(await Promise.all(ss.map((s) => sendVerb(s, bytes))), bytes)
    await session.close()
  } else {
    const socket = await connect(port)
    const muxer = makeLibp2p(impl, socket, 'outbound')
    const ss = await Promise.all(Array.from({ length: streams }, () => muxer.createStream()))
    check(await Promise.all(ss.map((s) => sendLibp2p(s, bytes))), bytes)
    await muxer.close().catch(() => {})
    socket.destroy()
  }
}

/**
 * 100 streams whose reader never reads: each writes until its writes stop completing (no
 * 'drain' for `quietMs`) or `capBytes` were accepted. Returns the bytes the sender got rid of.
 */
async function stallStreams(impl, port, streams, capBytes, quietMs) {
  let accepted = 0
  const writeUntilStuck = async (write, drain) => {
    let mine = 0
    while (mine < capBytes) {
      const ok = write(payload)
      mine += CHUNK
      accepted += CHUNK
      if (!ok) {
        const timeout = new Promise((r) => setTimeout(() => r('stuck'), quietMs))
        if ((await Promise.race([drain().then(() => 'drained'), timeout])) === 'stuck') return
      }
    }
  }
  const cleanup = []
  if (impl === 'raw' || impl === 'raw-batched') {
    await Promise.all(
      Array.from({ length: streams }, async () => {
        const socket = await connect(port)
        socket.on('error', () => {})
        cleanup.push(() => socket.destroy())
        await writeUntilStuck(
          (b) => socket.write(b),
          () => once(socket, 'drain'),
        )
      }),
    )
  } else if (impl.startsWith('verb')) {
    const socket = await connect(port)
    const session = verbSession(impl, socket, 'dialler')
    cleanup.push(() => session.destroy())
    await Promise.all(
      Array.from({ length: streams }, () => {
        const s = session.open('stall')
        s.on('error', () => {})
        return writeUntilStuck(
          (b) => s.write(b),
          () => once(s, 'drain'),
        )
      }),
    )
  } else {
    const socket = await connect(port)
    socket.on('error', () => {})
    const muxer = makeLibp2p(impl, socket, 'outbound')
    cleanup.push(() => socket.destroy())
    const ss = await Promise.all(Array.from({ length: streams }, () => muxer.createStream()))
    await Promise.all(
      ss.map((s) =>
        writeUntilStuck(
          (b) => {
            try {
              return s.send(b)
            } catch {
              return false
            }
          },
          () => once(s, 'drain'),
        ),
      ),
    )
  }
  return {
    accepted,
    cleanup: () => {
      for (const f of cleanup) f()
    },
  }
}

async function sender() {
  let pendingCleanup
  process.on('message', async (m) => {
    try {
      if (m.cmd === 'run') {
        const c0 = cpuMs()
        const t0 = process.hrtime.bigint()
        await transfer(m.impl, m.port, m.streams, m.bytes)
        const secs = Number(process.hrtime.bigint() - t0) / 1e9
        process.send({ result: { secs, cpu: cpuMs() - c0 } })
      } else if (m.cmd === 'stall') {
        const { accepted, cleanup } = await stallStreams(
          m.impl,
          m.port,
          m.streams,
          m.capBytes,
          m.quietMs,
        )
        pendingCleanup = cleanup
        process.send({ stalled: { accepted } })
      } else if (m.cmd === 'unstall') {
        pendingCleanup?.()
        pendingCleanup = undefined
        process.send({ ok: true })
      } else if (m.cmd === 'cpu') {
        process.send({ cpu: cpuMs() })
      }
    } catch (err) {
      process.send({ error: String(err?.stack ?? err) })
    }
  })
  process.send({ ready: true })
}

process.on('disconnect', () => process.exit(0))
if (ROLE === 'receiver') await receiver()
else await sender()
