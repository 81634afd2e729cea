// Throughput of @verb-tcp/mux against @chainsafe/libp2p-yamux, @libp2p/mplex and raw TCP, in the
// same run, over loopback, following ../../../../shared/research/bench-mux-peers.mjs:
//   single: 1 stream sends 256 MiB
//   multi : 100 concurrent streams each send 2 MiB (raw: 100 sockets)
// A run ends when the receiver has counted every byte of every stream, replied with its count
// and both sides have closed. The receiver is a forked child process (its own core); its CPU
// time per GiB and its peak RSS are reported next to MB/s (1 MB = 10^6 bytes).
//
// Each implementation is warmed up, then they are interleaved run by run, so that noise from
// other work on the machine hits all of them alike. No garbage collection is forced between
// runs: a forced full GC made V8 run twice as many mark-compacts in the receiver during the
// next run (external-memory limits start low again), which cost every implementation. Besides the median MB/s of each implementation, the summary gives the median of
// the per-run ratios verb ÷ impl (runs paired by index, taken back to back), which is steadier
// than a ratio of medians, and CPU ms per GiB of both processes, steadier still.
//
// Usage (after `pnpm --filter @verb-tcp/mux build`):
//   node bench/run.mjs [--runs 15] [--warmup 2] [--impl verb,yamux,mplex,raw]
//                      [--scenario single,multi] [--chunk 65536] [--scale 1]
// --scale N multiplies the bytes each stream sends (N = 4: 1 GiB on one stream, 100 × 8 MiB),
// for longer, steadier runs. --base DIR loads a second build of this package (say, a copy of
// dist/ from the previous commit) as implementation 'verb-base', for A/B runs of a change:
//   cp -r dist node_modules/.mux-base && <change, build> &&
//   node bench/run.mjs --impl verb,verb-base,raw --base node_modules/.mux-base
// (inside the package, so that the copy still resolves @verb-tcp/core).

import { fork } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import path from 'node:path'

// The libp2p peers call Promise.withResolvers, which Node 20 lacks.
if (typeof Promise.withResolvers !== 'function') {
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

const { createSession } = await import('../dist/index.js')
const BASE_DIR = process.argv.includes('--base')
  ? process.argv[process.argv.indexOf('--base') + 1]
  : undefined
const createBaseSession = BASE_DIR
  ? (await import(new URL(`file://${path.resolve(BASE_DIR, 'index.js')}`).href)).createSession
  : undefined
const { yamux } = await import('@chainsafe/libp2p-yamux')
const { mplex } = await import('@libp2p/mplex')
const { AbstractMultiaddrConnection } = await import('@libp2p/utils')
const { defaultLogger } = await import('@libp2p/logger')
const { multiaddr } = await import('@multiformats/multiaddr')

const argv = process.argv.slice(2)
function arg(name, dflt) {
  const i = argv.indexOf(`--${name}`)
  if (i === -1) return dflt
  const v = argv[i + 1]
  return v === undefined || v.startsWith('--') ? true : v
}
const RUNS = Number(arg('runs', 15))
const WARMUP = Number(arg('warmup', 2))
const SCALE = Number(arg('scale', 1))
const IMPLS = String(arg('impl', 'verb,yamux,mplex,raw')).split(',')
const SCENARIOS = String(arg('scenario', 'single,multi')).split(',')
const CHUNK = Number(arg('chunk', 64 * 1024))
const IS_SERVER = arg('server', false) === true

// 'verb' is the defaults; 'verb-1m' raises the stream high-water mark and the socket buffer
// the scheduler fills before waiting for 'drain' to 1 MiB, 'verb-sock1m' only the socket
// buffer (pass them with --impl to compare); 'verb-base' is the build given with --base.
const VERB_OPTIONS = {
  verb: { keepAliveInterval: 0 },
  'verb-1m': { keepAliveInterval: 0, streamHighWaterMark: 1 << 20, maxSocketBuffer: 1 << 20 },
  'verb-sock1m': { keepAliveInterval: 0, maxSocketBuffer: 1 << 20 },
  'verb-base': { keepAliveInterval: 0 },
}

function verbSession(impl, socket, role) {
  const create = impl === 'verb-base' ? createBaseSession : createSession
  if (create === undefined) throw new Error('verb-base needs --base DIR')
  return create(socket, { role, ...VERB_OPTIONS[impl] })
}

const SCENARIO_DEFS = {
  single: { streams: 1, bytesPerStream: SCALE * 256 * 1024 * 1024 },
  multi: { streams: 100, bytesPerStream: SCALE * 2 * 1024 * 1024 },
}

// ------------------------------------------------- libp2p muxers on a net.Socket
class SocketConnection extends AbstractMultiaddrConnection {
  constructor(socket, direction) {
    super({
      log: defaultLogger().forComponent(`bench:${direction}`),
      direction,
      remoteAddr: multiaddr(`/ip4/127.0.0.1/tcp/${socket.remotePort ?? 0}`),
      inactivityTimeout: 0,
    })
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('data', (buf) => this.onData(buf))
    socket.on('drain', () => this.safeDispatchEvent('drain'))
    socket.on('error', (err) => this.abort(err))
    socket.on('close', () => this.onTransportClosed())
  }
  sendData(data) {
    let ok = true
    this.socket.cork()
    for (const buf of data) ok = this.socket.write(buf)
    this.socket.uncork()
    return { sentBytes: data.byteLength, canSendMore: ok }
  }
  sendReset() {
    this.socket.resetAndDestroy()
  }
  async sendClose() {
    if (this.socket.destroyed) return
    this.socket.end()
    await once(this.socket, 'close')
  }
  sendPause() {
    this.socket.pause()
  }
  sendResume() {
    this.socket.resume()
  }
}

function makeLibp2p(impl, socket, direction) {
  const conn = new SocketConnection(socket, direction)
  const factory =
    impl === 'yamux'
      ? yamux({ maxInboundStreams: 4096, maxOutboundStreams: 4096 })()
      : mplex({
          maxMessageSize: 1 << 20,
          maxUnprocessedMessageQueueSize: 64 << 20,
          disconnectThreshold: 1000,
        })()
  return factory.createStreamMuxer(conn)
}

// ------------------------------------------------------------------- receiver
function u64be(n) {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return b
}

const liveSessions = new Set()
let peakBuffered = 0

function serveConnection(impl, socket) {
  if (impl === 'raw') {
    let total = 0
    socket.setNoDelay(true)
    socket.on('data', (b) => {
      total += b.length
    })
    socket.on('end', () => socket.end(u64be(total)))
    socket.on('error', () => {})
    return
  }
  if (impl.startsWith('verb')) {
    socket.on('error', () => {})
    const session = verbSession(impl, socket, 'acceptor')
    liveSessions.add(session)
    session.on('close', () => liveSessions.delete(session))
    session.on('stream', (stream) => {
      let total = 0
      stream.on('data', (c) => {
        total += c.length
      })
      stream.on('end', () => stream.end(u64be(total)))
      stream.on('error', () => {})
    })
    return
  }
  const muxer = makeLibp2p(impl, socket, 'inbound')
  muxer.addEventListener('stream', (evt) => {
    const stream = evt.detail
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

async function startServers() {
  const ports = {}
  for (const impl of [...Object.keys(VERB_OPTIONS), 'yamux', 'mplex', 'raw']) {
    const server = net.createServer((socket) => serveConnection(impl, socket))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    ports[impl] = server.address().port
  }
  return ports
}

// --------------------------------------------------------------------- sender
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

async function sendOnLibp2pStream(stream, bytes) {
  const replies = []
  stream.addEventListener('message', (e) => replies.push(Buffer.from(e.data.subarray())))
  const closed = once(stream, 'close')
  let left = bytes
  while (left > 0) {
    const n = Math.min(left, CHUNK)
    left -= n
    // the 'drain' event itself: onDrain() in @libp2p/utils 7.4 resolves at once after the first drain
    if (!stream.send(n === CHUNK ? payload : payload.subarray(0, n))) await once(stream, 'drain')
  }
  await stream.close()
  await closed
  const got = decodeCount(replies)
  if (got !== bytes) throw new Error(`receiver counted ${got}, expected ${bytes}`)
}

async function sendOnVerbStream(stream, bytes) {
  const replies = []
  stream.on('data', (c) => replies.push(c))
  const ended = once(stream, 'end')
  let left = bytes
  while (left > 0) {
    const n = Math.min(left, CHUNK)
    left -= n
    if (!stream.write(n === CHUNK ? payload : payload.subarray(0, n))) await once(stream, 'drain')
  }
  stream.end()
  await ended
  const got = decodeCount(replies)
  if (got !== bytes) throw new Error(`receiver counted ${got}, expected ${bytes}`)
}

async function runRaw(port, bytes) {
  const socket = await connect(port)
  const replies = []
  socket.on('data', (b) => replies.push(b))
  const closed = once(socket, 'close')
  let left = bytes
  while (left > 0) {
    const n = Math.min(left, CHUNK)
    left -= n
    if (!socket.write(n === CHUNK ? payload : payload.subarray(0, n))) await once(socket, 'drain')
  }
  socket.end()
  await closed
  const got = decodeCount(replies)
  if (got !== bytes) throw new Error(`raw receiver counted ${got}, expected ${bytes}`)
}

async function runOnce(ports, impl, scenario) {
  const port = ports[impl]
  const { streams, bytesPerStream } = SCENARIO_DEFS[scenario]
  const t0 = process.hrtime.bigint()
  if (impl === 'raw') {
    await Promise.all(Array.from({ length: streams }, () => runRaw(port, bytesPerStream)))
  } else if (impl.startsWith('verb')) {
    const socket = await connect(port)
    const session = verbSession(impl, socket, 'dialler')
    const ss = Array.from({ length: streams }, () => session.open('bench'))
    await Promise.all(ss.map((s) => sendOnVerbStream(s, bytesPerStream)))
    await session.close()
  } else {
    const socket = await connect(port)
    const muxer = makeLibp2p(impl, socket, 'outbound')
    const ss = await Promise.all(Array.from({ length: streams }, () => muxer.createStream()))
    await Promise.all(ss.map((s) => sendOnLibp2pStream(s, bytesPerStream)))
    await muxer.close().catch(() => {})
    socket.destroy()
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  return { secs, mbps: (streams * bytesPerStream) / secs / 1e6 }
}

function cpuMs() {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

async function ask(child, what) {
  child.send(what)
  for (;;) {
    const [m] = await once(child, 'message')
    if (m && typeof m[what] === 'number') return m[what]
  }
}

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b)
  const at = (s.length - 1) * q
  const lo = Math.floor(at)
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo)
}

function median(xs) {
  return quantile(xs, 0.5)
}

async function main() {
  if (IS_SERVER) {
    // Unread bytes every 5 ms (cheap); RSS every 25 ms (a /proc read: sampled more often it
    // showed up in the receiver's CPU profile).
    let peakRss = 0
    let tick = 0
    const sample = setInterval(() => {
      if (++tick % 5 === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss())
      let buffered = 0
      for (const session of liveSessions) buffered += session.bufferedBytes
      peakBuffered = Math.max(peakBuffered, buffered)
    }, 5)
    sample.unref()
    process.send({ ports: await startServers() })
    process.on('disconnect', () => process.exit(0))
    process.on('message', (m) => {
      if (m === 'exit') process.exit(0)
      if (m === 'cpu') process.send({ cpu: cpuMs() })
      if (m === 'buffered') {
        process.send({ buffered: peakBuffered })
        peakBuffered = 0
      }
      if (m === 'rss') {
        const now = process.memoryUsage.rss()
        process.send({ rss: Math.max(peakRss, now) })
        peakRss = now
      }
    })
    return
  }
  const child = fork(process.argv[1], [...argv, '--server'], { stdio: 'inherit' })
  const [{ ports }] = await once(child, 'message')
  console.log(
    `node ${process.version}, receiver in child process, write chunk ${CHUNK} B, ` +
      `${RUNS} runs after ${WARMUP} warm-up, scale ${SCALE}`,
  )
  const results = []
  for (const scenario of SCENARIOS) {
    for (const impl of IMPLS) for (let i = 0; i < WARMUP; i++) await runOnce(ports, impl, scenario)
    const byImpl = new Map(IMPLS.map((impl) => [impl, []]))
    for (let i = 0; i < RUNS; i++) {
      // Round i starts with a different implementation each time, so none always follows the
      // same one.
      const order = IMPLS.map((_, k) => IMPLS[(i + k) % IMPLS.length])
      for (const impl of order) {
        const runs = byImpl.get(impl)
        await ask(child, 'rss') // resets the receiver's peaks
        await ask(child, 'buffered')
        const rc0 = await ask(child, 'cpu')
        const sc0 = cpuMs()
        const r = await runOnce(ports, impl, scenario)
        const sc = cpuMs() - sc0
        const rc = (await ask(child, 'cpu')) - rc0
        r.rss = (await ask(child, 'rss')) / 1048576
        r.buffered = (await ask(child, 'buffered')) / 1048576
        const def = SCENARIO_DEFS[scenario]
        const mib = (def.streams * def.bytesPerStream) / 1048576
        r.sendCpu = (sc / mib) * 1024
        r.recvCpu = (rc / mib) * 1024
        runs[i] = r
        console.log(
          `  ${scenario.padEnd(6)} ${impl.padEnd(5)} run ${i + 1}: ${r.mbps.toFixed(1)} MB/s ` +
            `(${r.secs.toFixed(2)} s, cpu ms/GiB send ${r.sendCpu.toFixed(0)} recv ${r.recvCpu.toFixed(0)}, ` +
            `receiver peak rss ${r.rss.toFixed(0)} MiB` +
            (impl.startsWith('verb') ? `, peak unread ${r.buffered.toFixed(1)} MiB)` : ')'),
        )
      }
    }
    const ours = byImpl.get('verb')
    for (const [impl, runs] of byImpl) {
      results.push({
        scenario,
        impl,
        median: median(runs.map((r) => r.mbps)),
        // verb ÷ impl run by run (the two runs of a round were back to back), then the median
        paired: ours ? median(runs.map((r, i) => ours[i].mbps / r.mbps)) : Number.NaN,
        q1: quantile(
          runs.map((r) => r.mbps),
          0.25,
        ),
        q3: quantile(
          runs.map((r) => r.mbps),
          0.75,
        ),
        sendCpu: median(runs.map((r) => r.sendCpu)),
        recvCpu: median(runs.map((r) => r.recvCpu)),
        rss: median(runs.map((r) => r.rss)),
        buffered: Math.max(...runs.map((r) => r.buffered)),
        runs: runs.map((r) => r.mbps),
      })
    }
  }
  console.log(
    '\n| scenario | impl | median MB/s | IQR MB/s | verb ÷ impl, median of per-run ratios | ratio of medians | send CPU ms/GiB | recv CPU ms/GiB | send+recv CPU ms/GiB | recv peak RSS MiB |',
  )
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of results) {
    const ours = results.find((x) => x.scenario === r.scenario && x.impl === 'verb')
    const ratio = ours ? `${(ours.median / r.median).toFixed(2)}×` : '-'
    const paired = Number.isNaN(r.paired) ? '-' : `${r.paired.toFixed(2)}×`
    console.log(
      `| ${r.scenario} | ${r.impl} | ${r.median.toFixed(0)} | ${r.q1.toFixed(0)}–${r.q3.toFixed(0)} | ` +
        `${paired} | ${ratio} | ${r.sendCpu.toFixed(0)} | ${r.recvCpu.toFixed(0)} | ` +
        `${(r.sendCpu + r.recvCpu).toFixed(0)} | ${r.rss.toFixed(0)} |`,
    )
  }
  console.log('\nruns MB/s, in run order:')
  for (const r of results) {
    console.log(`  ${r.scenario} ${r.impl}: ${r.runs.map((x) => x.toFixed(0)).join(' / ')}`)
  }
  const peak = Math.max(...results.filter((r) => r.impl === 'verb').map((r) => r.buffered))
  if (Number.isFinite(peak)) {
    console.log(
      `\nverb receiver: peak received-but-unread bytes over all sessions ${peak.toFixed(1)} MiB`,
    )
  }
  child.send('exit')
  process.exit(0)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
