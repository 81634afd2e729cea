// A second, deliberately small throughput harness, written apart from bench/run.mjs to check it.
// It shares no code with run.mjs or peer.mjs: one file, its own libp2p adapter, its own timing.
//
// For each implementation it forks one receiver and one sender process (this file again, with
// --child), which import only that implementation. The parent imports nothing measured. Each
// pair is warmed up, then the rounds interleave the implementations (each round rotates the
// order). Timing is taken by the RECEIVER, from the first payload byte to the last one
// (run.mjs times in the sender, from connect to the receiver's reply), so a difference in
// setup, handshake or close cost between the harnesses would show.
//
//   node bench/cross-check.mjs [--impl raw,verb,yamux,mplex] [--rounds 9] [--warmup 2]
//                              [--mib 256] [--streams 1] [--prof DIR] [--receiver-args '--trace-gc']
// --streams N sends --mib / N MiB on each of N streams (raw TCP: N sockets).
// --prof DIR writes a V8 CPU profile of every sender and receiver to DIR.

import { fork } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'

const argv = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`)
  return i === -1 ? dflt : argv[i + 1]
}
const CHUNK = 64 * 1024

if (opt('child') !== undefined) await child(opt('child'), opt('as'))
else await parent()

async function parent() {
  const impls = opt('impl', 'raw,verb,yamux,mplex').split(',')
  const rounds = Number(opt('rounds', 9))
  const warmup = Number(opt('warmup', 2))
  const streams = Number(opt('streams', 1))
  const bytes = Math.round((Number(opt('mib', 256)) * 2 ** 20) / streams)
  const prof = opt('prof')
  const spawn = (impl, as) =>
    fork(new URL(import.meta.url).pathname, ['--child', impl, '--as', as], {
      stdio: 'inherit',
      execArgv: [
        ...(prof
          ? ['--cpu-prof', `--cpu-prof-dir=${prof}/${impl}-${as}`, '--cpu-prof-interval', '100']
          : []),
        ...(as === 'receiver' ? (opt('receiver-args') ?? '').split(' ').filter(Boolean) : []),
      ],
    })
  const ask = async (proc, msg) => {
    proc.send(msg)
    const [reply] = await once(proc, 'message')
    return reply
  }
  const pairs = {}
  for (const impl of impls) {
    const receiver = spawn(impl, 'receiver')
    const sender = spawn(impl, 'sender')
    const [[{ port }]] = await Promise.all([once(receiver, 'message'), once(sender, 'spawn')])
    pairs[impl] = { receiver, sender, port }
  }
  const round = async (impl) => {
    const { receiver, sender, port } = pairs[impl]
    await ask(receiver, { expect: streams * bytes }) // acknowledged before a byte is sent
    const measured = once(receiver, 'message')
    const [[r], s] = await Promise.all([measured, ask(sender, { port, streams, bytes })])
    return {
      mbps: (streams * bytes) / r.secs / 1e6,
      cpu: (r.cpu + s.cpu) / ((streams * bytes) / 2 ** 30),
    }
  }
  for (const impl of impls) for (let i = 0; i < warmup; i++) await round(impl)
  const res = Object.fromEntries(impls.map((i) => [i, []]))
  for (let k = 0; k < rounds; k++) {
    for (let j = 0; j < impls.length; j++) {
      const impl = impls[(k + j) % impls.length]
      res[impl][k] = await round(impl)
    }
  }
  const med = (xs) => {
    const s = [...xs].sort((a, b) => a - b)
    const m = s.length >> 1
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
  }
  console.log(
    `cross-check: ${streams} stream(s), ${(streams * bytes) / 2 ** 20} MiB per round, ${rounds} rounds after ${warmup} warm-up`,
  )
  console.log(
    '| impl | median MB/s | CPU ms/GiB (send+recv) | verb ÷ impl MB/s | verb ÷ impl CPU |',
  )
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const impl of impls) {
    const rs = res[impl]
    const ours = res.verb
    const ratio = ours ? med(rs.map((r, k) => ours[k].mbps / r.mbps)).toFixed(2) : '-'
    const cpuRatio = ours ? med(rs.map((r, k) => ours[k].cpu / r.cpu)).toFixed(2) : '-'
    console.log(
      `| ${impl} | ${med(rs.map((r) => r.mbps)).toFixed(0)} | ${med(rs.map((r) => r.cpu)).toFixed(0)} | ${ratio}× | ${cpuRatio}× |`,
    )
  }
  for (const { receiver, sender } of Object.values(pairs)) {
    receiver.disconnect()
    sender.disconnect()
  }
}

// ------------------------------------------------------------------ children

async function child(impl, as) {
  process.on('disconnect', () => process.exit(0))
  const lib = await load(impl)
  const cpu = () => {
    const u = process.cpuUsage()
    return (u.user + u.system) / 1000
  }
  if (as === 'receiver') {
    let expected = 0
    let got = 0
    let t0 = 0n
    let c0 = 0
    let report
    const count = (n) => {
      if (got === 0) {
        t0 = process.hrtime.bigint()
        c0 = cpu()
      }
      got += n
      if (got === expected) {
        const secs = Number(process.hrtime.bigint() - t0) / 1e9
        report({ secs, cpu: cpu() - c0 })
      }
    }
    const server = net.createServer((socket) => lib.serve(socket, count))
    server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
    process.on('message', (m) => {
      expected = m.expect
      got = 0
      report = (r) => process.send(r)
      process.send({ ready: true })
    })
    return
  }
  const payload = Buffer.alloc(CHUNK, 7)
  process.on('message', async ({ port, streams, bytes }) => {
    const c0 = cpu()
    await lib.send(port, streams, bytes, payload)
    process.send({ cpu: cpu() - c0 })
  })
}

/** What each implementation does: serve(socket, count) on the receiver, send(...) on the sender. */
async function load(impl) {
  const connect = async (port) => {
    const s = net.connect(port, '127.0.0.1')
    await once(s, 'connect')
    s.setNoDelay(true)
    return s
  }
  // write() until it says stop, then wait for 'drain'; end; wait until the other side closes
  const pump = async (write, drain, bytes, payload) => {
    for (let left = bytes; left > 0; left -= CHUNK) {
      if (!write(left >= CHUNK ? payload : payload.subarray(0, left))) await drain()
    }
  }
  if (impl === 'raw') {
    return {
      serve(socket, count) {
        socket.on('data', (b) => count(b.length))
        socket.on('end', () => socket.end())
      },
      async send(port, streams, bytes, payload) {
        await Promise.all(
          Array.from({ length: streams }, async () => {
            const s = await connect(port)
            s.resume()
            await pump(
              (b) => s.write(b),
              () => once(s, 'drain'),
              bytes,
              payload,
            )
            s.end()
            await once(s, 'close')
          }),
        )
      },
    }
  }
  if (impl === 'verb') {
    const { createSession } = await import('../dist/index.js')
    return {
      serve(socket, count) {
        createSession(socket, { role: 'acceptor', keepAliveInterval: 0 }).on('stream', (st) => {
          st.on('data', (b) => count(b.length))
          st.on('end', () => st.end())
        })
      },
      async send(port, streams, bytes, payload) {
        const session = createSession(await connect(port), {
          role: 'dialler',
          keepAliveInterval: 0,
        })
        await Promise.all(
          Array.from({ length: streams }, async () => {
            const st = session.open('x')
            st.resume()
            const ended = once(st, 'end')
            await pump(
              (b) => st.write(b),
              () => once(st, 'drain'),
              bytes,
              payload,
            )
            st.end()
            await ended
          }),
        )
        await session.close()
      },
    }
  }
  // libp2p muxers on a plain net.Socket (Node 20 lacks Promise.withResolvers, which they call)
  Promise.withResolvers ??= () => {
    const r = {}
    r.promise = new Promise((resolve, reject) => Object.assign(r, { resolve, reject }))
    return r
  }
  const { AbstractMultiaddrConnection } = await import('@libp2p/utils')
  const { defaultLogger } = await import('@libp2p/logger')
  const { multiaddr } = await import('@multiformats/multiaddr')
  const factory =
    impl === 'yamux'
      ? (await import('@chainsafe/libp2p-yamux')).yamux({ maxInboundStreams: 4096 })()
      : (await import('@libp2p/mplex')).mplex({
          maxMessageSize: 1 << 20,
          maxUnprocessedMessageQueueSize: 64 << 20,
          disconnectThreshold: 1000,
        })()
  class Conn extends AbstractMultiaddrConnection {
    constructor(socket, direction) {
      super({
        log: defaultLogger().forComponent('x'),
        direction,
        remoteAddr: multiaddr('/ip4/127.0.0.1/tcp/1'),
        inactivityTimeout: 0,
      })
      this.s = socket
      socket.on('data', (b) => this.onData(b))
      socket.on('drain', () => this.safeDispatchEvent('drain'))
      socket.on('error', (e) => this.abort(e))
      socket.on('close', () => this.onTransportClosed())
    }
    sendData(data) {
      let ok = true
      this.s.cork()
      for (const b of data) ok = this.s.write(b)
      this.s.uncork()
      return { sentBytes: data.byteLength, canSendMore: ok }
    }
    sendReset() {
      this.s.resetAndDestroy()
    }
    async sendClose() {
      if (!this.s.destroyed) {
        this.s.end()
        await once(this.s, 'close')
      }
    }
    sendPause() {
      this.s.pause()
    }
    sendResume() {
      this.s.resume()
    }
  }
  return {
    serve(socket, count) {
      const muxer = factory.createStreamMuxer(new Conn(socket, 'inbound'))
      muxer.addEventListener('stream', ({ detail: st }) => {
        st.addEventListener('message', (e) => count(e.data.byteLength))
        st.addEventListener('remoteCloseWrite', () => st.close().catch(() => {}))
      })
    },
    async send(port, streams, bytes, payload) {
      const socket = await connect(port)
      const muxer = factory.createStreamMuxer(new Conn(socket, 'outbound'))
      await Promise.all(
        Array.from({ length: streams }, async () => {
          const st = await muxer.createStream()
          const closed = once(st, 'close')
          await pump(
            (b) => st.send(b),
            () => once(st, 'drain'),
            bytes,
            payload,
          )
          await st.close()
          await closed
        }),
      )
      await muxer.close().catch(() => {})
      socket.destroy()
    },
  }
}
