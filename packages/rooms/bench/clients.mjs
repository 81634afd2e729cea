// A share of the benchmark's clients, in a process of its own (the same code drives every
// server): `node clients.mjs` with its job in process.env.JOB (JSON). Talks to run.mjs over IPC.
//
// fanout: every client sends `rounds` messages; a client may send message k once it has received
//   (k - window + 1) * (members - 1) messages, so at most ~window rounds are in flight and the
//   server, not the clients' patience, sets the pace (the uWebSockets.js N² method, pipelined).
// single: client 0 of process 0 sends `rounds` messages, paced by credit from run.mjs (the
//   slowest receiver's count plus `window`); everyone else receives.
import { connect } from 'node:net'
import { io } from 'socket.io-client'

const job = JSON.parse(process.env.JOB)
const { impl, port, count, first, members, mode, rounds, warm, window } = job
const perMessage = mode === 'fanout' ? members - 1 : 1
const expected = rounds * perMessage
const warmAt = warm * perMessage
const SAMPLE_EVERY = 8
const TYPE_AT = '{"type":"'.length
const M = 'm'.charCodeAt(0)
const now = () => performance.timeOrigin + performance.now()

const clients = []
const latencies = []
let warmClients = 0
let doneClients = 0
let credit = 0

function payload(client) {
  return { type: 'm', f: client.index, n: client.sent, t: now() }
}

class Client {
  index
  sent = 0
  received = 0
  sampled = 0
  sender
  constructor(index) {
    this.index = index
    this.sender = mode === 'fanout' || index === 0
  }
  onMessage(t) {
    this.received++
    if (t !== undefined) {
      if (this.received > warmAt) latencies.push(now() - t)
    }
    if (this.received === warmAt) warmClients++
    if (this.received === expected) doneClients++
    if (mode === 'fanout') this.pump()
  }
  wantsSample() {
    return ++this.sampled % SAMPLE_EVERY === 0
  }
  pump() {
    while (this.sent < rounds) {
      const allowed =
        mode === 'fanout'
          ? this.sent < window || this.received >= (this.sent - window + 1) * perMessage
          : this.sent < credit
      if (!allowed) return
      this.send(payload(this))
      this.sent++
    }
  }
}

// -- transports ----------------------------------------------------------------------------------

class FramedClient extends Client {
  // json-frames (verb) or newline-delimited JSON (docs): count frames, parse one in SAMPLE_EVERY.
  socket
  header = 0
  skip = 0
  at = 0
  kind = 0
  constructor(index, socket) {
    super(index)
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('data', impl === 'verb' ? (c) => this.onFramed(c) : (c) => this.onLines(c))
    socket.on('error', () => {})
  }
  send(message) {
    const json = JSON.stringify(message)
    this.socket.write(impl === 'verb' ? `${Buffer.byteLength(json)}\n${json}` : `${json}\n`)
  }
  // Only frames whose payload starts {"type":"m" count: notices (user_joined at join time)
  // would skew the counts. TYPE_AT is where that "m" sits in the payload.
  onFramed(chunk) {
    let i = 0
    while (i < chunk.length) {
      if (this.skip > 0) {
        if (this.kind === 0 && i + (TYPE_AT - this.at) < chunk.length && this.at <= TYPE_AT) {
          this.kind = chunk[i + (TYPE_AT - this.at)] === M ? 1 : 2
        }
        const take = Math.min(this.skip, chunk.length - i)
        this.skip -= take
        this.at += take
        i += take
        if (this.skip === 0 && this.kind === 1) this.onMessage(undefined)
        continue
      }
      const byte = chunk[i++]
      if (byte !== 0x0a) {
        this.header = this.header * 10 + (byte - 0x30)
        continue
      }
      const length = this.header
      this.header = 0
      if (i + length <= chunk.length) {
        if (chunk[i + TYPE_AT] === M) {
          const t = this.wantsSample()
            ? JSON.parse(chunk.toString('utf8', i, i + length)).t
            : undefined
          this.onMessage(t)
        }
        i += length
      } else {
        this.skip = length
        this.at = 0
        this.kind = 0
      }
    }
  }
  onLines(chunk) {
    let start = 0
    for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, start)) {
      // A line split across chunks is counted (the docs server sends no notices), not sampled.
      const whole = this.partial === false
      this.partial = false
      if (!whole || chunk[start + TYPE_AT] === M) {
        const t =
          whole && this.wantsSample() ? JSON.parse(chunk.toString('utf8', start, end)).t : undefined
        this.onMessage(t)
      }
      start = end + 1
    }
    if (start < chunk.length) this.partial = true
  }
  partial = false
}

class SocketIOClient extends Client {
  socket
  constructor(index, socket) {
    super(index)
    this.socket = socket
    socket.on('m', (message) => this.onMessage(this.wantsSample() ? message.t : undefined))
  }
  send(message) {
    this.socket.emit('m', message)
  }
}

function open(index) {
  if (impl === 'socketio') {
    const socket = io(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    })
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(new SocketIOClient(index, socket)))
      socket.once('connect_error', reject)
    })
  }
  const socket = connect(port, '127.0.0.1')
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(new FramedClient(index, socket)))
    socket.once('error', reject)
  })
}

// Connect in batches: a burst of thousands of SYNs overflows the listen backlog.
for (let i = 0; i < count; i += 100) {
  const batch = []
  for (let j = i; j < Math.min(count, i + 100); j++) batch.push(open(first + j))
  clients.push(...(await Promise.all(batch)))
}

let reportedWarm = false
let reportedDone = false
let lastMin = -1
function report() {
  if (!reportedWarm && warmClients === receivers()) {
    reportedWarm = true
    process.send({ type: 'warm' })
  }
  if (!reportedDone && doneClients === receivers()) {
    reportedDone = true
    process.send({ type: 'done', latencies })
  }
  if (mode === 'single') {
    let min = Number.POSITIVE_INFINITY
    for (const client of clients) if (!client.sender) min = Math.min(min, client.received)
    if (min !== lastMin) {
      lastMin = min
      process.send({ type: 'progress', min })
    }
  }
}
function receivers() {
  return mode === 'fanout' ? clients.length : clients.filter((c) => !c.sender).length
}
const timer = setInterval(report, 2)

if (process.env.DEBUG_STALL) {
  setInterval(() => {
    const r = clients.map((c) => c.received)
    console.error(
      `proc ${first}: received min ${Math.min(...r)} max ${Math.max(...r)} expected ${expected}; sent min ${Math.min(...clients.map((c) => c.sent))}`,
    )
  }, 3000).unref()
}
process.on('message', (message) => {
  if (message.type === 'start') for (const client of clients) if (client.sender) client.pump()
  if (message.type === 'credit') {
    credit = message.credit
    for (const client of clients) if (client.sender) client.pump()
  }
  if (message.type === 'exit') {
    clearInterval(timer)
    for (const client of clients) {
      if (impl === 'socketio') client.socket.disconnect()
      else client.socket.destroy()
    }
    process.exit(0)
  }
})
process.send({ type: 'ready' })
